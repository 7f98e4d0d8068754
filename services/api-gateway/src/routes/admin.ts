import { Router } from 'express';
import type { Bus } from '@reelboard/bus';
import { PROFILE_MODERATION_STAGE } from '@reelboard/contracts';
import {
  decideRevision,
  listRevisions,
  moderateListing,
  type Knex,
  type ModerationAction,
} from '@reelboard/db';
import type { Logger } from '@reelboard/logger';
import type { ObjectStorage } from '@reelboard/storage';
import type { Uploads } from '@reelboard/lifecycle';
import { api } from '@reelboard/api';
import { adminPaymentRoutes } from './admin-payments.js';
import type { Bind } from './bind.js';
import { searchPage } from './listings.js';
import { deleteUnreferencedLogos, removeAndDelete } from '../use-cases/listing-life.js';

export interface AdminRoutesDeps {
  bind: Bind;
  db: Knex;
  storage: ObjectStorage;
  bus: Bus;
  uploads: Uploads;
  log: Logger;
  /** Days an approval runs a listing (LISTING_DAYS). */
  listingDays?: number;
}

/**
 * Moderation (the queue of listings by status, approve/reject) and the payment ledger (what is due
 * back, refunds), each decision audited and sent to the owner.
 */
export function adminRoutes(deps: AdminRoutesDeps): Router {
  const { bind, db, storage, bus, log } = deps;
  const router = Router();

  bind(router, api.listModeration).to(async ({ query }) => ({
    status: 200,
    headers: { 'cache-control': 'no-store' },
    body: await searchPage(db, storage, { status: query.status, limit: query.limit, cursor: query.cursor }),
  }));

  const decide = async (action: ModerationAction, listingId: string, actor: string, reason: string | undefined) => {
    const outcome = await moderateListing(db, { listingId: listingId.toLowerCase(), actor, action, reason, listingDays: deps.listingDays });
    // The listing id is the upload id: the owner's status stream and `GET /v1/me/uploads` show it.
    await bus.status.publish({
      uploadId: outcome.listingId,
      event: action === 'approve' ? 'moderation.approved' : 'moderation.rejected',
      stage: 'moderation',
      state: 'saved',
      ...(reason ? { reason } : {}),
      message: action === 'approve' ? 'listing approved: it is public now' : 'listing rejected',
    });
    log.info('moderation decision', { listingId: outcome.listingId, actor, action, reason, previousStatus: outcome.previousStatus });
    return {
      status: 200 as const,
      body: {
        listingId: outcome.listingId,
        status: outcome.status,
        previousStatus: outcome.previousStatus,
        actor,
        reason: reason ?? null,
        decidedAt: outcome.decidedAt,
        expiresAt: outcome.expiresAt,
      },
    };
  };
  bind(router, api.approveListing).to(({ params, body, caller }) => decide('approve', params.id, caller.actor, body.reason || undefined));
  bind(router, api.rejectListing).to(({ params, body, caller }) => decide('reject', params.id, caller.actor, body.reason));

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
  const decideOnRevision = async (action: ModerationAction, revisionId: string, actor: string, reason: string | undefined) => {
    const decided = await decideRevision(db, { revisionId, actor, action, reason });
    // A rejected revision's new logo, or the logo an approved one replaced, is no longer referred to: delete its object.
    const logo = decided.diff.find((entry) => entry.field === 'logoKey');
    if (logo) await deleteUnreferencedLogos({ db, storage, log }, [action === 'approve' ? logo.public : logo.proposed].filter((key): key is string => typeof key === 'string'));
    // On the listing's status stream; a profile edit's decision under the revision's id, so the notifier tells its author.
    await bus.status.publish({
      uploadId: decided.listingId ?? decided.id,
      event: action === 'approve' ? 'revision.approved' : 'revision.rejected',
      stage: decided.listingId ? 'moderation' : PROFILE_MODERATION_STAGE,
      state: 'saved',
      ...(reason ? { reason } : {}),
      message: action === 'approve' ? 'your changes are public now' : `your changes were not approved; ${decided.listingId ? 'the listing' : 'your profile'} stays as it was`,
    });
    log.info('revision decision', { revisionId: decided.id, listingId: decided.listingId, kind: decided.kind, actor, action, reason });
    const { ownerWallet: _owner, ...view } = decided;
    return { status: 200 as const, body: { ...view, owner: view.owner as `0x${string}` } };
  };
  bind(router, api.approveRevision).to(({ params, body, caller }) => decideOnRevision('approve', params.id, caller.actor, body.reason || undefined));
  bind(router, api.rejectRevision).to(({ params, body, caller }) => decideOnRevision('reject', params.id, caller.actor, body.reason));
  router.use(adminPaymentRoutes({ bind, db, uploads: deps.uploads, log }));
  return router;
}

/** A logo change in a revision's diff, with image URLs beside its object keys, so a moderator sees the images. */
async function withLogoUrls<T extends { public: unknown; proposed: unknown }>(storage: ObjectStorage, entry: T): Promise<T & { publicUrl: string | null; proposedUrl: string | null }> {
  const url = (key: unknown) => (typeof key === 'string' && key ? storage.urlFor(key) : Promise.resolve(null));
  const [publicUrl, proposedUrl] = await Promise.all([url(entry.public), url(entry.proposed)]);
  return { ...entry, publicUrl, proposedUrl };
}
