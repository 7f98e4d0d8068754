import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Bus, RetryLaterError, type StageContext } from '@reelboard/bus';
import type { UploadExpire } from '@reelboard/contracts';
import type { Uploads } from '@reelboard/lifecycle';
import { type ChainAsset, creditKeyOf, type WatchList, watchedEntriesOf, watchedQuoteOf } from './watch-list.js';

export interface UploadExpireDeps {
  bus: Bus;
  uploads: Uploads;
  watchList: WatchList;
  chainId: number;
  /** The watch list of each configured chain; without it every quote is looked up in `watchList` (of `chainId`). */
  watchListFor?: ((chainId: number) => WatchList | undefined) | undefined;
  /** Every configured chain's watch list, searched for a quote Redis lost the upload of. */
  watchLists?: readonly WatchList[] | undefined;
  stagingDir: string;
  pollIntervalMs: number;
  /** The assets each chain lists (native null, then its tokens): a quote's offers are watched in them all. */
  assetsOf?: ((chainId: number) => readonly ChainAsset[]) | undefined;
}

/**
 * At the quote's deadline an unpaid upload ends: `expired` if its deposit address received nothing,
 * `refund_due` if it received part of the price (that part goes to the ledger as due back). It first
 * waits until the block passes have settled every block up to the deadline, however long that takes
 * (an RPC outage, a node that cannot serve old state): a payment made in time always makes the upload
 * paid instead. A stalled watcher shows as scan lag (a metric and an alert), never as an expiry.
 * A quote whose upload Redis lost (the watch set rebuilt from the ledger knows it) is closed the same
 * way, so what it received becomes due back.
 */
export async function handleUploadExpire(deps: UploadExpireDeps, { uploadId }: UploadExpire, context: StageContext): Promise<void> {
  const { uploads } = deps;
  // An upload's quote or a renewal's: they expire alike (a renewal has nothing staged to remove).
  const upload = await uploads.quoteOf(uploadId);
  // Each chain's passes have their own cursor: the quote's chain is the one whose passes must reach the deadline.
  let watchList: WatchList | undefined = upload ? (deps.watchListFor ? deps.watchListFor(upload.quote.chainId) : deps.watchList) : undefined;
  let quote = upload ? watchedQuoteOf(upload) : undefined;
  if (!upload) {
    for (const list of deps.watchLists ?? [deps.watchList]) {
      quote = await list.quote(uploadId);
      if (quote) {
        watchList = list;
        break;
      }
    }
  }
  if (!quote) return;
  if (!watchList) throw new Error(`quote of ${uploadId} is on chain ${upload?.quote.chainId}, which CHAINS does not list: its expiry cannot be judged`);
  const chainId = upload?.quote.chainId ?? watchList.chainId ?? deps.chainId;
  const address = quote.address;
  const closeOwed = async () => {
    await deps.bus.publish('payment.credited', { kind: 'closed', uploadId, chainId, address, outcome: 'expired' });
    await rm(join(deps.stagingDir, uploadId), { recursive: true, force: true });
  };
  const state = await uploads.state(uploadId);
  // A retry after the upload already ended owing a refund finishes what that run began.
  if (state === 'refund_due') return closeOwed();
  if (state !== 'awaiting_payment' && state !== undefined) return;
  const deadline = Date.parse(quote.expiresAt);
  // A quote with offers on other chains waits for each of those chains' passes too, and counts what any of its assets received.
  const others = (upload?.quote.offers ?? [])
    .map((offer) => offer.chainId)
    .filter((id, i, all) => id !== upload?.quote.chainId && all.indexOf(id) === i)
    .map((id) => ({ id, list: deps.watchListFor?.(id) }));
  for (const list of [watchList, ...others.map((o) => o.list).filter((l): l is WatchList => l !== undefined)]) {
    const cursor = await list.cursor();
    if (!cursor || cursor.time < deadline) {
      context.log.info('expiry waits for the block passes to reach the deadline', { lagMs: cursor ? Date.now() - cursor.time : null, chainId: list.chainId });
      throw new RetryLaterError(deps.pollIntervalMs, 'the deposit watcher has not reached the deadline yet');
    }
  }
  if (state === undefined) {
    // Redis lost the upload: nothing can make it paid any more, and whatever its address received is due back.
    await closeOwed();
    context.log.warn('quote of an upload Redis no longer knows closed at its deadline; what it received is due back', { address: quote.address });
    return;
  }
  // The owner hears what became of each hash they sent before the upload ends (hints are decided at the deadline).
  if ((await uploads.followedHints(uploadId)) > 0) {
    context.log.info('expiry waits for hinted transactions to be decided');
    throw new RetryLaterError(deps.pollIntervalMs, 'a hinted transaction is still being checked');
  }
  const [received = 0n] = await watchList.credited([quote.address]);
  let elsewhere = false;
  if (upload?.quote.offers) {
    // Anything in any (chain, asset) of the quote makes it owe a refund (never one sum: each asset's own total is in the ledger).
    for (const { id, list } of [{ id: upload.quote.chainId, list: watchList }, ...others]) {
      const entries = watchedEntriesOf(upload, id, deps.assetsOf?.(id)).filter((e) => e.entry !== undefined);
      if (!list || entries.length === 0) continue;
      if ((await list.credited(entries.map(creditKeyOf))).some((total) => total > 0n)) elsewhere = true;
    }
  }
  const owed = received > 0n || elsewhere;
  const ended = owed
    ? await uploads.transition(uploadId, 'expireOwingRefund', {
        stage: 'payment-watcher',
        reason:
          received > 0n
            ? `received ${received} of ${quote.amount} before the quote expired; recorded for refund`
            : 'money reached the payment address in another coin or network of the quote before it expired, short of its price; recorded for refund',
      })
    : await uploads.transition(uploadId, 'expire', { stage: 'payment-watcher', reason: 'not paid before the quote expired' });
  if (!ended.moved) {
    context.log.info('upload was paid meanwhile; not expiring', { state: ended.state });
    return;
  }
  if (owed) await closeOwed();
  else await rm(join(deps.stagingDir, uploadId), { recursive: true, force: true });
  context.log.info('upload expired', { received: received.toString() });
}
