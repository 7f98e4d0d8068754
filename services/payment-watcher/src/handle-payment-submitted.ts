import { erc20Abi, parseEventLogs, type PublicClient } from 'viem';
import { PermanentError, RetryLaterError, type StageContext } from '@reelboard/bus';
import type { PaymentSubmitted } from '@reelboard/contracts';
import type { Uploads } from '@reelboard/lifecycle';
import { checkHint } from './check-hint.js';
import type { DepositWatcher } from './deposit-watcher.js';
import { countHint } from './metrics.js';
import { watchedQuoteOf } from './watch-list.js';

export interface PaymentSubmittedDeps {
  uploads: Uploads;
  chain: PublicClient;
  watcher: DepositWatcher;
  confirmations: number;
  pollIntervalMs: number;
}

/**
 * A client's tx hash: a fast-path hint. Once it is confirmed, the upload's deposit address is read
 * at once at the confirmed height (rather than at the next block pass) and settled like any credit.
 * The hash only tells the owner what happened to that transaction; the balance decides what was paid.
 */
export async function handlePaymentSubmitted(deps: PaymentSubmittedDeps, { uploadId, txHash }: PaymentSubmitted, context: StageContext): Promise<void> {
  const { uploads, chain, watcher } = deps;
  // An upload's quote or a renewal's: a hint is checked the same way for both.
  const upload = await uploads.quoteOf(uploadId);
  if (!upload) throw new PermanentError(`upload ${uploadId} is unknown`, 'unknown_upload');
  const check = await checkHint(chain, { txHash, confirmations: deps.confirmations });
  if (check.outcome === 'pending') {
    // Past the deadline a transaction not even mined cannot pay the upload in time: the hint is decided
    // (if it is mined later, the deposit watcher still records what it brings, as late), and the
    // expiry, which waits for hints being checked, may go on.
    if (check.code !== 'confirming' && Date.now() > Date.parse(upload.quote.expiresAt)) {
      countHint('not_found');
      await uploads.unfollowHint(uploadId, txHash);
      const reason = check.code === 'not_seen' ? `transaction ${txHash} was never seen on chain` : `transaction ${txHash} was not mined before the quote expired`;
      await context.status('payment.rejected', { reason, message: check.code === 'not_seen' ? 'not_found' : 'not_mined' });
      return;
    }
    if (check.code !== 'not_seen') await context.status('progress', { message: `payment ${txHash}: ${check.reason}` });
    throw new RetryLaterError(deps.pollIntervalMs, check.reason);
  }
  await uploads.unfollowHint(uploadId, txHash);
  if (check.outcome === 'reverted') {
    countHint('reverted');
    await context.status('payment.rejected', { reason: check.reason, message: 'reverted' });
    return;
  }
  const quote = watchedQuoteOf(upload);
  const height = await watcher.confirmedHeight();
  const [before, after, now] = await Promise.all([
    watcher.totalsAt([quote], check.blockNumber - 1n),
    watcher.totalsAt([quote], check.blockNumber),
    watcher.totalsAt([quote], height),
  ]);
  if ((after[0] ?? 0n) <= (before[0] ?? 0n)) {
    countHint('no_payment');
    await context.status('payment.rejected', {
      reason: `transaction ${txHash} sent nothing to this upload's deposit address ${quote.address}; pay that address (from any wallet)`,
      message: 'no_payment',
    });
    return;
  }
  countHint('credited');
  const [known] = await watcher.knownTotals([quote]);
  if ((now[0] ?? 0n) > (known ?? 0n)) {
    // What the address gained in the hash's block is attributed to the hash's sender only where the
    // transaction's own transfer is that whole gain: money beside it (a contract wallet's internal
    // payment in the same block) must not be claimed by hinting 1 wei sent next to it.
    const gained = (after[0] ?? 0n) - (before[0] ?? 0n);
    const shown = await transferShownBy(chain, txHash, quote);
    const transfers = shown && shown.amount === gained ? [{ txHash, logIndex: shown.logIndex, from: shown.from, amount: gained.toString() }] : [];
    await watcher.settle(quote, now[0] ?? 0n, { fromBlock: check.blockNumber, toBlock: height, blockTime: await watcher.blockTime(height), transfers });
  }
  context.log.info('payment hint checked', { txHash, block: check.blockNumber.toString() });
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
  quote: { address: `0x${string}`; token: `0x${string}` | null },
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
