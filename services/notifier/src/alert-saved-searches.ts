import type { Bus } from '@reelboard/bus';
import type { PushJob, PushMessage, SavedSearchJob } from '@reelboard/contracts';
import {
  findListing,
  forgetSavedSearchAlert,
  type Knex,
  pushSubscriptionsOf,
  recordSavedSearchAlert,
  type SavedSearch,
  savedSearchesMatching,
} from '@reelboard/db';
import type { Logger } from '@reelboard/logger';

export interface SavedSearchAlertAdapters {
  db: Knex;
  /** Adds the `notify.push` jobs (their ids come from the queue table's row). */
  bus: Pick<Bus, 'publish'>;
  log: Logger;
  /** Where the alert's link points (the gateway's public origin). */
  publicUrl: string;
}

/** The event name alerts carry, for the service worker and the logs (no status event has it). */
export const SAVED_SEARCH_EVENT = 'saved-search.match';

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** The push message announcing a listing to one saved search: its title, price and the search's name; nothing else. */
export function savedSearchMessage(
  listing: { id: string; title: string; price: { amount: string; currency: string } | null },
  search: Pick<SavedSearch, 'name'>,
  publicUrl: string,
): PushMessage {
  const price = listing.price ? ` · ${listing.price.amount} ${listing.price.currency}` : '';
  return {
    title: `New: ${clip(listing.title, 80)}${price}`,
    body: `It matches your saved search "${clip(search.name, 80)}". Stop these alerts under Saved searches.`,
    url: `${publicUrl.replace(/\/$/, '')}/listings/${listing.id}`,
    tag: `saved-search.${listing.id}`,
    event: SAVED_SEARCH_EVENT,
    // Alerts are not status events: seq 0 never meets an event's (from 1), so their push job ids never collide.
    seq: 0,
  };
}

/**
 * Matches a just-approved listing against every saved search (but its seller's) and queues one push
 * per browser of each owner whose search matches and was not told of it yet. The alert row is written
 * before the pushes are queued, and taken back if queueing fails, so a retry neither loses nor doubles
 * an alert; two matching searches of one wallet give one push per browser (the push job id is the listing's).
 */
export async function alertSavedSearches(
  job: SavedSearchJob,
  { db, bus, log, publicUrl }: SavedSearchAlertAdapters,
): Promise<{ alerted: number; pushes: number }> {
  const listing = await findListing(db, job.listingId);
  // Withdrawn, held or removed since its approval: nobody is sent to a page that shows nothing.
  if (!listing) return { alerted: 0, pushes: 0 };
  const matches = await savedSearchesMatching(db, listing.id, listing.owner.walletAddress);
  let alerted = 0;
  let pushes = 0;
  for (const search of matches) {
    if (!(await recordSavedSearchAlert(db, search.id, listing.id))) continue;
    const message = savedSearchMessage(listing, search, publicUrl);
    try {
      for (const subscription of await pushSubscriptionsOf(db, search.walletAddress)) {
        const push: PushJob = { subscriptionId: subscription.id, uploadId: listing.id, message };
        await bus.publish('notify.push', push);
        pushes += 1;
      }
    } catch (error) {
      await forgetSavedSearchAlert(db, search.id, listing.id);
      throw error;
    }
    alerted += 1;
  }
  log.info('saved searches matched', { listingId: listing.id, matched: matches.length, alerted, pushes });
  return { alerted, pushes };
}
