import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Knex, type ListingSearch, migrateToLatest, moderateListing, saveListing, searchListings } from '@reelboard/db';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';

let db: Knex;
// Tags unique to this run keep searches independent of other data in the test database.
const run = randomBytes(3).toString('hex');
const tag = (name: string) => `${name}_${run}`;
const listingIds: string[] = [];
const wallets: string[] = [];

async function saved(overrides: Parameters<typeof listingInput>[0] = {}) {
  const input = listingInput(overrides);
  await saveListing(db, input);
  listingIds.push(input.listingId);
  wallets.push(input.owner.walletAddress.toLowerCase());
  await moderateListing(db, { listingId: input.listingId, actor: 'test', action: 'approve' });
  return input;
}

const tagIdsOf = async (listingId: string): Promise<number[]> => (await db('listings').where({ id: listingId }).first('tag_ids')).tag_ids;
const hashtagIdsOf = async (tags: string[]): Promise<number[]> => (await db('hashtags').whereIn('tag', tags).orderBy('id').pluck('id')).map(Number);

/** Every page of a search, following the cursor. */
async function allPages(search: ListingSearch): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await searchListings(db, { ...search, cursor });
    pages.push(page.items.map((item) => item.title));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return pages;
}

beforeAll(async () => {
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 4 });
  await migrateToLatest(db);
});
afterAll(async () => {
  if (listingIds.length) await db('payments').whereIn('upload_id', listingIds).delete();
  if (listingIds.length) await db('listings').whereIn('id', listingIds).delete();
  if (wallets.length) await db('users').whereIn('wallet_address', wallets).delete();
  await db('hashtags').where('tag', 'like', `%\\_${run}`).delete();
  await db?.destroy();
});

describe("a listing's tag_ids (what tag searches filter on)", () => {
  it('follows listing_hashtags on save, on a repeated save and when a hashtag is deleted', async () => {
    const input = await saved({ tags: [tag('boat'), tag('sail'), tag('oak')] });
    expect(await tagIdsOf(input.listingId)).toEqual(await hashtagIdsOf([tag('boat'), tag('sail'), tag('oak')]));

    await saveListing(db, input);
    expect(await tagIdsOf(input.listingId)).toEqual(await hashtagIdsOf([tag('boat'), tag('sail'), tag('oak')]));

    // A cascade from hashtags is a delete on listing_hashtags too, so the trigger sees it.
    await db('hashtags')
      .where({ tag: tag('oak') })
      .delete();
    expect(await tagIdsOf(input.listingId)).toEqual(await hashtagIdsOf([tag('boat'), tag('sail')]));
    expect((await searchListings(db, { tags: [tag('boat'), tag('sail')], match: 'all', limit: 5 })).items.map((item) => item.id)).toEqual([input.listingId]);
  });

  it('is empty for a listing without hashtags, which tag searches then never return', async () => {
    const input = await saved({ tags: [] });
    expect(await tagIdsOf(input.listingId)).toEqual([]);
  });
});

describe('nearest-first pages', () => {
  // Listings at exactly the same point are tied on distance: a seller posting several from one address.
  const shop = { latitude: 50.0755, longitude: 14.4378 };

  beforeAll(async () => {
    for (const title of ['t1', 't2', 't3', 't4', 't5']) await saved({ tags: [tag('tied')], ...shop, title });
    await saved({ tags: [tag('tied')], latitude: 50.08, longitude: 14.44, title: 'near' });
    await saved({ tags: [tag('tied')], latitude: 50.2, longitude: 14.6, title: 'far' });
  });

  it('pages through listings tied on distance once each, whatever the page size', async () => {
    const expected = ['t1', 't2', 't3', 't4', 't5', 'near', 'far'];
    for (const limit of [1, 2, 3, 4, 7]) {
      const pages = await allPages({ tags: [tag('tied')], near: shop, limit });
      expect(pages.flat()).toEqual(expected);
      expect(pages.every((page) => page.length <= limit)).toBe(true);
    }
  });

  it('gives the same order with and without the tag filter, and with a radius', async () => {
    const near = { latitude: 50.0755, longitude: 14.4378 };
    const tagged = (await searchListings(db, { tags: [tag('tied')], near, limit: 7 })).items.map((item) => item.id);
    const withRadius = (await searchListings(db, { tags: [tag('tied')], near, radiusKm: 5, limit: 7 })).items.map((item) => item.id);
    expect(withRadius).toEqual(tagged.slice(0, 6));
    const untagged = (await searchListings(db, { near, radiusKm: 30, limit: 100 })).items.map((item) => item.id);
    expect(untagged.filter((id) => tagged.includes(id))).toEqual(tagged);
  });

  it('reports distances that never decrease along the pages', async () => {
    const distances: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await searchListings(db, { tags: [tag('tied')], near: { latitude: 50.1, longitude: 14.5 }, limit: 2, cursor });
      distances.push(...page.items.map((item) => item.distanceMeters ?? Number.NaN));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(distances).toHaveLength(7);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
  });
});
