import type { Knex } from 'knex';
import { ListingNotFoundError } from './listing-errors.js';
import { publishProfileFields } from './listing-lifecycle.js';
import type { ModerationStatus, OwnerState } from './read.js';

export type ModerationAction = 'approve' | 'reject';

export interface ModerationDecision {
  listingId: string;
  /** Who decided: an admin's wallet address, or `token:<name>` for automation. */
  actor: string;
  action: ModerationAction;
  reason?: string | undefined;
  /** Days an approval runs the listing (LISTING_DAYS): its paid period starts at its first approval. */
  listingDays?: number | undefined;
}

export interface ModerationOutcome {
  listingId: string;
  ownerWallet: string;
  previousStatus: ModerationStatus;
  status: ModerationStatus;
  eventId: number;
  decidedAt: string;
  /** The end of the paid period once approved. */
  expiresAt: string | null;
}

/** A removed listing is not moderated any more. */
export class ListingRemovedError extends Error {
  override readonly name = 'ListingRemovedError';
  constructor(readonly listingId: string) {
    super(`listing ${listingId} was removed`);
  }
}

/**
 * Approves or rejects a listing and audits the decision in moderation_events, in one
 * transaction (the row is locked, so two moderators deciding at once are recorded in order).
 * An approval starts the paid period (LISTING_DAYS from the first approval; a listing approved again
 * keeps its period) and makes the display name, contact and logo the listing brought the owner's
 * public profile. A rejection keeps its reason (the owner's list shows it); its objects are deleted
 * after a delay by the periodic job.
 */
export async function moderateListing(db: Knex, decision: ModerationDecision): Promise<ModerationOutcome> {
  const status: ModerationStatus = decision.action === 'approve' ? 'approved' : 'rejected';
  return db.transaction(async (trx) => {
    const current:
      | {
          moderation_status: ModerationStatus;
          state: OwnerState;
          wallet_address: string;
          user_id: string;
          display_name: string | null;
          contact: string | null;
          logo_key: string | null;
        }
      | undefined = await trx('listings as l')
      .join('users as u', 'u.id', 'l.user_id')
      .where('l.id', decision.listingId)
      .forUpdate('l')
      .first('l.moderation_status', 'l.state', 'u.wallet_address', 'l.user_id', 'l.display_name', 'l.contact', 'l.logo_key');
    if (!current) throw new ListingNotFoundError(decision.listingId);
    if (current.state === 'removed') throw new ListingRemovedError(decision.listingId);
    const days = decision.listingDays ?? 30;
    const [updated] = await trx('listings')
      .where({ id: decision.listingId })
      .update(
        status === 'approved'
          ? {
              moderation_status: status,
              approved_at: trx.raw('coalesce(approved_at, now())'),
              expires_at: trx.raw(`coalesce(expires_at, now() + make_interval(days => ?))`, [days]),
              rejected_at: null,
              rejection_reason: null,
              updated_at: trx.fn.now(),
            }
          : { moderation_status: status, rejected_at: trx.fn.now(), rejection_reason: decision.reason ?? null, updated_at: trx.fn.now() },
      )
      .returning('expires_at');
    if (status === 'approved') {
      await publishProfileFields(trx, current.user_id, { displayName: current.display_name, contact: current.contact, logoKey: current.logo_key });
    }
    const [event] = await trx('moderation_events')
      .insert({ listing_id: decision.listingId, actor: decision.actor, action: decision.action, reason: decision.reason ?? null })
      .returning(['id', 'created_at']);
    const row = event as { id: string | number; created_at: Date };
    return {
      listingId: decision.listingId,
      ownerWallet: current.wallet_address,
      previousStatus: current.moderation_status,
      status,
      eventId: Number(row.id),
      decidedAt: row.created_at.toISOString(),
      expiresAt: status === 'approved' ? ((updated as { expires_at: Date | null }).expires_at?.toISOString() ?? null) : null,
    };
  });
}

/** One audited decision. */
export interface ModerationEventView {
  actor: string;
  /** `dismiss`: a moderator dismissed the listing's reports. */
  action: ModerationAction | 'dismiss';
  reason: string | null;
  /** The revision decided, when the decision was on an edit rather than the listing itself. */
  revisionId: string | null;
  at: string;
}

/** The decisions taken on a listing, oldest first. */
export async function moderationHistory(db: Knex, listingId: string): Promise<ModerationEventView[]> {
  const rows: { actor: string; action: ModerationAction | 'dismiss'; reason: string | null; revision_id: string | null; created_at: Date }[] = await db(
    'moderation_events',
  )
    .where({ listing_id: listingId })
    .orderBy([
      { column: 'created_at', order: 'asc' },
      { column: 'id', order: 'asc' },
    ])
    .select('actor', 'action', 'reason', 'revision_id', 'created_at');
  return rows.map((row) => ({ actor: row.actor, action: row.action, reason: row.reason, revisionId: row.revision_id, at: row.created_at.toISOString() }));
}
