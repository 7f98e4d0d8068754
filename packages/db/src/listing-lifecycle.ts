import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { type ListingState, listingMay } from '@reelboard/lifecycle/transitions';
import { upsertHashtags } from './hashtags.js';
import { ListingNotFoundError } from './listing-errors.js';
import type { ModerationStatus, OwnerState, Price } from './read.js';

/** Where a listing stands for its owner: moderation, what the owner did, and the paid period, in one word. */
export type ListingLifecycleState = ListingState;

/** One word for a listing's state: removal, withdrawal and sale first, then moderation, then the paid period. */
export function lifecycleStateOf(
  row: { moderation_status: ModerationStatus; state: OwnerState; expires_at: Date | null },
  now = new Date(),
): ListingLifecycleState {
  if (row.state !== 'active') return row.state;
  if (row.moderation_status !== 'approved') return row.moderation_status;
  return row.expires_at !== null && row.expires_at <= now ? 'expired' : 'approved';
}

/** A listing cannot do that in its state (an edit of a sold listing, a renewal of a removed one...). */
export class ListingStateError extends Error {
  override readonly name = 'ListingStateError';
  constructor(
    readonly listingId: string,
    readonly state: ListingLifecycleState,
    readonly action: string,
    message = `listing ${listingId} is ${state}: it cannot be ${action}`,
  ) {
    super(message);
  }
}

/** What an edit may change; absent fields stay as they are, null clears an optional one. */
export interface ListingChanges {
  title?: string | undefined;
  description?: string | undefined;
  /** Already normalised. */
  hashtags?: string[] | undefined;
  location?: { latitude: number; longitude: number } | undefined;
  price?: Price | null | undefined;
  contact?: string | null | undefined;
  /** An S3 key the gateway stored the new logo under. */
  logoKey?: string | null | undefined;
}

/** A moderated profile edit. */
export interface ProfileChanges {
  displayName?: string | null | undefined;
  contact?: string | null | undefined;
}

interface LockedListing {
  id: string;
  user_id: string;
  wallet_address: string;
  moderation_status: ModerationStatus;
  state: OwnerState;
  expires_at: Date | null;
  objects_deleted_at: Date | null;
}

/** Locks a listing for a change; another wallet's listing does not exist for `wallet` (undefined: any owner, an admin). */
async function lockListing(trx: Knex.Transaction, listingId: string, wallet: string | undefined): Promise<LockedListing> {
  const row: LockedListing | undefined = /^[0-9a-f-]{36}$/i.test(listingId)
    ? await trx('listings as l')
        .join('users as u', 'u.id', 'l.user_id')
        .where('l.id', listingId.toLowerCase())
        .forUpdate('l')
        .first('l.id', 'l.user_id', 'u.wallet_address', 'l.moderation_status', 'l.state', 'l.expires_at', 'l.objects_deleted_at')
    : undefined;
  if (!row || (wallet !== undefined && row.wallet_address !== wallet.toLowerCase())) throw new ListingNotFoundError(listingId);
  return row;
}

async function audit(trx: Knex, listingId: string, actor: string, action: string, detail: Record<string, unknown> = {}): Promise<void> {
  await trx('listing_events').insert({ listing_id: listingId, actor, action, detail: JSON.stringify(detail) });
}

/** Writes changes onto the listing row (and its hashtags); used for direct edits and approved revisions. */
async function applyListingChanges(trx: Knex, listingId: string, changes: ListingChanges): Promise<void> {
  const update: Record<string, unknown> = { updated_at: trx.fn.now() };
  if (changes.title !== undefined) update.title = changes.title;
  if (changes.description !== undefined) update.description = changes.description;
  if (changes.location !== undefined)
    update.location = trx.raw('ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography', [changes.location.longitude, changes.location.latitude]);
  if (changes.price !== undefined) {
    update.price_amount = changes.price?.amount ?? null;
    update.price_currency = changes.price?.currency ?? null;
  }
  if (changes.contact !== undefined) update.contact = changes.contact;
  if (changes.logoKey !== undefined) update.logo_key = changes.logoKey;
  await trx('listings').where({ id: listingId }).update(update);
  if (changes.hashtags !== undefined) {
    await trx('listing_hashtags').where({ listing_id: listingId }).delete();
    const ids = await upsertHashtags(trx, changes.hashtags);
    if (ids.length > 0) await trx('listing_hashtags').insert(ids.map((hashtagId) => ({ listing_id: listingId, hashtag_id: hashtagId })));
  }
}

/** The profile fields an approved listing (or revision) brought become the owner's public profile. */
export async function publishProfileFields(
  trx: Knex,
  userId: string | number,
  fields: { displayName?: string | null | undefined; contact?: string | null | undefined; logoKey?: string | null | undefined },
): Promise<void> {
  const update: Record<string, unknown> = {};
  if (fields.displayName) update.display_name = fields.displayName;
  if (fields.contact) update.contact = fields.contact;
  if (fields.logoKey) update.logo_key = fields.logoKey;
  if (Object.keys(update).length === 0) return;
  await trx('users')
    .where({ id: userId })
    .update({ ...update, updated_at: trx.fn.now() });
}

export interface EditOutcome {
  listingId: string;
  /** `applied`: the listing was not public yet and changed at once; `revision`: a pending revision waits for a moderator. */
  mode: 'applied' | 'revision';
  revisionId: string | null;
  state: ListingLifecycleState;
}

/**
 * The owner edits a listing. While it is not public (pending, or rejected: the edit sends it back to
 * moderation) the listing changes at once. An approved listing keeps its approved version public and
 * gets a pending revision (a newer edit is folded into the pending one) until a moderator decides.
 * Sold, withdrawn and removed listings cannot be edited, nor a rejected one whose objects are gone.
 */
export async function editListing(db: Knex, edit: { listingId: string; wallet: string; changes: ListingChanges }): Promise<EditOutcome> {
  return db.transaction(async (trx) => {
    const row = await lockListing(trx, edit.listingId, edit.wallet);
    const state = lifecycleStateOf(row);
    if (row.state !== 'active' || row.objects_deleted_at !== null) throw new ListingStateError(row.id, state, 'edited');
    const fields = Object.keys(edit.changes).filter((key) => edit.changes[key as keyof ListingChanges] !== undefined);
    if (row.moderation_status !== 'approved') {
      await applyListingChanges(trx, row.id, edit.changes);
      if (row.moderation_status === 'rejected') {
        await trx('listings').where({ id: row.id }).update({ moderation_status: 'pending', rejected_at: null, rejection_reason: null });
      }
      await audit(trx, row.id, edit.wallet.toLowerCase(), 'edit', { mode: 'applied', fields });
      return { listingId: row.id, mode: 'applied', revisionId: null, state: 'pending' };
    }
    const previous: { id: string; changes: ListingChanges } | undefined = await trx('listing_revisions')
      .where({ listing_id: row.id, kind: 'listing', status: 'pending' })
      .forUpdate()
      .first('id', 'changes');
    if (previous)
      await trx('listing_revisions')
        .where({ id: previous.id })
        .update({ status: 'superseded', decided_at: trx.fn.now(), decided_by: edit.wallet.toLowerCase() });
    const revisionId = randomUUID();
    const changes = { ...(previous?.changes ?? {}), ...JSON.parse(JSON.stringify(edit.changes)) };
    await trx('listing_revisions').insert({ id: revisionId, listing_id: row.id, user_id: row.user_id, kind: 'listing', changes: JSON.stringify(changes) });
    await audit(trx, row.id, edit.wallet.toLowerCase(), 'edit', { mode: 'revision', revisionId, fields });
    return { listingId: row.id, mode: 'revision', revisionId, state };
  });
}

/** The owner asks for a new public display name or contact: a pending profile revision (a newer one folds into it). */
export async function proposeProfileEdit(db: Knex, wallet: string, changes: ProfileChanges): Promise<{ revisionId: string }> {
  return db.transaction(async (trx) => {
    const [user] = await trx('users')
      .insert({ wallet_address: wallet.toLowerCase() })
      .onConflict('wallet_address')
      .merge({ updated_at: trx.fn.now() })
      .returning('id');
    const userId = (user as { id: string }).id;
    const previous: { id: string; changes: ProfileChanges } | undefined = await trx('listing_revisions')
      .where({ user_id: userId, kind: 'profile', status: 'pending' })
      .forUpdate()
      .first('id', 'changes');
    if (previous)
      await trx('listing_revisions').where({ id: previous.id }).update({ status: 'superseded', decided_at: trx.fn.now(), decided_by: wallet.toLowerCase() });
    const revisionId = randomUUID();
    await trx('listing_revisions').insert({
      id: revisionId,
      user_id: userId,
      kind: 'profile',
      changes: JSON.stringify({ ...(previous?.changes ?? {}), ...JSON.parse(JSON.stringify(changes)) }),
    });
    return { revisionId };
  });
}

/** One field of a revision: what the public sees now, and what the revision proposes. */
export interface RevisionDiffEntry {
  field: string;
  public: unknown;
  proposed: unknown;
}

export type RevisionStatus = 'pending' | 'approved' | 'rejected' | 'superseded';

/** A revision as a moderator sees it: the diff against the public version. */
export interface RevisionView {
  id: string;
  kind: 'listing' | 'profile';
  listingId: string | null;
  owner: string;
  status: RevisionStatus;
  reason: string | null;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  /** Only the fields that differ from the public version. */
  diff: RevisionDiffEntry[];
}

interface RevisionRow {
  id: string;
  kind: 'listing' | 'profile';
  listing_id: string | null;
  user_id: string;
  wallet_address: string;
  changes: Record<string, unknown>;
  status: RevisionStatus;
  reason: string | null;
  created_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
/** The order a diff lists fields in (as the form shows them). */
const FIELD_ORDER = ['title', 'description', 'hashtags', 'location', 'price', 'contact', 'logoKey', 'displayName'];

/** What the public sees now of the fields a revision names. */
async function publicVersion(db: Knex, row: RevisionRow): Promise<Record<string, unknown>> {
  if (row.kind === 'profile') {
    const user: { display_name: string | null; contact: string | null } = await db('users').where({ id: row.user_id }).first('display_name', 'contact');
    return { displayName: user.display_name, contact: user.contact };
  }
  const listing = await db('listings as l')
    .where('l.id', row.listing_id)
    .first(
      'l.title',
      'l.description',
      'l.price_amount',
      'l.price_currency',
      'l.contact',
      'l.logo_key',
      db.raw('ST_Y(l.location::geometry) AS latitude'),
      db.raw('ST_X(l.location::geometry) AS longitude'),
      db.raw('ARRAY(SELECT h.tag FROM listing_hashtags lh JOIN hashtags h ON h.id = lh.hashtag_id WHERE lh.listing_id = l.id ORDER BY h.tag) AS hashtags'),
    );
  return {
    title: listing.title,
    description: listing.description,
    hashtags: listing.hashtags,
    location: { latitude: listing.latitude, longitude: listing.longitude },
    price: listing.price_amount === null ? null : { amount: listing.price_amount, currency: listing.price_currency },
    contact: listing.contact,
    logoKey: listing.logo_key,
  };
}

async function toRevisionView(db: Knex, row: RevisionRow): Promise<RevisionView> {
  const current = await publicVersion(db, row);
  const diff = Object.entries(row.changes)
    .map(([field, proposed]) => ({
      field,
      public: field === 'hashtags' ? [...((current[field] as string[]) ?? [])] : (current[field] ?? null),
      proposed: field === 'hashtags' ? [...(proposed as string[])].sort() : proposed,
    }))
    .filter((entry) => !same(entry.public, entry.proposed))
    .sort((a, b) => FIELD_ORDER.indexOf(a.field) - FIELD_ORDER.indexOf(b.field));
  return {
    id: row.id,
    kind: row.kind,
    listingId: row.listing_id,
    owner: row.wallet_address,
    status: row.status,
    reason: row.reason,
    createdAt: row.created_at.toISOString(),
    decidedAt: row.decided_at?.toISOString() ?? null,
    decidedBy: row.decided_by,
    diff,
  };
}

const revisionQuery = (db: Knex) =>
  db('listing_revisions as r')
    .join('users as u', 'u.id', 'r.user_id')
    .select(
      'r.id',
      'r.kind',
      'r.listing_id',
      'r.user_id',
      'u.wallet_address',
      'r.changes',
      'r.status',
      'r.reason',
      'r.created_at',
      'r.decided_at',
      'r.decided_by',
    );

/** Revisions by status (the moderation queue: pending, oldest first), each with its diff. */
export async function listRevisions(db: Knex, query: { status: RevisionStatus; limit: number; listingId?: string | undefined }): Promise<RevisionView[]> {
  const rows: RevisionRow[] = await revisionQuery(db)
    .where('r.status', query.status)
    .modify((q) => (query.listingId ? q.where('r.listing_id', query.listingId) : q))
    .orderBy([{ column: 'r.created_at', order: query.status === 'pending' ? 'asc' : 'desc' }, { column: 'r.id' }])
    .limit(query.limit);
  return Promise.all(rows.map((row) => toRevisionView(db, row)));
}

/** No revision with that id. */
export class RevisionNotFoundError extends Error {
  override readonly name = 'RevisionNotFoundError';
  constructor(readonly revisionId: string) {
    super(`no revision ${revisionId}`);
  }
}

/** A revision already decided (or superseded) cannot be decided again. */
export class RevisionDecidedError extends Error {
  override readonly name = 'RevisionDecidedError';
  constructor(
    readonly revisionId: string,
    readonly status: RevisionStatus,
  ) {
    super(`revision ${revisionId} is ${status}, not pending`);
  }
}

export interface RevisionDecision {
  revisionId: string;
  actor: string;
  action: 'approve' | 'reject';
  reason?: string | undefined;
}

/**
 * A moderator decides a revision, audited in moderation_events in the same transaction. Approved: a
 * listing revision replaces the public version (its contact and logo also become the owner's public
 * profile); a profile revision becomes the public profile. Rejected: the public version stays.
 */
export async function decideRevision(db: Knex, decision: RevisionDecision): Promise<RevisionView & { ownerWallet: string }> {
  return db.transaction(async (trx) => {
    const row: RevisionRow | undefined = /^[0-9a-f-]{36}$/i.test(decision.revisionId)
      ? await revisionQuery(trx).where('r.id', decision.revisionId.toLowerCase()).forUpdate('r').first()
      : undefined;
    if (!row) throw new RevisionNotFoundError(decision.revisionId);
    if (row.status !== 'pending') throw new RevisionDecidedError(row.id, row.status);
    if (row.listing_id) {
      const listing = await lockListing(trx, row.listing_id, undefined);
      if (listing.state === 'removed') throw new ListingStateError(listing.id, 'removed', 'changed');
    }
    // The diff is taken before the change, so the answer shows what the decision was about.
    const view = await toRevisionView(trx, row);
    if (decision.action === 'approve') {
      if (row.kind === 'listing' && row.listing_id) {
        const changes = row.changes as ListingChanges;
        await applyListingChanges(trx, row.listing_id, changes);
        await publishProfileFields(trx, row.user_id, { contact: changes.contact, logoKey: changes.logoKey });
      } else {
        const changes = row.changes as ProfileChanges;
        const update: Record<string, unknown> = {};
        if (changes.displayName !== undefined) update.display_name = changes.displayName;
        if (changes.contact !== undefined) update.contact = changes.contact;
        if (Object.keys(update).length > 0)
          await trx('users')
            .where({ id: row.user_id })
            .update({ ...update, updated_at: trx.fn.now() });
      }
    }
    const status = decision.action === 'approve' ? 'approved' : 'rejected';
    const [decided] = await trx('listing_revisions')
      .where({ id: row.id })
      .update({ status, reason: decision.reason ?? null, decided_by: decision.actor, decided_at: trx.fn.now() })
      .returning('decided_at');
    await trx('moderation_events').insert({
      listing_id: row.listing_id,
      user_id: row.user_id,
      revision_id: row.id,
      actor: decision.actor,
      action: decision.action,
      reason: decision.reason ?? null,
    });
    return {
      ...view,
      status,
      reason: decision.reason ?? null,
      decidedBy: decision.actor,
      decidedAt: (decided as { decided_at: Date }).decided_at.toISOString(),
      ownerWallet: row.wallet_address,
    };
  });
}

/** The owner marks a listing sold: shown as sold until `displaySeconds` from now (or its expiry), then hidden. */
export async function markListingSold(
  db: Knex,
  input: { listingId: string; wallet: string; displaySeconds: number },
): Promise<{ soldAt: string; visibleUntil: string | null }> {
  return db.transaction(async (trx) => {
    const row = await lockListing(trx, input.listingId, input.wallet);
    if (row.state === 'sold') {
      const sold: { sold_at: Date; visible_until: Date | null } = await trx('listings').where({ id: row.id }).first('sold_at', 'visible_until');
      return { soldAt: sold.sold_at.toISOString(), visibleUntil: sold.visible_until?.toISOString() ?? null };
    }
    if (row.state !== 'active') throw new ListingStateError(row.id, lifecycleStateOf(row), 'marked sold');
    const [updated] = await trx('listings')
      .where({ id: row.id })
      .update({
        state: 'sold',
        sold_at: trx.fn.now(),
        sold_visible_until: trx.raw(`now() + make_interval(secs => ?)`, [input.displaySeconds]),
        updated_at: trx.fn.now(),
      })
      .returning(['sold_at', 'visible_until']);
    const result = updated as { sold_at: Date; visible_until: Date | null };
    await audit(trx, row.id, input.wallet.toLowerCase(), 'sold', { displaySeconds: input.displaySeconds });
    return { soldAt: result.sold_at.toISOString(), visibleUntil: result.visible_until?.toISOString() ?? null };
  });
}

/** The owner withdraws a listing: hidden at once (an active or sold listing; again is a no-op). */
export async function withdrawListing(db: Knex, input: { listingId: string; wallet: string }): Promise<void> {
  await db.transaction(async (trx) => {
    const row = await lockListing(trx, input.listingId, input.wallet);
    if (row.state === 'withdrawn') return;
    if (row.state === 'removed') throw new ListingStateError(row.id, 'removed', 'withdrawn');
    await trx('listings').where({ id: row.id }).update({ state: 'withdrawn', withdrawn_at: trx.fn.now(), updated_at: trx.fn.now() });
    await audit(trx, row.id, input.wallet.toLowerCase(), 'withdraw');
  });
}

interface ObjectKeysRow {
  id: string;
  video_key: string;
  preview_key: string;
  poster_key: string;
  logo_key: string | null;
  profile_logo: string | null;
}

/** The S3 objects a listing owns; a logo that is now the owner's public profile logo stays. */
function objectKeysOf(row: ObjectKeysRow, revisionLogos: string[]): string[] {
  const keys = [row.video_key, row.preview_key, row.poster_key, row.logo_key, ...revisionLogos].filter(
    (key): key is string => !!key && key !== row.profile_logo,
  );
  return [...new Set(keys)];
}

const objectKeysQuery = (db: Knex) =>
  db('listings as l')
    .join('users as u', 'u.id', 'l.user_id')
    .select('l.id', 'l.video_key', 'l.preview_key', 'l.poster_key', 'l.logo_key', 'u.logo_key as profile_logo');

async function revisionLogos(db: Knex, listingId: string): Promise<string[]> {
  const rows: { logo: string | null }[] = await db('listing_revisions')
    .where({ listing_id: listingId })
    .whereNot('status', 'approved')
    .select(db.raw(`changes->>'logoKey' AS logo`));
  return rows.map((row) => row.logo).filter((logo): logo is string => !!logo);
}

/**
 * Removes a listing (its owner, or an admin when `wallet` is absent): gone from every read route at
 * once; the row keeps its payments and audit trail. Returns the S3 keys to delete (then call
 * markObjectsDeleted). Removing again returns the keys still to delete.
 */
export async function removeListing(
  db: Knex,
  input: { listingId: string; actor: string; wallet?: string | undefined; reason?: string | undefined },
): Promise<{ keys: string[]; ownerWallet: string; alreadyRemoved: boolean }> {
  return db.transaction(async (trx) => {
    const row = await lockListing(trx, input.listingId, input.wallet);
    const alreadyRemoved = row.state === 'removed';
    if (!alreadyRemoved) {
      await trx('listings')
        .where({ id: row.id })
        .update({ state: 'removed', removed_at: trx.fn.now(), removed_by: input.actor, removal_reason: input.reason ?? null, updated_at: trx.fn.now() });
      await trx('listing_revisions')
        .where({ listing_id: row.id, status: 'pending' })
        .update({ status: 'superseded', decided_at: trx.fn.now(), decided_by: input.actor });
      await audit(trx, row.id, input.actor, 'remove', input.reason ? { reason: input.reason } : {});
    }
    if (row.objects_deleted_at !== null) return { keys: [], ownerWallet: row.wallet_address, alreadyRemoved };
    const keysRow: ObjectKeysRow = await objectKeysQuery(trx).where('l.id', row.id).first();
    return { keys: objectKeysOf(keysRow, await revisionLogos(trx, row.id)), ownerWallet: row.wallet_address, alreadyRemoved };
  });
}

/** Records that a listing's S3 objects are deleted (audited). */
export async function markObjectsDeleted(db: Knex, listingId: string, keys: string[]): Promise<void> {
  await db.transaction(async (trx) => {
    const updated = await trx('listings').where({ id: listingId }).whereNull('objects_deleted_at').update({ objects_deleted_at: trx.fn.now() });
    if (updated > 0) await audit(trx, listingId, 'system', 'objects_deleted', { keys });
  });
}

/**
 * Listings whose S3 objects are due for deletion: removed ones (their deletion failed or was never
 * done), and rejected ones rejected before `rejectedBefore` and not re-submitted since.
 */
export async function listingsWithObjectsDue(db: Knex, input: { rejectedBefore: Date; limit: number }): Promise<{ listingId: string; keys: string[] }[]> {
  const rows: ObjectKeysRow[] = await objectKeysQuery(db)
    .whereNull('l.objects_deleted_at')
    .where((q) => q.where('l.state', 'removed').orWhere((r) => r.where('l.moderation_status', 'rejected').where('l.rejected_at', '<=', input.rejectedBefore)))
    .orderByRaw('coalesce(l.removed_at, l.rejected_at)')
    .limit(input.limit);
  return Promise.all(rows.map(async (row) => ({ listingId: row.id, keys: objectKeysOf(row, await revisionLogos(db, row.id)) })));
}

/** A listing whose paid period ended and whose owner is told now. */
export interface ExpiredListing {
  listingId: string;
  ownerWallet: string;
  expiresAt: string;
}

/**
 * Claims listings whose paid period ended and whose owner was not told yet (the public read hides
 * them already, at query time), and runs `tell` for them inside the claiming transaction: if telling
 * fails nothing is claimed and the next run tries again (an owner may hear twice, never not at all).
 */
export async function claimExpiredListings(db: Knex, limit: number, tell: (expired: ExpiredListing[]) => Promise<void>): Promise<ExpiredListing[]> {
  return db.transaction(async (trx) => {
    const rows: { id: string; wallet_address: string; expires_at: Date }[] = (
      await trx.raw(
        `UPDATE listings l SET expired_notified_at = now()
           FROM users u
          WHERE u.id = l.user_id
            AND l.id IN (SELECT id FROM listings WHERE state = 'active' AND expired_notified_at IS NULL AND moderation_status = 'approved' AND expires_at <= now()
                         ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED)
          RETURNING l.id, u.wallet_address, l.expires_at`,
        [limit],
      )
    ).rows;
    const expired = rows.map((row) => ({ listingId: row.id, ownerWallet: row.wallet_address, expiresAt: row.expires_at.toISOString() }));
    for (const item of expired) await audit(trx, item.listingId, 'system', 'expire', { expiresAt: item.expiresAt });
    if (expired.length > 0) await tell(expired);
    return expired;
  });
}

/**
 * Checks that the wallet may renew the listing: its own, approved, active (running or expired).
 * Returns the listing's current expiry.
 */
export async function renewableListing(db: Knex, listingId: string, wallet: string): Promise<{ listingId: string; expiresAt: string | null }> {
  return db.transaction(async (trx) => {
    const row = await lockListing(trx, listingId, wallet);
    const state = lifecycleStateOf(row);
    if (!listingMay('renew', state))
      throw new ListingStateError(row.id, state, 'renewed', `listing ${row.id} is ${state}: only an approved listing (running or expired) can be renewed`);
    return { listingId: row.id, expiresAt: row.expires_at?.toISOString() ?? null };
  });
}

/** One listing in its owner's list. */
export interface OwnListing {
  id: string;
  title: string;
  state: ListingLifecycleState;
  moderationStatus: ModerationStatus;
  rejectionReason: string | null;
  removalReason: string | null;
  price: Price | null;
  contact: string | null;
  hashtags: string[];
  createdAt: string;
  approvedAt: string | null;
  expiresAt: string | null;
  soldAt: string | null;
  visibleUntil: string | null;
  objects: { preview: string; poster: string; logo: string | null } | null;
  /** The edit waiting for a moderator, if any. */
  pendingRevision: { id: string; createdAt: string; changes: Record<string, unknown> } | null;
  /** What the ledger holds for the quotes that paid it: the upload, then each renewal. */
  payments: { quoteId: string; purpose: 'upload' | 'renewal'; amount: string; token: string | null; state: string; creditedTotal: string; createdAt: string }[];
}

/** Every listing of a wallet, newest first, removed ones included (their objects are gone). */
export async function listOwnListings(db: Knex, wallet: string, limit = 100): Promise<OwnListing[]> {
  const rows: {
    id: string;
    title: string;
    moderation_status: ModerationStatus;
    state: OwnerState;
    rejection_reason: string | null;
    removal_reason: string | null;
    price_amount: string | null;
    price_currency: string | null;
    contact: string | null;
    created_at: Date;
    approved_at: Date | null;
    expires_at: Date | null;
    sold_at: Date | null;
    visible_until: Date | null;
    preview_key: string;
    poster_key: string;
    logo_key: string | null;
    objects_deleted_at: Date | null;
    hashtags: string[];
  }[] = await db('listings as l')
    .join('users as u', 'u.id', 'l.user_id')
    .where('u.wallet_address', wallet.toLowerCase())
    .orderBy([
      { column: 'l.created_at', order: 'desc' },
      { column: 'l.id', order: 'desc' },
    ])
    .limit(limit)
    .select(
      'l.id',
      'l.title',
      'l.moderation_status',
      'l.state',
      'l.rejection_reason',
      'l.removal_reason',
      'l.price_amount',
      'l.price_currency',
      'l.contact',
      'l.created_at',
      'l.approved_at',
      'l.expires_at',
      'l.sold_at',
      'l.visible_until',
      'l.preview_key',
      'l.poster_key',
      'l.logo_key',
      'l.objects_deleted_at',
      db.raw('ARRAY(SELECT h.tag FROM listing_hashtags lh JOIN hashtags h ON h.id = lh.hashtag_id WHERE lh.listing_id = l.id ORDER BY h.tag) AS hashtags'),
    );
  const ids = rows.map((row) => row.id);
  const [revisions, quotes] = await Promise.all([
    ids.length
      ? db('listing_revisions').whereIn('listing_id', ids).where({ status: 'pending', kind: 'listing' }).select('id', 'listing_id', 'created_at', 'changes')
      : [],
    ids.length
      ? db('payment_quotes')
          .where((q) => q.whereIn('listing_id', ids).orWhereIn('quote_id', ids))
          .orderBy('created_at', 'asc')
          .select('quote_id', 'listing_id', 'purpose', 'amount', 'token_address', 'state', 'credited_total', 'created_at')
      : [],
  ]);
  const now = new Date();
  return rows.map((row) => {
    const revision = (revisions as { id: string; listing_id: string; created_at: Date; changes: Record<string, unknown> }[]).find(
      (r) => r.listing_id === row.id,
    );
    return {
      id: row.id,
      title: row.title,
      state: lifecycleStateOf(row, now),
      moderationStatus: row.moderation_status,
      rejectionReason: row.rejection_reason,
      removalReason: row.removal_reason,
      price: row.price_amount !== null && row.price_currency !== null ? { amount: row.price_amount, currency: row.price_currency } : null,
      contact: row.contact,
      hashtags: row.hashtags,
      createdAt: row.created_at.toISOString(),
      approvedAt: row.approved_at?.toISOString() ?? null,
      expiresAt: row.expires_at?.toISOString() ?? null,
      soldAt: row.sold_at?.toISOString() ?? null,
      visibleUntil: row.visible_until?.toISOString() ?? null,
      objects: row.objects_deleted_at ? null : { preview: row.preview_key, poster: row.poster_key, logo: row.logo_key },
      pendingRevision: revision ? { id: revision.id, createdAt: revision.created_at.toISOString(), changes: revision.changes } : null,
      payments: (
        quotes as {
          quote_id: string;
          listing_id: string | null;
          purpose: 'upload' | 'renewal';
          amount: string;
          token_address: string | null;
          state: string;
          credited_total: string;
          created_at: Date;
        }[]
      )
        .filter((q) => q.listing_id === row.id || q.quote_id === row.id)
        .map((q) => ({
          quoteId: q.quote_id,
          purpose: q.purpose,
          amount: q.amount,
          token: q.token_address,
          state: q.state,
          creditedTotal: q.credited_total,
          createdAt: q.created_at.toISOString(),
        })),
    };
  });
}

/** The owner's profile: what the public sees, and the edit waiting for a moderator. */
export async function ownProfile(
  db: Knex,
  wallet: string,
): Promise<{
  displayName: string | null;
  contact: string | null;
  logoKey: string | null;
  pendingRevision: { id: string; changes: Record<string, unknown>; createdAt: string } | null;
}> {
  const user: { id: string; display_name: string | null; contact: string | null; logo_key: string | null } | undefined = await db('users')
    .where({ wallet_address: wallet.toLowerCase() })
    .first('id', 'display_name', 'contact', 'logo_key');
  if (!user) return { displayName: null, contact: null, logoKey: null, pendingRevision: null };
  const revision: { id: string; changes: Record<string, unknown>; created_at: Date } | undefined = await db('listing_revisions')
    .where({ user_id: user.id, kind: 'profile', status: 'pending' })
    .first('id', 'changes', 'created_at');
  return {
    displayName: user.display_name,
    contact: user.contact,
    logoKey: user.logo_key,
    pendingRevision: revision ? { id: revision.id, changes: revision.changes, createdAt: revision.created_at.toISOString() } : null,
  };
}

/** The actions taken on a listing (owner, admins, the periodic job), oldest first. */
export async function listingHistory(db: Knex, listingId: string): Promise<{ actor: string; action: string; detail: Record<string, unknown>; at: string }[]> {
  const rows: { actor: string; action: string; detail: Record<string, unknown> | null; created_at: Date }[] = await db('listing_events')
    .where({ listing_id: listingId })
    .orderBy('id')
    .select('actor', 'action', 'detail', 'created_at');
  return rows.map((row) => ({ actor: row.actor, action: row.action, detail: row.detail ?? {}, at: row.created_at.toISOString() }));
}

/** The logo keys an edit may leave behind: the listing's own, and the one of its pending revision (read before a logo edit). */
export async function listingLogoKeys(db: Knex, listingId: string): Promise<string[]> {
  if (!/^[0-9a-f-]{36}$/i.test(listingId)) return [];
  const row: { logo_key: string | null } | undefined = await db('listings').where({ id: listingId.toLowerCase() }).first('logo_key');
  const pending = await db('listing_revisions')
    .where({ listing_id: listingId.toLowerCase(), kind: 'listing', status: 'pending' })
    .select(db.raw(`changes->>'logoKey' AS logo`));
  return [row?.logo_key, ...pending.map((r: { logo: string | null }) => r.logo)].filter((key): key is string => !!key);
}

/**
 * Of these logo keys, the ones nothing refers to any more (no listing, no public profile, no pending
 * revision): their objects can be deleted. Logo keys are never reused, so one found unreferenced stays so.
 */
export async function unreferencedLogoKeys(db: Knex, keys: readonly string[]): Promise<string[]> {
  if (keys.length === 0) return [];
  const [listings, users, revisions] = await Promise.all([
    db('listings').whereIn('logo_key', keys).pluck('logo_key'),
    db('users').whereIn('logo_key', keys).pluck('logo_key'),
    db('listing_revisions')
      .where('status', 'pending')
      .whereRaw(`changes->>'logoKey' = ANY(?)`, [keys as string[]])
      .select(db.raw(`changes->>'logoKey' AS logo`)),
  ]);
  const used = new Set<string>([...listings, ...users, ...revisions.map((r: { logo: string }) => r.logo)]);
  return [...new Set(keys)].filter((key) => !used.has(key));
}
