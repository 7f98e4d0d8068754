import { erc20Abi, type PublicClient, parseEventLogs } from 'viem';
import { PermanentError, RetryLaterError, type StageContext } from '@reelboard/bus';
import type { PaymentSubmitted } from '@reelboard/contracts';
import type { Uploads } from '@reelboard/lifecycle';
import { checkHint } from './check-hint.js';
import type { DepositWatcher } from './deposit-watcher.js';
import { countHint } from './metrics.js';
import { type ChainAsset, type WatchedQuote, watchedEntriesOf } from './watch-list.js';

/** One chain as a hint is checked on it: its client, its deposit watcher (reads and settles), and its confirmation policy. */
export interface HintChain {
  chain: PublicClient;
  watcher: DepositWatcher;
  confirmations: number;
  pollIntervalMs: number;
}

export interface PaymentSubmittedDeps extends HintChain {
  uploads: Uploads;
  /** The chain of `chain` and `watcher`, where a hint naming no chain is checked; unset: the quote's own chain. */
  chainId?: number | undefined;
  /** Any other offered chain of CHAINS, for a hint that names it; undefined where none is configured. */
  otherChain?: ((chainId: number) => Promise<HintChain | undefined>) | undefined;
  /** The assets each chain lists (native null, then its tokens): a hinted transaction may have paid any of them. */
  assetsOf?: ((chainId: number) => readonly ChainAsset[]) | undefined;
}

/** The longest a hash not yet mined waits between two looks (a node does not show it sooner for being asked more). */
const HINT_MAX_POLL_MS = 30_000;

/**
 * When to look at a hinted transaction again: every poll interval while it gathers confirmations (they
 * come with blocks); otherwise backing off (doubling per look, up to 30 s), yet never sleeping far past
 * the quote's deadline, where a hash not mined is decided.
 */
export function hintPollDelay(pollIntervalMs: number, expiresAt: string, looks: number, now = Date.now()): number {
  if (looks <= 1) return pollIntervalMs;
  const backedOff = Math.min(pollIntervalMs * 2 ** Math.min(looks - 1, 16), HINT_MAX_POLL_MS);
  const untilDeadline = Date.parse(expiresAt) - now + pollIntervalMs;
  return Math.max(pollIntervalMs, untilDeadline > 0 ? Math.min(backedOff, untilDeadline) : backedOff);
}

/**
 * A client's tx hash: a fast-path hint. Once it is confirmed, the upload's deposit address is read
 * at once at the transaction's block (rather than at the next block pass) and settled like any credit.
 * The hash only tells the owner what happened to that transaction; the balance decides what was paid.
 */
export async function handlePaymentSubmitted(deps: PaymentSubmittedDeps, payload: PaymentSubmitted, context: StageContext): Promise<void> {
  const { uploadId, txHash } = payload;
  const { uploads } = deps;
  // An upload's quote or a renewal's: a hint is checked the same way for both.
  const upload = await uploads.quoteOf(uploadId);
  if (!upload) throw new PermanentError(`upload ${uploadId} is unknown`, 'unknown_upload');
  // The chain the client paid on (the offer it chose); an older client names none: the quote's own chain.
  const chainId = payload.chainId ?? upload.quote.chainId;
  // Every (chain, asset) of the quote on that chain, offered or not: money in any of them is settled as a pass would.
  const entries = watchedEntriesOf(upload, chainId, deps.assetsOf?.(chainId));
  const on = chainId === (deps.chainId ?? upload.quote.chainId) ? deps : entries.length > 0 ? await deps.otherChain?.(chainId) : undefined;
  if (!on || entries.length === 0) {
    // The gateway refuses a chain the quote does not offer; a payload from elsewhere is decided here, never retried.
    await uploads.unfollowHint(uploadId, txHash);
    countHint('no_payment');
    await context.status('payment.rejected', {
      reason: `transaction ${txHash} is on chain ${chainId}, which ${entries.length === 0 ? 'this quote does not offer' : 'this watcher has no RPC for'}; pay one of the quote's offers`,
      code: 'no_payment',
    });
    return;
  }
  const { chain, watcher } = on;
  // Confirmed as the block passes confirm (CONFIRMATION_POLICY: a depth, or the node's safe / finalized block).
  const check = await checkHint(chain, { txHash, confirmations: on.confirmations, confirmedHeight: await watcher.confirmedHeight() });
  if (check.outcome === 'pending') {
    // Past the deadline a transaction not even mined cannot pay the upload in time: the hint is decided
    // (if it is mined later, the deposit watcher still records what it brings, as late), and the
    // expiry, which waits for hints being checked, may go on.
    if (check.code !== 'confirming' && Date.now() > Date.parse(upload.quote.expiresAt)) {
      countHint('not_found');
      await uploads.unfollowHint(uploadId, txHash);
      const reason =
        check.code === 'not_seen' ? `transaction ${txHash} was never seen on chain` : `transaction ${txHash} was not mined before the quote expired`;
      await context.status('payment.rejected', { reason, code: check.code === 'not_seen' ? 'not_found' : 'not_mined' });
      return;
    }
    if (check.code !== 'not_seen') await context.status('progress', { message: `payment ${txHash}: ${check.reason}` });
    throw new RetryLaterError(
      hintPollDelay(on.pollIntervalMs, upload.quote.expiresAt, check.code === 'confirming' ? 0 : await uploads.countHintCheck(uploadId, txHash)),
      check.reason,
    );
  }
  await uploads.unfollowHint(uploadId, txHash);
  if (check.outcome === 'reverted') {
    countHint('reverted');
    await context.status('payment.rejected', { reason: check.reason, code: 'reverted' });
    return;
  }
  const [before, after] = await Promise.all([watcher.totalsAt(entries, check.blockNumber - 1n), watcher.totalsAt(entries, check.blockNumber)]);
  const gained = entries.filter((_, i) => (after[i] ?? 0n) > (before[i] ?? 0n));
  if (gained.length === 0) {
    countHint('no_payment');
    await context.status('payment.rejected', {
      reason: `transaction ${txHash} sent nothing to this upload's deposit address ${upload.quote.to} on chain ${chainId}; pay that address (from any wallet)`,
      code: 'no_payment',
    });
    return;
  }
  countHint('credited');
  const known = await watcher.knownTotals(entries);
  for (const [i, quote] of entries.entries()) {
    const total = after[i] ?? 0n;
    const previous = before[i] ?? 0n;
    const credited = known[i] ?? 0n;
    // Judged at the transaction's own block, as a pass would: a payment mined before the deadline is in
    // time however late its confirmations come. Only the total at that block is settled, and only when
    // everything before it is already credited: money that arrived earlier or later is left to the
    // passes, which judge block by block, so the credited mark never skips a total they must judge.
    if (total <= previous || total <= credited || previous > credited) continue;
    // What the address gained in the hash's block is attributed to the hash's sender only where the
    // transaction's own transfer is that whole gain: money beside it (a contract wallet's internal
    // payment in the same block) must not be claimed by hinting 1 wei sent next to it.
    const shown = await transferShownBy(chain, txHash, quote);
    const transfers =
      shown && shown.amount === total - previous ? [{ txHash, logIndex: shown.logIndex, from: shown.from, amount: (total - previous).toString() }] : [];
    await watcher.settle(quote, total, {
      fromBlock: check.blockNumber,
      toBlock: check.blockNumber,
      blockTime: await watcher.blockTime(check.blockNumber),
      transfers,
    });
  }
  context.log.info('payment hint checked', { txHash, chainId, block: check.blockNumber.toString() });
}

const lower = (address: string) => address.toLowerCase() as `0x${string}`;

/**
 * The transfer a transaction itself shows to the quote's deposit address, in the quoted asset: its
 * top-level value, or its one Transfer log of the token; undefined where it shows none (an internal
 * payment) or several.
 */
async function transferShownBy(
  chain: PublicClient,
  txHash: `0x${string}`,
  quote: Pick<WatchedQuote, 'address' | 'token'>,
): Promise<{ from: `0x${string}`; logIndex: number | null; amount: bigint } | undefined> {
  if (quote.token === null) {
    const tx = await chain.getTransaction({ hash: txHash });
    return tx.to && lower(tx.to) === lower(quote.address) ? { from: lower(tx.from), logIndex: null, amount: tx.value } : undefined;
  }
  const receipt = await chain.getTransactionReceipt({ hash: txHash });
  const token = lower(quote.token);
  const logs = parseEventLogs({ abi: erc20Abi, eventName: 'Transfer', logs: receipt.logs.filter((log) => lower(log.address) === token), strict: false }).filter(
    (log) => log.args.to !== undefined && lower(log.args.to) === lower(quote.address),
  );
  const [only] = logs;
  if (logs.length !== 1 || !only?.args.from || only.args.value === undefined) return undefined;
  return { from: lower(only.args.from), logIndex: only.logIndex, amount: only.args.value };
}
