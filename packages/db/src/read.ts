import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { applyTagFilter, hashtagIds } from './hashtags.js';
import { PUBLIC_LISTING } from './visibility.js';

export type ModerationStatus = 'pending' | 'approved' | 'rejected';
/** What the owner did with a listing (moderation is separate: see ModerationStatus). */
export type OwnerState = 'active' | 'sold' | 'withdrawn' | 'removed';
/** An asking price: a decimal amount (at most 2 decimals) in an ISO 4217 currency. */
export interface Price {
  amount: string;
  currency: string;
}

/** One rung of a listing's rendition ladder. */
export interface Rendition {
  width: number;
  height: number;
  bitrateKbps: number;
}

/** A listing as the read side shows it (object keys, not URLs: the gateway makes URLs). */
export interface ListingView {
  id: string;
  title: string;
  description: string;
  /**
   * Object keys. `manifest` (a DASH MPD, segments under its prefix) and `storyboard` (a WebVTT index
   * of sprite sheets) are null for listings saved before adaptive streaming; `video` (the progressive
   * WebM) is always there, the fallback for players without Media Source Extensions.
   */
  objects: { video: string; preview: string; poster: string; logo: string | null; manifest: string | null; storyboard: string | null };
  /** The manifest's rungs, lowest first (empty without a manifest). */
  renditions: Rendition[];
  durationSeconds: number;
  width: number;
  height: number;
  videoBytes: number;
  location: { latitude: number; longitude: number };
  moderationStatus: ModerationStatus;
  /** active, sold, withdrawn or removed. */
  state: OwnerState;
  price: Price | null;
  /** The contact the listing shows (public once the listing is approved). */
  contact: string | null;
  /** The end of the paid period (null until approved). */
  expiresAt: string | null;
  soldAt: string | null;
  /** Until when the public sees it; null when never (withdrawn, removed, not approved yet). */
  visibleUntil: string | null;
  hashtags: string[];
  owner: { walletAddress: string; displayName: string | null };
  /** Metres from the search point, when the search had one. */
  distanceMeters?: number;
  createdAt: string;
}

/** How a page is ordered; `relevance` needs `q`, `nearest` needs `near`. */
export type ListingSort = 'relevance' | 'newest' | 'nearest' | 'price_asc' | 'price_desc';

export interface ListingSearch {
  /** Words to find in title (weighted most), hashtags and description (web-search syntax: "quotes", or, -not). */
  q?: string | undefined;
  /** The searcher's ISO 639-1 language: its stemming joins the language-neutral match. */
  language?: string | undefined;
  /** Default: relevance with `q`, else nearest with `near`, else newest. */
  sort?: ListingSort | undefined;
  /** Normalised tags. */
  tags?: string[] | undefined;
  match?: 'all' | 'any' | undefined;
  near?: { latitude: number; longitude: number } | undefined;
  /** Only with `near`. */
  radiusKm?: number | undefined;
  /** Lower-case wallet address. */
  owner?: string | undefined;
  /** From the previous page's `nextCursor`. */
  cursor?: string | undefined;
  limit: number;
  /** Only listings with a price of at least this amount (in any currency unless `currency` is given). */
  priceMin?: number | undefined;
  /** Only listings with a price of at most this amount. */
  priceMax?: number | undefined;
  /** Only listings priced in this ISO 4217 currency. */
  currency?: string | undefined;
  /**
   * Public reads (absent) see what the public may see: approved and inside its visible period (see
   * PUBLIC_LISTING). Moderators ask for a moderation status; removed listings are never listed.
   */
  status?: ModerationStatus | undefined;
  /** Only these listings (a wallet's favourites; a new listing matched against a saved search). */
  ids?: string[] | undefined;
}

export interface ListingPage {
  items: ListingView[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
  /**
   * With `q`: `words` when the full-text search matched, `similar` when it matched nothing and the
   * page holds listings whose title or hashtags are spelt close to the words (typo tolerance).
   */
  matched?: 'words' | 'similar';
}

/** A cursor that was not made by this search (tampered, or from a differently sorted search). */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  constructor() {
    super('cursor is not valid for this search; start again without it');
  }
}

type CursorPosition =
  | { by: 'distance'; d: number; id: string }
  | { by: 'newest'; t: string; id: string }
  | { by: 'relevance'; r: string; id: string }
  | { by: 'price_asc' | 'price_desc'; p: string | null; id: string };
/**
 * A page's last position, with (for a search by words) a fingerprint of the words and language
 * (`f`, so a cursor carried over to other words is refused rather than skipping listings) and
 * whether the pages are of similar spellings (`m`).
 */
type Cursor = CursorPosition & { f?: string; m?: 'similar' };

const encodeCursor = (cursor: Cursor) => Buffer.from(JSON.stringify(cursor)).toString('base64url');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/**
 * Postgres's own text form of a timestamptz (what `created_at::text` gives), with a real date and
 * time: the only `t` a cursor of ours carries. Anything looser (what `Date.parse` accepts, `1`, a
 * 31st of February) could reach Postgres and fail there as a 500 instead of a 400.
 */
const PG_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?([+-]\d{2}(?::\d{2})?)$/;

function validTimestamp(text: string): boolean {
  const match = PG_TIMESTAMP.exec(text);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  const [offsetHours = 99, offsetMinutes = 0] = (match[8] ?? '').slice(1).split(':').map(Number);
  return (
    year >= 1970 &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    hour < 24 &&
    minute < 60 &&
    second < 60 &&
    offsetHours <= 15 &&
    offsetMinutes < 60
  );
}

/** A real's text form as Postgres prints it (a rank), and a price as numeric(14,2) prints it. */
const REAL_TEXT = /^-?\d+(\.\d+)?(e[-+]?\d+)?$/;
const PRICE_TEXT = /^\d{1,12}(\.\d{1,2})?$/;

function decodeCursor(raw: string, by: Cursor['by'], fingerprint: string | undefined): Cursor {
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Cursor;
    const idOk = typeof value === 'object' && value !== null && typeof value.id === 'string' && UUID.test(value.id);
    const sameWords = idOk && value.f === fingerprint && (value.m === undefined || (value.m === 'similar' && fingerprint !== undefined));
    if (!sameWords || value.by !== by) throw new InvalidCursorError();
    if (value.by === 'distance' && typeof value.d === 'number' && Number.isFinite(value.d) && value.d >= 0) return value;
    if (value.by === 'newest' && typeof value.t === 'string' && validTimestamp(value.t)) return value;
    if (value.by === 'relevance' && typeof value.r === 'string' && REAL_TEXT.test(value.r)) return value;
    if ((value.by === 'price_asc' || value.by === 'price_desc') && (value.p === null || (typeof value.p === 'string' && PRICE_TEXT.test(value.p))))
      return value;
  } catch {
    // falls through to the error
  }
  throw new InvalidCursorError();
}

interface ListingRow {
  id: string;
  title: string;
  description: string;
  video_key: string;
  preview_key: string;
  poster_key: string;
  logo_key: string | null;
  manifest_key: string | null;
  storyboard_key: string | null;
  renditions: Rendition[] | null;
  duration_seconds: number;
  width: number;
  height: number;
  video_bytes: string;
  latitude: number;
  longitude: number;
  moderation_status: ModerationStatus;
  state: OwnerState;
  price_amount: string | null;
  price_currency: string | null;
  contact: string | null;
  expires_at: Date | null;
  sold_at: Date | null;
  visible_until: Date | null;
  hashtags: string[];
  wallet_address: string;
  display_name: string | null;
  distance_m?: number;
  created_at: Date;
  created_cursor: string;
  rank_cursor?: string;
}

function toView(row: ListingRow): ListingView {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    objects: {
      video: row.video_key,
      preview: row.preview_key,
      poster: row.poster_key,
      logo: row.logo_key,
      manifest: row.manifest_key,
      storyboard: row.storyboard_key,
    },
    renditions: row.renditions ?? [],
    durationSeconds: row.duration_seconds,
    width: row.width,
    height: row.height,
    videoBytes: Number(row.video_bytes),
    location: { latitude: row.latitude, longitude: row.longitude },
    moderationStatus: row.moderation_status,
    state: row.state,
    price: row.price_amount !== null && row.price_currency !== null ? { amount: row.price_amount, currency: row.price_currency } : null,
    contact: row.contact,
    expiresAt: row.expires_at?.toISOString() ?? null,
    soldAt: row.sold_at?.toISOString() ?? null,
    visibleUntil: row.visible_until?.toISOString() ?? null,
    hashtags: row.hashtags,
    owner: { walletAddress: row.wallet_address, displayName: row.display_name },
    ...(row.distance_m !== undefined && row.distance_m !== null ? { distanceMeters: row.distance_m } : {}),
    createdAt: row.created_at.toISOString(),
  };
}

/**
 * Decorates listing rows (`source`, a query over `listings` or a page of it) with their owner and
 * hashtags, in the shape `toView` reads. Kept apart from the search so that the search itself
 * touches one table and its indexes, and the joins run for the returned page only.
 */
function decorate(db: Knex, source: Knex.QueryBuilder): Knex.QueryBuilder {
  return db.from(source.as('l')).join('users as u', 'u.id', 'l.user_id').select(
    'l.id',
    'l.title',
    'l.description',
    'l.video_key',
    'l.preview_key',
    'l.poster_key',
    'l.logo_key',
    'l.manifest_key',
    'l.storyboard_key',
    'l.renditions',
    'l.duration_seconds',
    'l.width',
    'l.height',
    'l.video_bytes',
    'l.moderation_status',
    'l.state',
    'l.price_amount',
    'l.price_currency',
    'l.contact',
    'l.expires_at',
    'l.sold_at',
    'l.visible_until',
    'l.created_at',
    'u.wallet_address',
    'u.display_name',
    db.raw('ST_Y(l.location::geometry) AS latitude'),
    db.raw('ST_X(l.location::geometry) AS longitude'),
    // Microsecond-exact, unlike a JS Date, so the newest-first cursor never skips or repeats.
    db.raw('l.created_at::text AS created_cursor'),
    db.raw('ARRAY(SELECT h.tag FROM listing_hashtags lh JOIN hashtags h ON h.id = lh.hashtag_id WHERE lh.listing_id = l.id ORDER BY h.tag) AS hashtags'),
  );
}

/** A search point as a geography literal, folded to a constant by the planner. */
const geographyPoint = (db: Knex, near: NonNullable<ListingSearch['near']>) =>
  db.raw('ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography', [near.longitude, near.latitude]);

/**
 * The page nearest first, exactly in (distance, seq) order, so one walk of
 * listings_approved_nearest (GiST on location, seq and tag_ids) yields it and stops: both ORDER BY
 * terms are distance operators of that index, and tags and radius are conditions on its entries. `<->` on geography is the sphere distance; the order, the
 * reported distance and the cursor all use that same number.
 */
function nearestPage(
  db: Knex,
  page: Knex.QueryBuilder,
  search: ListingSearch,
  near: NonNullable<ListingSearch['near']>,
  cursor: Cursor | undefined,
): Knex.QueryBuilder {
  const distance = distanceFrom(db, near);
  if (cursor?.by === 'distance') {
    // The cursor names the last listing by id (its format predates seq); that listing's seq breaks the tie.
    page.whereRaw('(? > ? OR (? = ? AND l.seq > (SELECT c.seq FROM listings c WHERE c.id = ?)))', [distance, cursor.d, distance, cursor.d, cursor.id]);
  }
  page.orderByRaw('? ASC, (l.seq::float8 <-> 0::float8) ASC', [distance]).limit(search.limit + 1);
  return decorate(db, page)
    .select('l.distance_m')
    .orderBy([{ column: 'l.distance_m' }, { column: 'l.seq' }]);
}

/** The page newest first on (created_at, id): listings_status_newest, or listings_owner_approved_newest for an owner. */
function newestPage(db: Knex, page: Knex.QueryBuilder, search: ListingSearch, cursor: Cursor | undefined): Knex.QueryBuilder {
  if (cursor?.by === 'newest') page.whereRaw('(l.created_at, l.id) < (?::timestamptz, ?::uuid)', [cursor.t, cursor.id]);
  const newest = [
    { column: 'l.created_at', order: 'desc' },
    { column: 'l.id', order: 'desc' },
  ];
  page.orderBy(newest).limit(search.limit + 1);
  return decorate(db, page).orderBy(newest);
}

/** The sphere distance from the search point, the same expression the nearest-first index walk orders by. */
const distanceFrom = (db: Knex, near: NonNullable<ListingSearch['near']>) => db.raw('(l.location <-> ?)', [geographyPoint(db, near)]);

/**
 * The page by rank, best first, on (rank, id): ranks are reals printed exactly by Postgres, and the
 * cursor compares against that same printed value cast back, so no listing is skipped or repeated.
 */
function relevancePage(db: Knex, page: Knex.QueryBuilder, search: ListingSearch, rank: Knex.Raw, cursor: Cursor | undefined): Knex.QueryBuilder {
  page.select(db.raw('? AS rank', [rank]), db.raw('(?)::text AS rank_cursor', [rank]));
  if (cursor?.by === 'relevance') page.whereRaw('(? < ?::real OR (? = ?::real AND l.id < ?::uuid))', [rank, cursor.r, rank, cursor.r, cursor.id]);
  page.orderByRaw('? DESC, l.id DESC', [rank]).limit(search.limit + 1);
  return decorate(db, page)
    .select('l.rank_cursor')
    .orderBy([
      { column: 'l.rank', order: 'desc' },
      { column: 'l.id', order: 'desc' },
    ]);
}

/** The page by asking price (cheapest or dearest first), listings without a price last, on (price, id). */
function pricePage(db: Knex, page: Knex.QueryBuilder, search: ListingSearch, by: 'price_asc' | 'price_desc', cursor: Cursor | undefined): Knex.QueryBuilder {
  const [order, after] = by === 'price_asc' ? (['ASC', '>'] as const) : (['DESC', '<'] as const);
  if (cursor?.by === by) {
    if (cursor.p === null) page.whereRaw(`l.price_amount IS NULL AND l.id ${after} ?::uuid`, [cursor.id]);
    else
      page.whereRaw(`(l.price_amount ${after} ?::numeric OR (l.price_amount = ?::numeric AND l.id ${after} ?::uuid) OR l.price_amount IS NULL)`, [
        cursor.p,
        cursor.p,
        cursor.id,
      ]);
  }
  const ordering = `l.price_amount ${order} NULLS LAST, l.id ${order}`;
  page.orderByRaw(ordering).limit(search.limit + 1);
  return decorate(db, page).orderByRaw(ordering);
}

const CURSOR_KIND: Record<ListingSort, Cursor['by']> = {
  relevance: 'relevance',
  newest: 'newest',
  nearest: 'distance',
  price_asc: 'price_asc',
  price_desc: 'price_desc',
};

/** A sort the search cannot give (relevance without words, nearest without a point). */
export class UnsupportedSortError extends Error {
  override readonly name = 'UnsupportedSortError';
}

/** Words as a search matches them: full text, or (when that found nothing) similar spellings. */
interface TextMatch {
  condition: Knex.Raw;
  rank: Knex.Raw;
}

function wordsMatch(db: Knex, q: string, language: string | undefined): TextMatch {
  // websearch_to_tsquery never fails on syntax (unbalanced quotes, lone operators): the worst is an
  // empty query, which matches nothing. The language-neutral query always joins the stemmed one.
  const query = db.raw(`(websearch_to_tsquery('simple', ?) || websearch_to_tsquery(reelboard_text_search_config(?), ?))`, [q, language ?? null, q]);
  return { condition: db.raw('l.search_vector @@ ?', [query]), rank: db.raw('ts_rank(l.search_vector, ?)', [query]) };
}

function similarMatch(db: Knex, q: string): TextMatch {
  return { condition: db.raw('? <% l.search_words', [q]), rank: db.raw('word_similarity(?, l.search_words)', [q]) };
}

/**
 * How close a spelling must be for `similar` matches (pg_trgm's word_similarity, 0..1). The default
 * 0.6 misses a swapped pair of letters in a 7-letter word ("bicylce"); 0.45 finds it without
 * matching unrelated words of the same length.
 */
const SIMILARITY_THRESHOLD = 0.45;

/**
 * Listings by words, hashtags (all or any), distance, price and owner, in the asked order (relevance
 * with `q`, nearest with `near`, else newest by default), one keyset page at a time. Words are
 * matched by full-text search; when that finds nothing, by similar spelling (typos). Public by
 * default: approved listings only.
 */
export async function searchListings(db: Knex, search: ListingSearch): Promise<ListingPage> {
  const q = search.q?.trim() ? search.q.trim() : undefined;
  const sort: ListingSort = search.sort ?? (q ? 'relevance' : search.near ? 'nearest' : 'newest');
  if (sort === 'relevance' && !q) throw new UnsupportedSortError('sort=relevance needs words to rank by (q)');
  if (sort === 'nearest' && !search.near) throw new UnsupportedSortError('sort=nearest needs a point (near)');
  const fingerprint = q
    ? createHash('sha256')
        .update(`${q}\u0000${search.language ?? ''}`)
        .digest('base64url')
        .slice(0, 12)
    : undefined;
  const cursor = search.cursor ? decodeCursor(search.cursor, CURSOR_KIND[sort], fingerprint) : undefined;
  if (!q) return searchPage(db, search, sort, undefined, cursor);
  const similar = async (): Promise<ListingPage> =>
    db.transaction(async (trx) => {
      await trx.raw(`SET LOCAL pg_trgm.word_similarity_threshold = ${SIMILARITY_THRESHOLD}`);
      return { ...(await searchPage(trx, search, sort, { mode: 'similar', match: similarMatch(trx, q), fingerprint }, cursor)), matched: 'similar' };
    });
  if (cursor?.m === 'similar') return similar();
  const exact = await searchPage(db, search, sort, { mode: 'words', match: wordsMatch(db, q, search.language), fingerprint }, cursor);
  // Only a first page falls back: later pages follow their cursor's kind.
  if (exact.items.length > 0 || cursor) return { ...exact, matched: 'words' };
  return similar();
}

async function searchPage(
  db: Knex,
  search: ListingSearch,
  sort: ListingSort,
  text: { mode: 'words' | 'similar'; match: TextMatch; fingerprint: string | undefined } | undefined,
  cursor: Cursor | undefined,
): Promise<ListingPage> {
  const by = CURSOR_KIND[sort];
  // The page is chosen from listings alone; decorate() joins owner and hashtags onto it afterwards.
  const page = db('listings as l').select('l.*');
  if (text) page.whereRaw('?', [text.match.condition]);
  if (search.near) {
    // Every sort reports the distance when the search has a point; only `nearest` orders by it.
    page.select(db.raw('? AS distance_m', [distanceFrom(db, search.near)]));
    if (search.radiusKm !== undefined) page.whereRaw('ST_DWithin(l.location, ?, ?)', [geographyPoint(db, search.near), search.radiusKm * 1000]);
  }
  if (search.status === undefined) page.whereRaw(PUBLIC_LISTING);
  else page.where('l.moderation_status', search.status).whereNot('l.state', 'removed');
  if (search.priceMin !== undefined) page.where('l.price_amount', '>=', search.priceMin);
  if (search.priceMax !== undefined) page.where('l.price_amount', '<=', search.priceMax);
  if (search.currency !== undefined) page.where('l.price_currency', search.currency);
  if (search.ids !== undefined) page.whereIn('l.id', search.ids);

  if (search.tags && search.tags.length > 0) {
    const ids = await hashtagIds(db, search.tags);
    const match = search.match ?? 'all';
    if (ids.size === 0 || (match === 'all' && ids.size < new Set(search.tags).size)) return { items: [], nextCursor: null };
    applyTagFilter(page, [...ids.values()], match);
  }
  if (search.owner) page.whereRaw('l.user_id = (SELECT u.id FROM users u WHERE u.wallet_address = ?)', [search.owner.toLowerCase()]);

  let query: Knex.QueryBuilder;
  if (by === 'distance' && search.near) query = nearestPage(db, page, search, search.near, cursor);
  else if (by === 'relevance' && text) query = relevancePage(db, page, search, text.match.rank, cursor);
  else if (by === 'price_asc' || by === 'price_desc') query = pricePage(db, page, search, by, cursor);
  else query = newestPage(db, page, search, cursor);
  if (search.near && by !== 'distance') query.select('l.distance_m');
  const rows: ListingRow[] = await query;
  const items = rows.slice(0, search.limit);
  const last = items[items.length - 1];
  let nextCursor: string | null = null;
  if (rows.length > search.limit && last) {
    const position: CursorPosition =
      by === 'distance'
        ? { by, d: Number(last.distance_m), id: last.id }
        : by === 'relevance'
          ? { by, r: String(last.rank_cursor), id: last.id }
          : by === 'price_asc' || by === 'price_desc'
            ? { by, p: last.price_amount, id: last.id }
            : { by, t: last.created_cursor, id: last.id };
    nextCursor = encodeCursor({ ...position, ...(text?.fingerprint ? { f: text.fingerprint } : {}), ...(text?.mode === 'similar' ? { m: 'similar' } : {}) });
  }
  return { items: items.map(toView), nextCursor };
}

/**
 * One listing by id, or undefined; public reads (the default) see it only while the public may (see
 * PUBLIC_LISTING). `anyStatus` finds it whatever its state, removed included.
 */
export async function findListing(db: Knex, id: string, options: { anyStatus?: boolean } = {}): Promise<ListingView | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
  const listing = db('listings as l').select('l.*').where('l.id', id.toLowerCase());
  if (!options.anyStatus) listing.whereRaw(PUBLIC_LISTING);
  const row: ListingRow | undefined = await decorate(db, listing).first();
  return row ? toView(row) : undefined;
}

/** A user's public profile. */
export interface UserProfile {
  walletAddress: string;
  displayName: string | null;
  contact: string | null;
  logoKey: string | null;
  createdAt: string;
  /** How many public listings they have. */
  listings: number;
}

/** A user by wallet address (any letter case), or undefined. */
export async function findUserProfile(db: Knex, walletAddress: string): Promise<UserProfile | undefined> {
  const row:
    | { wallet_address: string; display_name: string | null; contact: string | null; logo_key: string | null; created_at: Date; listings: string }
    | undefined = await db('users as u')
    .where('u.wallet_address', walletAddress.toLowerCase())
    .select('u.wallet_address', 'u.display_name', 'u.contact', 'u.logo_key', 'u.created_at')
    .select(db.raw(`(SELECT count(*) FROM listings l WHERE l.user_id = u.id AND ${PUBLIC_LISTING}) AS listings`))
    .first();
  if (!row) return undefined;
  return {
    walletAddress: row.wallet_address,
    displayName: row.display_name,
    contact: row.contact,
    logoKey: row.logo_key,
    createdAt: row.created_at.toISOString(),
    listings: Number(row.listings),
  };
}
