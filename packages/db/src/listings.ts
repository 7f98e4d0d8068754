import type { Knex } from 'knex';
import { upsertHashtags } from './hashtags.js';
import { linkQuotePayments } from './payments.js';

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

/**
 * Saves a finished upload: user, listing (pending moderation), its hashtags, and ties the ledger's
 * credits that paid its quote to the listing, in one transaction. Idempotent: saving the same upload
 * again leaves one listing, and its payments tied to it.
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
    await linkQuotePayments(trx, input.listingId, input.listingId);
    return { userId, created };
  });
}
