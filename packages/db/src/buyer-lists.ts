import type { Knex } from 'knex';
import { type ListingSearch, type ListingView, searchListings } from './read.js';

/** The most favourites one wallet keeps (the list is read whole, to mark hearts). */
export const MAX_FAVOURITES_PER_WALLET = 200;
/** The most saved searches one wallet keeps (each is matched against every new listing). */
export const MAX_SAVED_SEARCHES_PER_WALLET = 20;

/** A wallet is at one of its limits (favourites or saved searches). */
export class BuyerListFullError extends Error {
  override readonly name = 'BuyerListFullError';
  constructor(
    readonly list: 'favourites' | 'saved_searches',
    readonly limit: number,
  ) {
    super(`at most ${limit} ${list === 'favourites' ? 'favourites' : 'saved searches'} per wallet; remove one first`);
  }
}

/** A saved search with that name exists for this wallet. */
export class SavedSearchNameTakenError extends Error {
  override readonly name = 'SavedSearchNameTakenError';
  constructor(readonly savedName: string) {
    super(`a saved search named "${savedName}" exists; pick another name or remove it first`);
  }
}

/** Marks a listing as a wallet's favourite; true if it was not one yet. The caller checks the listing is public. */
export async function addFavourite(db: Knex, walletAddress: string, listingId: string): Promise<boolean> {
  const wallet = walletAddress.toLowerCase();
  return db.transaction(async (trx) => {
    // Serialises one wallet's additions, so two at once cannot both pass the limit.
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`favourites:${wallet}`]);
    const counted = await trx('favourites').where({ wallet_address: wallet }).count<{ count: string }[]>({ count: '*' });
    const exists = await trx('favourites').where({ wallet_address: wallet, listing_id: listingId }).first();
    if (exists) return false;
    if (Number(counted[0]?.count ?? 0) >= MAX_FAVOURITES_PER_WALLET) throw new BuyerListFullError('favourites', MAX_FAVOURITES_PER_WALLET);
    await trx('favourites').insert({ wallet_address: wallet, listing_id: listingId });
    return true;
  });
}

/** Removes a favourite; false if it was not one. */
export async function removeFavourite(db: Knex, walletAddress: string, listingId: string): Promise<boolean> {
  return (await db('favourites').where({ wallet_address: walletAddress.toLowerCase(), listing_id: listingId }).delete()) > 0;
}

/**
 * A wallet's favourite listings the public may still see, most recently favourited first (a sold
 * listing shows while its sold display lasts; an expired or removed one drops out, its row kept so
 * it shows again once renewed).
 */
export async function favouriteListings(db: Knex, walletAddress: string): Promise<ListingView[]> {
  const rows: { listing_id: string }[] = await db('favourites')
    .where({ wallet_address: walletAddress.toLowerCase() })
    .orderBy('created_at', 'desc')
    .select('listing_id');
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.listing_id);
  const { items } = await searchListings(db, { ids, limit: ids.length });
  const order = new Map(ids.map((id, index) => [id, index]));
  return items.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

/**
 * The filters of a saved search: the read API's search as it parsed the browse page's query (tags,
 * near and radius, price range, currency, and whatever the search grows, such as words), without paging.
 */
export type SavedFilters = Omit<ListingSearch, 'cursor' | 'limit' | 'status' | 'ids' | 'owner'> & Record<string, unknown>;

export interface SavedSearch {
  id: string;
  walletAddress: string;
  name: string;
  /** The browse page's query string, to open the search again. */
  query: string;
  filters: SavedFilters;
  createdAt: string;
}

interface SavedSearchRow {
  id: string;
  wallet_address: string;
  name: string;
  query: string;
  filters: SavedFilters;
  created_at: Date;
}

const toSavedSearch = (row: SavedSearchRow): SavedSearch => ({
  id: row.id,
  walletAddress: row.wallet_address,
  name: row.name,
  query: row.query,
  filters: row.filters,
  createdAt: row.created_at.toISOString(),
});

/** Saves a search for a wallet (name unique per wallet, at most MAX_SAVED_SEARCHES_PER_WALLET). */
export async function createSavedSearch(db: Knex, input: { walletAddress: string; name: string; query: string; filters: SavedFilters }): Promise<SavedSearch> {
  const wallet = input.walletAddress.toLowerCase();
  return db.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`saved-searches:${wallet}`]);
    const existing: { name: string }[] = await trx('saved_searches').where({ wallet_address: wallet }).select('name');
    if (existing.some((row) => row.name === input.name)) throw new SavedSearchNameTakenError(input.name);
    if (existing.length >= MAX_SAVED_SEARCHES_PER_WALLET) throw new BuyerListFullError('saved_searches', MAX_SAVED_SEARCHES_PER_WALLET);
    const [row] = await trx('saved_searches')
      .insert({ wallet_address: wallet, name: input.name, query: input.query, filters: JSON.stringify(input.filters) })
      .returning<SavedSearchRow[]>('*');
    return toSavedSearch(row as SavedSearchRow);
  });
}

/** A wallet's saved searches, oldest first. */
export async function listSavedSearches(db: Knex, walletAddress: string): Promise<SavedSearch[]> {
  const rows: SavedSearchRow[] = await db('saved_searches').where({ wallet_address: walletAddress.toLowerCase() }).orderBy('created_at').select('*');
  return rows.map(toSavedSearch);
}

/** Removes a saved search of this wallet (its alerts stop at once); false if it has none by that id. */
export async function deleteSavedSearch(db: Knex, walletAddress: string, id: string): Promise<boolean> {
  return (await db('saved_searches').where({ id, wallet_address: walletAddress.toLowerCase() }).delete()) > 0;
}

/**
 * The saved searches a listing matches, by running each one's filters through the read API's search
 * restricted to that listing (so a match is exactly what the search would show, words included once
 * the search has them). The listing's own seller is not alerted about it. One query per saved search,
 * in pages: run once per approval, in the notifier's background queue.
 */
export async function savedSearchesMatching(db: Knex, listingId: string, sellerWallet: string, pageSize = 200): Promise<SavedSearch[]> {
  const matched: SavedSearch[] = [];
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows: SavedSearchRow[] = await db('saved_searches')
      .where('id', '>', after)
      .whereNot('wallet_address', sellerWallet.toLowerCase())
      .orderBy('id')
      .limit(pageSize)
      .select('*');
    for (const row of rows) {
      const page = await searchListings(db, { ...row.filters, ids: [listingId], limit: 1 });
      if (page.items.length > 0) matched.push(toSavedSearch(row));
    }
    if (rows.length < pageSize) return matched;
    after = (rows[rows.length - 1] as SavedSearchRow).id;
  }
}

/** Records that a saved search was told of a listing; false if it already was (nothing to send). */
export async function recordSavedSearchAlert(db: Knex, savedSearchId: string, listingId: string): Promise<boolean> {
  const inserted = await db('saved_search_alerts')
    .insert({ saved_search_id: savedSearchId, listing_id: listingId })
    .onConflict(['saved_search_id', 'listing_id'])
    .ignore()
    .returning('listing_id');
  return inserted.length > 0;
}

/** Forgets an alert (its push could not be queued: the job's retry sends it). */
export async function forgetSavedSearchAlert(db: Knex, savedSearchId: string, listingId: string): Promise<void> {
  await db('saved_search_alerts').where({ saved_search_id: savedSearchId, listing_id: listingId }).delete();
}
