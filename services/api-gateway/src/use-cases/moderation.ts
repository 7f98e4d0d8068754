import type { Bus } from '@reelboard/bus';
import { PROFILE_MODERATION_STAGE } from '@reelboard/contracts';
import { decideRevision, type Knex, type ModerationAction, moderateListing } from '@reelboard/db';
import type { Logger } from '@reelboard/logger';
import type { ObjectStorage } from '@reelboard/storage';
import { deleteUnreferencedLogos } from './listing-life.js';

export interface ModerationDeps {
  db: Knex;
  storage: ObjectStorage;
  bus: Bus;
  log: Logger;
  /** Days an approval runs a listing (LISTING_DAYS). */
  listingDays?: number | undefined;
}

export interface DecisionParameters {
  action: ModerationAction;
  /** Who decides: the admin wallet, or `admin-token` (the audit trail). */
  actor: string;
  /** Told to the owner; required to reject (the route's schema says so). */
  reason: string | undefined;
}

/**
 * Approves or rejects a listing (audited by the database), and tells the owner on the upload's status:
 * the listing id is the upload id, so the owner's status stream and `GET /v1/me/uploads` show it.
 */
export async function decideListing(deps: ModerationDeps, { action, listingId, actor, reason }: DecisionParameters & { listingId: string }) {
  const outcome = await moderateListing(deps.db, { listingId: listingId.toLowerCase(), actor, action, reason, listingDays: deps.listingDays });
  await deps.bus.status.publish({
    uploadId: outcome.listingId,
    event: action === 'approve' ? 'moderation.approved' : 'moderation.rejected',
    stage: 'moderation',
    state: 'saved',
    ...(reason ? { reason } : {}),
    message: action === 'approve' ? 'listing approved: it is public now' : 'listing rejected',
  });
  deps.log.info('moderation decision', { listingId: outcome.listingId, actor, action, reason, previousStatus: outcome.previousStatus });
  return {
    listingId: outcome.listingId,
    status: outcome.status,
    previousStatus: outcome.previousStatus,
    actor,
    reason: reason ?? null,
    decidedAt: outcome.decidedAt,
    expiresAt: outcome.expiresAt,
  };
}

/**
 * Approves or rejects a revision (an edit of an approved listing, or a profile edit). The logo it no
 * longer refers to is deleted, and its author is told: on the listing's status stream, or a profile
 * edit's under the revision's id, so the notifier tells its author.
 */
export async function decideOnRevision(deps: ModerationDeps, { action, revisionId, actor, reason }: DecisionParameters & { revisionId: string }) {
  const decided = await decideRevision(deps.db, { revisionId, actor, action, reason });
  // A rejected revision's new logo, or the logo an approved one replaced, is no longer referred to.
  const logo = decided.diff.find((entry) => entry.field === 'logoKey');
  if (logo)
    await deleteUnreferencedLogos(
      deps,
      [action === 'approve' ? logo.public : logo.proposed].filter((key): key is string => typeof key === 'string'),
    );
  await deps.bus.status.publish({
    uploadId: decided.listingId ?? decided.id,
    event: action === 'approve' ? 'revision.approved' : 'revision.rejected',
    stage: decided.listingId ? 'moderation' : PROFILE_MODERATION_STAGE,
    state: 'saved',
    ...(reason ? { reason } : {}),
    message:
      action === 'approve'
        ? 'your changes are public now'
        : `your changes were not approved; ${decided.listingId ? 'the listing' : 'your profile'} stays as it was`,
  });
  deps.log.info('revision decision', { revisionId: decided.id, listingId: decided.listingId, kind: decided.kind, actor, action, reason });
  const { ownerWallet: _owner, ...view } = decided;
  return { ...view, owner: view.owner as `0x${string}` };
}
