import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectDatabase,
  InvalidCursorError,
  type Knex,
  type ListingSearch,
  migrateToLatest,
  moderateListing,
  saveListing,
  searchListings,
} from '@reelboard/db';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';

let db: Knex;
// A tag unique to this run scopes every search to this file's listings in a shared test database.
const run = randomBytes(3).toString('hex');
const scope = `words_${run}`;
const listingIds: string[] = [];
const wallets: string[] = [];

async function saved(overrides: Parameters<typeof listingInput>[0] = {}) {
  const input = listingInput({ ...overrides, tags: [scope, ...(overrides.tags ?? [])] });
  await saveListing(db, input);
  listingIds.push(input.listingId);
  wallets.push(input.owner.walletAddress.toLowerCase());
  await moderateListing(db, { listingId: input.listingId, actor: 'test', action: 'approve' });
  return input;
}

const search = (fields: Partial<ListingSearch>) => searchListings(db, { tags: [scope], limit: 20, ...fields });
const titles = async (fields: Partial<ListingSearch>) => (await search(fields)).items.map((item) => item.title);

/** Every page of a search, following the cursor, as titles. */
async function allPages(fields: Partial<ListingSearch>): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await search({ ...fields, cursor });
    seen.push(...page.items.map((item) => item.title));
    cursor = page.nextCursor ?? undefined;
  } while (cursor && seen.length < 100);
  return seen;
}

beforeAll(async () => {
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 4 });
  await migrateToLatest(db);
  await saved({
    title: 'Red bicycle',
    description: 'three gears, barely used',
    price: { amount: '120.00', currency: 'EUR' },
    latitude: 52.52,
    longitude: 13.405,
  });
  await saved({ title: 'Kids helmet', description: 'fits a red bicycle seat', price: { amount: '15.00', currency: 'EUR' }, latitude: 52.5, longitude: 13.4 });
  await saved({ title: 'Garden chair', tags: ['bicycle'], description: 'oak', price: { amount: '40.00', currency: 'EUR' }, latitude: 48.14, longitude: 11.58 });
  await saved({
    title: 'Running shoes',
    language: 'en',
    description: 'size 42',
    price: { amount: '40.00', currency: 'EUR' },
    latitude: 52.53,
    longitude: 13.41,
  });
  await saved({ title: 'Running jacket', description: 'no language given', latitude: 52.53, longitude: 13.41 });
  await saved({
    title: 'Zwei Fahrräder',
    language: 'de',
    description: 'gebraucht',
    price: { amount: '200.00', currency: 'EUR' },
    latitude: 52.51,
    longitude: 13.39,
  });
  await saved({ title: 'Sofa', description: 'grey', latitude: 52.52, longitude: 13.4 });
});
afterAll(async () => {
  if (listingIds.length) await db('listings').whereIn('id', listingIds).delete();
  if (wallets.length) await db('users').whereIn('wallet_address', wallets).delete();
  await db('hashtags').where('tag', scope).delete();
  await db?.destroy();
});

describe('search by words', () => {
  it('finds words in title, hashtags and description, the title weighing most, then hashtags, then description', async () => {
    const page = await search({ q: 'bicycle' });
    expect(page.items.map((item) => item.title)).toEqual(['Red bicycle', 'Garden chair', 'Kids helmet']);
    expect(page.matched).toBe('words');
    expect(await titles({ q: 'oak' })).toEqual(['Garden chair']);
  });

  it("stems in the listing's language, and matches words as written in every language", async () => {
    // `run` is the English stem of "Running": only the listing that says it is English has it.
    expect(await titles({ q: 'run' })).toEqual(['Running shoes']);
    expect((await titles({ q: 'running' })).sort()).toEqual(['Running jacket', 'Running shoes']);
    expect(await titles({ q: 'fahrrad' })).toEqual(['Zwei Fahrräder']);
    // The searcher's language stems the query too: "shoe" finds "shoes" only through English.
    expect(await titles({ q: 'shoe', language: 'en' })).toEqual(['Running shoes']);
  });

  it('reads web-search syntax: phrases, or, and words to leave out', async () => {
    expect(await titles({ q: '"red bicycle"' })).toEqual(['Red bicycle', 'Kids helmet']);
    expect(await titles({ q: 'bicycle -helmet -chair' })).toEqual(['Red bicycle']);
    expect((await titles({ q: 'sofa or oak' })).sort()).toEqual(['Garden chair', 'Sofa']);
  });

  it('falls back to similar spellings when no word matches, and says so', async () => {
    const page = await search({ q: 'bicylce' });
    expect(page.matched).toBe('similar');
    expect(page.items.map((item) => item.title)).toContain('Red bicycle');
    expect(await titles({ q: 'sofaa' })).toEqual(['Sofa']);
    expect((await search({ q: 'xylophone' })).items).toEqual([]);
  });

  it('combines words with hashtags, distance and a price range', async () => {
    const berlin = { latitude: 52.52, longitude: 13.405 };
    expect((await titles({ q: 'bicycle', near: berlin, radiusKm: 50 })).sort()).toEqual(['Kids helmet', 'Red bicycle']);
    expect(await titles({ q: 'bicycle', near: berlin, radiusKm: 50, priceMax: 100 })).toEqual(['Kids helmet']);
    expect(await titles({ q: 'bicycle', priceMin: 30, priceMax: 100, currency: 'EUR' })).toEqual(['Garden chair']);
    expect(await titles({ q: 'bicycle', tags: [scope, 'bicycle'] })).toEqual(['Garden chair']);
    // Every sort reports the distance when the search has a point.
    const page = await search({ q: 'bicycle', near: berlin, sort: 'price_asc' });
    expect(page.items.map((item) => item.distanceMeters !== undefined)).toEqual([true, true, true]);
  });
});

describe('sorts and their cursors', () => {
  const all = ['Red bicycle', 'Kids helmet', 'Garden chair', 'Running shoes', 'Running jacket', 'Zwei Fahrräder', 'Sofa'];

  it('pages every sort to the end without skipping or repeating, in its order', async () => {
    const newest = await allPages({ sort: 'newest', limit: 2 });
    expect(newest).toEqual([...all].reverse());
    const cheapest = await allPages({ sort: 'price_asc', limit: 2 });
    // Two at 40.00 tie: both come, once each; listings without a price come last.
    expect(cheapest.slice(0, 5)).toEqual(['Kids helmet', ...cheapest.slice(1, 3), 'Red bicycle', 'Zwei Fahrräder']);
    expect(cheapest.slice(1, 3).sort()).toEqual(['Garden chair', 'Running shoes']);
    expect(cheapest.slice(5).sort()).toEqual(['Running jacket', 'Sofa']);
    const dearest = await allPages({ sort: 'price_desc', limit: 2 });
    expect(dearest.slice(0, 2)).toEqual(['Zwei Fahrräder', 'Red bicycle']);
    expect(dearest.slice(5).sort()).toEqual(['Running jacket', 'Sofa']);
    expect(new Set(dearest).size).toBe(all.length);
    const nearest = await allPages({ sort: 'nearest', near: { latitude: 48.14, longitude: 11.58 }, limit: 3 });
    expect(nearest[0]).toBe('Garden chair');
    expect(new Set(nearest).size).toBe(all.length);
  });

  it('pages by relevance with ties, and by similar spellings', async () => {
    const byRank = await allPages({ q: 'bicycle', limit: 1 });
    expect(byRank).toEqual(['Red bicycle', 'Garden chair', 'Kids helmet']);
    const running = await allPages({ q: 'running', limit: 1 });
    expect(running.sort()).toEqual(['Running jacket', 'Running shoes']);
    const similar = await allPages({ q: 'runing', limit: 1 });
    expect(new Set(similar).size).toBe(similar.length);
    expect(similar).toEqual(expect.arrayContaining(['Running jacket', 'Running shoes']));
  });

  it('refuses a cursor of another sort, of other words, or one made up', async () => {
    const first = await search({ q: 'bicycle', limit: 1 });
    const cursor = first.nextCursor ?? '';
    await expect(search({ q: 'bicycle', limit: 1, sort: 'newest', cursor })).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(search({ q: 'helmet', limit: 1, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
    const forged = Buffer.from(JSON.stringify({ by: 'relevance', r: '1; DROP TABLE listings', id: listingIds[0] })).toString('base64url');
    await expect(search({ q: 'bicycle', cursor: forged })).rejects.toBeInstanceOf(InvalidCursorError);
    const price = Buffer.from(JSON.stringify({ by: 'price_asc', p: 'abc', id: listingIds[0] })).toString('base64url');
    await expect(search({ sort: 'price_asc', cursor: price })).rejects.toBeInstanceOf(InvalidCursorError);
  });
});

describe('hostile words', () => {
  it.each([
    ['an unbalanced quote', '"red bicycle'],
    ['operators alone', '- or | & ! <-> ()'],
    ['an SQL fragment', "'; DROP TABLE listings; --"],
    ['emoji', '🚲🚲 😀'],
    ['a backslash and percent signs', '\\%_\\'],
    ['a tsquery in its own syntax', "bicycle:* & !'x' | (a <2> b)"],
  ])('%s answers a page (maybe empty), never an error', async (_name, q) => {
    const page = await search({ q });
    expect(Array.isArray(page.items)).toBe(true);
    expect(await db('listings').whereIn('id', listingIds).count({ n: '*' })).toEqual([{ n: String(listingIds.length) }]);
  });

  it('finds the words inside an unbalanced quote', async () => {
    expect(await titles({ q: '"red bicycle' })).toEqual(['Red bicycle', 'Kids helmet']);
  });
});
