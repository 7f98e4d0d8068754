import type { Knex } from 'knex';
import { upsertHashtags } from './hashtags.js';
import { linkQuotePayments } from './payments.js';

/**
 * Everything one finished upload writes, in one transaction. The owner's display name, contact and
 * logo are proposals: they are kept with the listing and become the public profile only when a
 * moderator approves the listing (see moderateListing), never at save.
 */
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
    /** The DASH manifest's key and its rungs (lowest first), when the ladder was made. */
    manifestKey?: string | undefined;
    renditions?: { width: number; height: number; bitrateKbps: number }[] | undefined;
    /** The storyboard's WebVTT key, when one was made. */
    storyboardKey?: string | undefined;
    durationSeconds: number;
    width: number;
    height: number;
    videoBytes: number;
    sourceBytes: number;
    latitude: number;
    longitude: number;
    /** The asking price, if the form had one. */
    price?: { amount: string; currency: string } | undefined;
    /** ISO 639-1, when the seller named the listing's language (full-text search stems in it). */
    language?: string | undefined;
  };
  /** Already normalised (see normalizeHashtag). */
  hashtags: string[];
}

/**
 * The user by wallet address, created with an empty public profile when new. Nothing a person sends
 * reaches the public profile here: display name, contact and logo become public through moderation
 * (an approved listing that brought them, or an approved profile edit).
 */
export async function ensureUser(trx: Knex, walletAddress: string): Promise<number> {
  const [row] = await trx('users')
    .insert({ wallet_address: walletAddress.toLowerCase() })
    .onConflict('wallet_address')
    .merge({ updated_at: trx.fn.now() })
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
    const userId = await ensureUser(trx, input.owner.walletAddress);
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
        logo_key: l.logoKey ?? input.owner.logoKey ?? null,
        manifest_key: l.manifestKey ?? null,
        renditions: l.renditions ? JSON.stringify(l.renditions) : null,
        storyboard_key: l.storyboardKey ?? null,
        contact: input.owner.contact ?? null,
        display_name: input.owner.displayName ?? null,
        price_amount: l.price?.amount ?? null,
        price_currency: l.price?.currency ?? null,
        language: l.language ?? null,
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
