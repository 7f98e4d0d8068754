import type { Knex } from 'knex';

/** A payment as it is stored. */
export interface PaymentRecord {
  uploadId: string;
  chainId: number;
  txHash: string;
  /** null for a native transfer. */
  logIndex: number | null;
  from: string;
  to: string;
  token: string | null;
  /** Base units as a decimal string. */
  amount: string;
  blockNumber: string;
  blockTime: string;
  status: 'paid' | 'overpaid' | 'partial' | 'late' | 'unfulfilled';
}

/** Everything one finished upload writes, in one transaction. */
export interface SaveListingInput {
  listingId: string;
  owner: { walletAddress: string; displayName?: string | undefined; contact?: string | undefined; logoKey?: string | undefined };
  listing: {
    title: string;
    description: string;
    videoKey: string;
    previewKey: string;
    posterKey: string;
    logoKey?: string | undefined;
    durationSeconds: number;
    width: number;
    height: number;
    videoBytes: number;
    sourceBytes: number;
    latitude: number;
    longitude: number;
  };
  /** Already normalised (see normalizeHashtag). */
  hashtags: string[];
  payment: PaymentRecord;
}

function paymentRow(payment: PaymentRecord, listingId: string | null) {
  return {
    upload_id: payment.uploadId,
    listing_id: listingId,
    chain_id: payment.chainId,
    tx_hash: payment.txHash.toLowerCase(),
    log_index: payment.logIndex ?? -1,
    from_address: payment.from.toLowerCase(),
    to_address: payment.to.toLowerCase(),
    token_address: payment.token?.toLowerCase() ?? null,
    amount: payment.amount,
    block_number: payment.blockNumber,
    block_time: payment.blockTime,
    status: payment.status,
  };
}

/** Creates the user by wallet address, or updates the existing one's profile (the prototype's rule). */
export async function upsertUser(trx: Knex, owner: SaveListingInput['owner']): Promise<number> {
  const changes: Record<string, unknown> = { updated_at: trx.fn.now() };
  if (owner.displayName !== undefined) changes.display_name = owner.displayName;
  if (owner.contact !== undefined) changes.contact = owner.contact;
  if (owner.logoKey !== undefined) changes.logo_key = owner.logoKey;
  const [row] = await trx('users')
    .insert({
      wallet_address: owner.walletAddress.toLowerCase(),
      display_name: owner.displayName ?? null,
      contact: owner.contact ?? null,
      logo_key: owner.logoKey ?? null,
    })
    .onConflict('wallet_address')
    .merge(changes)
    .returning('id');
  return Number((row as { id: string | number }).id);
}

/** Inserts any new tags in one statement and returns the ids of all of them. */
export async function upsertHashtags(trx: Knex, tags: string[]): Promise<number[]> {
  if (tags.length === 0) return [];
  await trx('hashtags').insert(tags.map((tag) => ({ tag }))).onConflict('tag').ignore();
  const rows: { id: string | number }[] = await trx('hashtags').whereIn('tag', tags).select('id');
  return rows.map((row) => Number(row.id));
}

/**
 * Saves a finished upload: user, listing (pending moderation), its hashtags and its payment, in
 * one transaction. Idempotent: saving the same upload again leaves one listing, one payment.
 */
export async function saveListing(db: Knex, input: SaveListingInput): Promise<{ userId: number; created: boolean }> {
  return db.transaction(async (trx) => {
    const userId = await upsertUser(trx, { ...input.owner, logoKey: input.owner.logoKey ?? input.listing.logoKey });
    const l = input.listing;
    const inserted = await trx('listings')
      .insert({
        id: input.listingId,
        user_id: userId,
        title: l.title,
        description: l.description,
        video_key: l.videoKey,
        preview_key: l.previewKey,
        poster_key: l.posterKey,
        logo_key: l.logoKey ?? null,
        duration_seconds: l.durationSeconds,
        width: l.width,
        height: l.height,
        video_bytes: l.videoBytes,
        source_bytes: l.sourceBytes,
        location: trx.raw('ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography', [l.longitude, l.latitude]),
      })
      .onConflict('id')
      .ignore()
      .returning('id');
    const created = inserted.length > 0;
    const hashtagIds = await upsertHashtags(trx, input.hashtags);
    if (hashtagIds.length > 0) {
      await trx('listing_hashtags')
        .insert(hashtagIds.map((hashtagId) => ({ listing_id: input.listingId, hashtag_id: hashtagId })))
        .onConflict(['listing_id', 'hashtag_id'])
        .ignore();
    }
    // Keyed by upload id: a retry (or an earlier `unfulfilled` record being fulfilled) updates it.
    await trx('payments')
      .insert(paymentRow(input.payment, input.listingId))
      .onConflict('upload_id')
      .merge({ listing_id: input.listingId, status: input.payment.status, failure_reason: null, failed_stage: null, updated_at: trx.fn.now() });
    return { userId, created };
  });
}

/**
 * Records a paid upload that failed for good, so an operator can retry or refund it: a confirmed
 * payment is never lost. A listing already saved for it is left alone.
 */
export async function recordUnfulfilledPayment(db: Knex, payment: PaymentRecord, failure: { stage: string; reason: string }): Promise<void> {
  await db('payments')
    .insert({ ...paymentRow({ ...payment, status: 'unfulfilled' }, null), failure_reason: failure.reason, failed_stage: failure.stage })
    .onConflict('upload_id')
    .merge({ status: db.raw(`CASE WHEN payments.listing_id IS NULL THEN 'unfulfilled'::payment_status ELSE payments.status END`), failure_reason: failure.reason, failed_stage: failure.stage, updated_at: db.fn.now() });
}
