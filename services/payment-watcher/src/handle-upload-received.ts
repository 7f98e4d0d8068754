import type { Bus, StageContext } from '@reelboard/bus';
import type { RenewalQuoted, UploadReceived } from '@reelboard/contracts';
import { type ChainAsset, type WatchList, watchedEntriesOf } from './watch-list.js';

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
    /** The assets each chain lists (native null, then its tokens): a quote with offers is watched in all of them on its offers' chains. */
    assetsOf?: ((chainId: number) => readonly ChainAsset[]) | undefined;
  },
  upload: UploadReceived | RenewalQuoted,
  context: StageContext,
): Promise<void> {
  const expiresAt = Date.parse(upload.quote.expiresAt);
  // Every chain the quote offers (its own alone for a quote from before offers), each in its own watch list.
  const chainIds = [...new Set([upload.quote.chainId, ...(upload.quote.offers ?? []).map((offer) => offer.chainId)])];
  for (const chainId of chainIds) {
    const watchList = deps.watchListFor ? deps.watchListFor(chainId) : deps.watchList;
    // Money on a chain nobody watches would never be seen: the job fails loudly rather than pretend.
    if (!watchList) throw new Error(`quote of ${upload.uploadId} is on chain ${chainId}, which CHAINS does not list: it cannot be watched`);
    for (const entry of watchedEntriesOf(upload, chainId, deps.assetsOf?.(chainId))) await watchList.watch(entry, expiresAt + deps.lateWatchMs);
  }
  await deps.bus.publish('upload.expire', { uploadId: upload.uploadId }, { delayMs: Math.max(0, expiresAt - Date.now()) });
  context.log.info('awaiting payment', { amount: upload.quote.amount, token: upload.quote.token, to: upload.quote.to, expiresAt: upload.quote.expiresAt });
}
