import type { Bus, StageContext } from '@reelboard/bus';
import type { RenewalQuoted, UploadReceived } from '@reelboard/contracts';
import { type WatchList, watchedQuoteOf } from './watch-list.js';

/**
 * An upload (or a renewal: `renewal.quoted`, the same steps) now waits for its payment: its deposit address is watched (until `lateWatchMs` after
 * the quote expires, so late money is still recorded), and its expiry is scheduled at the deadline.
 */
export async function handleUploadReceived(
  deps: {
    bus: Bus;
    watchList: WatchList;
    lateWatchMs: number;
    /** The watch list of each configured chain; without it every quote goes to `watchList`. */
    watchListFor?: ((chainId: number) => WatchList | undefined) | undefined;
  },
  upload: UploadReceived | RenewalQuoted,
  context: StageContext,
): Promise<void> {
  const expiresAt = Date.parse(upload.quote.expiresAt);
  const watchList = deps.watchListFor ? deps.watchListFor(upload.quote.chainId) : deps.watchList;
  // Money on a chain nobody watches would never be seen: the job fails loudly rather than pretend.
  if (!watchList) throw new Error(`quote of ${upload.uploadId} is on chain ${upload.quote.chainId}, which CHAINS does not list: it cannot be watched`);
  await watchList.watch(watchedQuoteOf(upload), expiresAt + deps.lateWatchMs);
  await deps.bus.publish('upload.expire', { uploadId: upload.uploadId }, { delayMs: Math.max(0, expiresAt - Date.now()) });
  context.log.info('awaiting payment', { amount: upload.quote.amount, token: upload.quote.token, to: upload.quote.to, expiresAt: upload.quote.expiresAt });
}
