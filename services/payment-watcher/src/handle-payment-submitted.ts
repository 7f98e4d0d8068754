import type { PublicClient } from 'viem';
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
    // The hash is attributed with what the address gained in its block (the chain shows no amount for an internal transfer).
    const gained = (after[0] ?? 0n) - (before[0] ?? 0n);
    const transfers = [{ txHash, logIndex: null, from: check.from.toLowerCase() as `0x${string}`, amount: gained.toString() }];
    await watcher.settle(quote, now[0] ?? 0n, { fromBlock: check.blockNumber, toBlock: height, blockTime: await watcher.blockTime(height), transfers });
  }
  context.log.info('payment hint checked', { txHash, block: check.blockNumber.toString() });
}
