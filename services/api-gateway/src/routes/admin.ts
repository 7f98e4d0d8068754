import { Router } from 'express';
import { api } from '@reelboard/api';
import { type Knex, listRevisions, type RefundChainReader } from '@reelboard/db';
import type { PipelineBus, Uploads } from '@reelboard/lifecycle';
import type { Logger } from '@reelboard/logger';
import type { ObjectStorage } from '@reelboard/storage';
import { removeAndDelete } from '../use-cases/listing-life.js';
import { decideListing, decideOnRevision } from '../use-cases/moderation.js';
import { adminPaymentRoutes } from './admin-payments.js';
import type { Bind } from './bind.js';
import { searchPage } from './listings.js';

export interface AdminRoutesDeps {
  bind: Bind;
  db: Knex;
  storage: ObjectStorage;
  bus: PipelineBus;
  uploads: Uploads;
  log: Logger;
  /** Days an approval runs a listing (LISTING_DAYS). */
  listingDays?: number;
  /** Where refunds are verified: the chain reader and the confirmations a refund needs. */
  refunds: { chain: RefundChainReader; confirmations: number };
}

/**
 * Moderation (the queue of listings by status, approve/reject) and the payment ledger (what is due
 * back, refunds), each decision audited and sent to the owner.
 */
export function adminRoutes(deps: AdminRoutesDeps): Router {
  const { bind, db, storage, log } = deps;
  const router = Router();

  bind(router, api.listModeration).to(async ({ query }) => ({
    status: 200,
    headers: { 'cache-control': 'no-store' },
    body: await searchPage(db, storage, { status: query.status, limit: query.limit, cursor: query.cursor }),
  }));

  bind(router, api.approveListing).to(async ({ params, body, caller }) => ({
    status: 200,
    body: await decideListing(deps, { action: 'approve', listingId: params.id, actor: caller.actor, reason: body.reason || undefined }),
  }));
  bind(router, api.rejectListing).to(async ({ params, body, caller }) => ({
    status: 200,
    body: await decideListing(deps, { action: 'reject', listingId: params.id, actor: caller.actor, reason: body.reason }),
  }));

  // An admin takes a listing down: gone from every read route, its S3 objects deleted, payments and audit kept.
  bind(router, api.adminRemoveListing).to(async ({ params, body, caller }) => ({
    status: 200,
    body: await removeAndDelete(deps, { listingId: params.id, actor: caller.actor, reason: body.reason }),
  }));

  // Revisions (edits of approved listings, profile edits): each shown as a diff against the public version.
  bind(router, api.listRevisions).to(async ({ query }) => ({
    status: 200,
    headers: { 'cache-control': 'no-store' },
    body: {
      items: await Promise.all(
        (await listRevisions(db, { status: query.status, limit: query.limit })).map(async (item) => ({
          ...item,
          owner: item.owner as `0x${string}`,
          diff: await Promise.all(item.diff.map((entry) => (entry.field === 'logoKey' ? withLogoUrls(storage, entry) : entry))),
        })),
      ),
    },
  }));
  bind(router, api.approveRevision).to(async ({ params, body, caller }) => ({
    status: 200,
    body: await decideOnRevision(deps, { action: 'approve', revisionId: params.id, actor: caller.actor, reason: body.reason || undefined }),
  }));
  bind(router, api.rejectRevision).to(async ({ params, body, caller }) => ({
    status: 200,
    body: await decideOnRevision(deps, { action: 'reject', revisionId: params.id, actor: caller.actor, reason: body.reason }),
  }));
  router.use(adminPaymentRoutes({ bind, db, uploads: deps.uploads, log, ...deps.refunds }));
  return router;
}

/** A logo change in a revision's diff, with image URLs beside its object keys, so a moderator sees the images. */
async function withLogoUrls<T extends { public: unknown; proposed: unknown }>(
  storage: ObjectStorage,
  entry: T,
): Promise<T & { publicUrl: string | null; proposedUrl: string | null }> {
  const url = (key: unknown) => (typeof key === 'string' && key ? storage.urlFor(key) : Promise.resolve(null));
  const [publicUrl, proposedUrl] = await Promise.all([url(entry.public), url(entry.proposed)]);
  return { ...entry, publicUrl, proposedUrl };
}
