import { Router } from 'express';
import { HashtagError, normalizeHashtag } from '@reelboard/contracts';
import { autocompleteHashtags, findListing, findUserProfile, InvalidCursorError, searchListings, type Knex, type ListingSearch, type ListingView } from '@reelboard/db';
import type { ObjectStorage } from '@reelboard/storage';
import { HttpError } from './http-error.js';

export interface ListingRoutesDeps {
  db: Knex;
  storage: ObjectStorage;
  /** Seconds a client or proxy may cache a read answer (kept below the URL lifetime). */
  cacheSeconds: number;
}

/** A listing as the API answers it: URLs instead of object keys, distance in km when searched near a point. */
export interface ListingItem {
  id: string;
  title: string;
  description: string;
  hashtags: string[];
  owner: { wallet: string; displayName: string | null };
  location: { latitude: number; longitude: number };
  distanceKm?: number;
  video: { url: string; width: number; height: number; durationSeconds: number; bytes: number };
  previewUrl: string;
  posterUrl: string;
  logoUrl: string | null;
  /** The asking price, if any. */
  price: { amount: string; currency: string } | null;
  /** How to reach the seller (public once the listing is approved). */
  contact: string | null;
  /** `active`, or `sold` while a sold listing is still shown. */
  state: 'active' | 'sold';
  soldAt: string | null;
  /** The end of the paid period. */
  expiresAt: string | null;
  createdAt: string;
}

/** Turns a stored listing into its public form, with presigned (or CDN) URLs. */
export async function presentListing(storage: ObjectStorage, view: ListingView): Promise<ListingItem> {
  const [video, preview, poster, logo] = await Promise.all([
    storage.urlFor(view.objects.video),
    storage.urlFor(view.objects.preview),
    storage.urlFor(view.objects.poster),
    view.objects.logo ? storage.urlFor(view.objects.logo) : Promise.resolve(null),
  ]);
  return {
    id: view.id,
    title: view.title,
    description: view.description,
    hashtags: view.hashtags,
    owner: { wallet: view.owner.walletAddress, displayName: view.owner.displayName },
    location: view.location,
    ...(view.distanceMeters !== undefined ? { distanceKm: Math.round(view.distanceMeters) / 1000 } : {}),
    video: { url: video, width: view.width, height: view.height, durationSeconds: view.durationSeconds, bytes: view.videoBytes },
    previewUrl: preview,
    posterUrl: poster,
    logoUrl: logo,
    price: view.price,
    contact: view.contact,
    state: view.state === 'sold' ? 'sold' : 'active',
    soldAt: view.soldAt,
    expiresAt: view.expiresAt,
    createdAt: view.createdAt,
  };
}

const bad = (message: string, field: string) => new HttpError(400, 'invalid_query', message, { field });
const WALLET = /^0x[0-9a-fA-F]{40}$/;

function single(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw bad(`${field} must be given once`, field);
  return value;
}

/** `tags=cars,#Berlin` as normalised tags; a bad tag is a 400 naming it. */
export function parseTagsParam(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const parts = raw.split(/[\s,]+/).filter((part) => part !== '');
  try {
    const tags = [...new Set(parts.map(normalizeHashtag))];
    if (tags.length > 10) throw bad('at most 10 tags per search', 'tags');
    return tags;
  } catch (error) {
    if (error instanceof HashtagError) throw new HttpError(400, 'invalid_hashtag', error.message, { field: 'tags', tag: error.tag });
    throw error;
  }
}

function parseNear(raw: string | undefined): ListingSearch['near'] {
  if (raw === undefined) return undefined;
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(raw);
  const latitude = Number(match?.[1]);
  const longitude = Number(match?.[2]);
  if (!match || latitude < -90 || latitude > 90 || longitude < -180 || longitude > 180) {
    throw bad('near must be "<latitude>,<longitude>" with latitude in -90..90 and longitude in -180..180', 'near');
  }
  return { latitude, longitude };
}

function parseNumber(raw: string | undefined, field: string, min: number, max: number, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw bad(`${field} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`, field);
  }
  return value;
}

/** Reads the search parameters of `GET /v1/listings`; anything wrong is a 400 naming the parameter. */
export function parseListingQuery(query: Record<string, unknown>): Omit<ListingSearch, 'status'> {
  const match = single(query.match, 'match') ?? 'all';
  if (match !== 'all' && match !== 'any') throw bad('match must be all or any', 'match');
  const near = parseNear(single(query.near, 'near'));
  const radiusKm = parseNumber(single(query.radiusKm, 'radiusKm'), 'radiusKm', 0.001, 20_037, false);
  if (radiusKm !== undefined && !near) throw bad('radiusKm needs near', 'radiusKm');
  const owner = single(query.owner, 'owner');
  if (owner !== undefined && !WALLET.test(owner)) throw bad('owner must be a 0x-prefixed 20-byte wallet address', 'owner');
  const priceMin = parseNumber(single(query.priceMin, 'priceMin'), 'priceMin', 0, 1e12, false);
  const priceMax = parseNumber(single(query.priceMax, 'priceMax'), 'priceMax', 0, 1e12, false);
  if (priceMin !== undefined && priceMax !== undefined && priceMin > priceMax) throw bad('priceMin must not be above priceMax', 'priceMin');
  const currency = single(query.currency, 'currency')?.toUpperCase();
  if (currency !== undefined && !/^[A-Z]{3}$/.test(currency)) throw bad('currency must be an ISO 4217 code such as EUR', 'currency');
  return {
    priceMin,
    priceMax,
    currency,
    tags: parseTagsParam(single(query.tags, 'tags')),
    match,
    near,
    radiusKm,
    owner: owner?.toLowerCase(),
    cursor: single(query.cursor, 'cursor'),
    limit: parseNumber(single(query.limit, 'limit'), 'limit', 1, 100, true) ?? 20,
  };
}

/** Runs a search, mapping a foreign cursor to a 400. */
export async function searchPage(db: Knex, storage: ObjectStorage, search: ListingSearch): Promise<{ items: ListingItem[]; nextCursor: string | null }> {
  try {
    const page = await searchListings(db, search);
    return { items: await Promise.all(page.items.map((view) => presentListing(storage, view))), nextCursor: page.nextCursor };
  } catch (error) {
    if (error instanceof InvalidCursorError) throw new HttpError(400, 'invalid_cursor', error.message, { field: 'cursor' });
    throw error;
  }
}

/** The public read API: approved listings by hashtags, distance and owner; hashtag autocomplete; profiles. */
export function listingRoutes({ db, storage, cacheSeconds }: ListingRoutesDeps): Router {
  const router = Router();
  const cache = `public, max-age=${cacheSeconds}`;

  router.get('/v1/listings', async (req, res) => {
    const search = parseListingQuery(req.query);
    res.set('cache-control', cache).json(await searchPage(db, storage, search));
  });

  router.get('/v1/listings/:id', async (req, res) => {
    const listing = await findListing(db, req.params.id);
    if (!listing) {
      // A listing that was public and ran out (expired, or sold past its display) says so: 410, not 404.
      const gone = await findListing(db, req.params.id, { anyStatus: true });
      if (gone?.moderationStatus === 'approved' && (gone.state === 'sold' || (gone.state === 'active' && gone.expiresAt !== null))) {
        const state = gone.state === 'sold' ? 'sold' : 'expired';
        throw new HttpError(410, `listing_${state}`, `listing ${gone.id} is ${state} and no longer shown`, { state, title: gone.title });
      }
      throw new HttpError(404, 'listing_not_found', `no public listing ${req.params.id}`);
    }
    res.set('cache-control', cache).json(await presentListing(storage, listing));
  });

  router.get('/v1/hashtags', async (req, res) => {
    const raw = single(req.query.prefix, 'prefix') ?? '';
    let prefix: string;
    try {
      prefix = normalizeHashtag(raw);
    } catch (error) {
      if (error instanceof HashtagError) throw new HttpError(400, 'invalid_hashtag', `prefix ${error.message}`, { field: 'prefix', tag: raw });
      throw error;
    }
    const limit = parseNumber(single(req.query.limit, 'limit'), 'limit', 1, 50, true) ?? 10;
    res.set('cache-control', cache).json({ prefix, hashtags: await autocompleteHashtags(db, prefix, limit) });
  });

  router.get('/v1/users/:wallet', async (req, res) => {
    const wallet = req.params.wallet;
    if (!WALLET.test(wallet)) throw bad('wallet must be a 0x-prefixed 20-byte address', 'wallet');
    const profile = await findUserProfile(db, wallet);
    if (!profile) throw new HttpError(404, 'user_not_found', `no user with wallet ${wallet.toLowerCase()}`);
    const limit = parseNumber(single(req.query.limit, 'limit'), 'limit', 1, 100, true) ?? 20;
    const listings = await searchPage(db, storage, { owner: profile.walletAddress, limit, cursor: single(req.query.cursor, 'cursor') });
    res.set('cache-control', cache).json({
      wallet: profile.walletAddress,
      displayName: profile.displayName,
      contact: profile.contact,
      logoUrl: profile.logoKey ? await storage.urlFor(profile.logoKey) : null,
      memberSince: profile.createdAt,
      listingCount: profile.listings,
      listings,
    });
  });

  return router;
}
