import type { Knex } from 'knex';
import type { ModerationStatus } from './read.js';

export type ModerationAction = 'approve' | 'reject';

/** No listing with that id. */
export class ListingNotFoundError extends Error {
  override readonly name = 'ListingNotFoundError';
  constructor(readonly listingId: string) {
    super(`no listing ${listingId}`);
  }
}

export interface ModerationDecision {
  listingId: string;
  /** Who decided: an admin's wallet address, or `token:<name>` for automation. */
  actor: string;
  action: ModerationAction;
  reason?: string | undefined;
}

export interface ModerationOutcome {
  listingId: string;
  ownerWallet: string;
  previousStatus: ModerationStatus;
  status: ModerationStatus;
  eventId: number;
  decidedAt: string;
}

/**
 * Approves or rejects a listing and audits the decision in moderation_events, in one
 * transaction (the row is locked, so two moderators deciding at once are recorded in order).
 */
export async function moderateListing(db: Knex, decision: ModerationDecision): Promise<ModerationOutcome> {
  const status: ModerationStatus = decision.action === 'approve' ? 'approved' : 'rejected';
  return db.transaction(async (trx) => {
    const current: { moderation_status: ModerationStatus; wallet_address: string } | undefined = await trx('listings as l')
      .join('users as u', 'u.id', 'l.user_id')
      .where('l.id', decision.listingId)
      .forUpdate('l')
      .first('l.moderation_status', 'u.wallet_address');
    if (!current) throw new ListingNotFoundError(decision.listingId);
    await trx('listings').where({ id: decision.listingId }).update({ moderation_status: status, updated_at: trx.fn.now() });
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
    };
  });
}

/** One audited decision. */
export interface ModerationEventView {
  actor: string;
  action: ModerationAction;
  reason: string | null;
  at: string;
}

/** The decisions taken on a listing, oldest first. */
export async function moderationHistory(db: Knex, listingId: string): Promise<ModerationEventView[]> {
  const rows: { actor: string; action: ModerationAction; reason: string | null; created_at: Date }[] = await db('moderation_events')
    .where({ listing_id: listingId })
    .orderBy([{ column: 'created_at', order: 'asc' }, { column: 'id', order: 'asc' }])
    .select('actor', 'action', 'reason', 'created_at');
  return rows.map((row) => ({ actor: row.actor, action: row.action, reason: row.reason, at: row.created_at.toISOString() }));
}
