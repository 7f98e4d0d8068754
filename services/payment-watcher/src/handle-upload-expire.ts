import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RetryLaterError, type Bus, type StageContext } from '@reelboard/bus';
import type { UploadExpire } from '@reelboard/contracts';
import type { Uploads } from '@reelboard/lifecycle';
import { watchedQuoteOf, type WatchList } from './watch-list.js';

export interface UploadExpireDeps {
  bus: Bus;
  uploads: Uploads;
  watchList: WatchList;
  chainId: number;
  stagingDir: string;
  pollIntervalMs: number;
  /** The longest an expiry waits past the deadline for the block passes to reach it. */
  maxDelayMs: number;
}

/**
 * At the quote's deadline an unpaid upload ends: `expired` if its deposit address received nothing,
 * `refund_due` if it received part of the price (that part goes to the ledger as due back). It first
 * waits (up to `maxDelayMs`) until the block passes have settled every block up to the deadline, so a
 * payment made in time always makes the upload paid instead.
 */
export async function handleUploadExpire(deps: UploadExpireDeps, { uploadId }: UploadExpire, context: StageContext): Promise<void> {
  const { uploads, watchList } = deps;
  // An upload's quote or a renewal's: they expire alike (a renewal has nothing staged to remove).
  const upload = await uploads.quoteOf(uploadId);
  if (!upload) return;
  const quote = watchedQuoteOf(upload);
  const closeOwed = async () => {
    await deps.bus.publish('payment.credited', { kind: 'closed', uploadId, chainId: deps.chainId, address: quote.address, outcome: 'expired' });
    await rm(join(deps.stagingDir, uploadId), { recursive: true, force: true });
  };
  const state = await uploads.state(uploadId);
  // A retry after the upload already ended owing a refund finishes what that run began.
  if (state === 'refund_due') return closeOwed();
  if (state !== 'awaiting_payment') return;
  const deadline = Date.parse(upload.quote.expiresAt);
  const cursor = await watchList.cursor();
  if (Date.now() < deadline + deps.maxDelayMs) {
    if (!cursor || cursor.time < deadline) {
      context.log.info('expiry waits for the block passes to reach the deadline');
      throw new RetryLaterError(deps.pollIntervalMs, 'the deposit watcher has not reached the deadline yet');
    }
    // The owner hears what became of each hash they sent before the upload ends (hints are decided at the deadline).
    if ((await uploads.followedHints(uploadId)) > 0) {
      context.log.info('expiry waits for hinted transactions to be decided');
      throw new RetryLaterError(deps.pollIntervalMs, 'a hinted transaction is still being checked');
    }
  }
  const [received = 0n] = await watchList.credited([quote.address]);
  const ended =
    received > 0n
      ? await uploads.transition(uploadId, 'expireOwingRefund', { stage: 'payment-watcher', reason: `received ${received} of ${quote.amount} before the quote expired; recorded for refund` })
      : await uploads.transition(uploadId, 'expire', { stage: 'payment-watcher', reason: 'not paid before the quote expired' });
  if (!ended.moved) {
    context.log.info('upload was paid meanwhile; not expiring', { state: ended.state });
    return;
  }
  if (received > 0n) await closeOwed();
  else await rm(join(deps.stagingDir, uploadId), { recursive: true, force: true });
  context.log.info('upload expired', { received: received.toString() });
}
