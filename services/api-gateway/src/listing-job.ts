import type { Bus, StageHandler } from '@reelboard/bus';
import { claimExpiredListings, type Knex, listingsWithObjectsDue, markObjectsDeleted } from '@reelboard/db';
import { errorFields, type Logger } from '@reelboard/logger';
import type { ObjectStorage } from '@reelboard/storage';
import { deleteObjects } from './use-cases/listing-life.js';

export interface ListingJobDeps {
  db: Knex;
  storage: ObjectStorage;
  bus: Bus;
  log: Logger;
  /** How long a rejected listing keeps its objects (REJECTED_OBJECTS_DELETE_AFTER_HOURS). */
  rejectedObjectsMs: number;
  /** Most listings handled per kind and run. */
  batch?: number;
}

export interface ListingJobResult {
  expired: number;
  objectsDeleted: number;
  deleteFailures: number;
}

/**
 * One run of the listing job:
 * - listings whose paid period ended (already hidden by the read side at query time) are marked and
 *   their owners told: `listing.expired` on the listing's status (the notifier pushes it);
 * - S3 objects that are due go: a removed listing's (when the removal could not delete them) and a
 *   rejected listing's once REJECTED_OBJECTS_DELETE_AFTER_HOURS have passed. A failure is retried next run.
 */
export async function runListingJob(deps: ListingJobDeps, now = Date.now()): Promise<ListingJobResult> {
  const batch = deps.batch ?? 200;
  const expired = await claimExpiredListings(deps.db, batch, async (items) => {
    for (const item of items) {
      await deps.bus.status.publish({
        uploadId: item.listingId,
        event: 'listing.expired',
        stage: 'api-gateway',
        state: 'saved',
        message: `expired at ${item.expiresAt}; renew it to show it again`,
      });
    }
  });
  let objectsDeleted = 0;
  let deleteFailures = 0;
  for (const due of await listingsWithObjectsDue(deps.db, { rejectedBefore: new Date(now - deps.rejectedObjectsMs), limit: batch })) {
    try {
      await deleteObjects(deps.storage, due.keys);
      await markObjectsDeleted(deps.db, due.listingId, due.keys);
      objectsDeleted += 1;
    } catch (error) {
      deleteFailures += 1;
      deps.log.warn("deleting a listing's objects failed; next run tries again", { listingId: due.listingId, ...errorFields(error) });
    }
  }
  return { expired: expired.length, objectsDeleted, deleteFailures };
}

/**
 * The `listings.maintenance` consumer: one run. Its jobs come from the row's job scheduler (Bus.schedule
 * every LISTING_JOB_INTERVAL_SECONDS), one per slot however many gateway replicas run.
 */
export function handleListingJob(deps: ListingJobDeps): StageHandler<'listings.maintenance'> {
  return async () => {
    const result = await runListingJob(deps);
    if (result.expired || result.objectsDeleted || result.deleteFailures) deps.log.info('listing job ran', { ...result });
    return result;
  };
}
