import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyCredit,
  autocompleteHashtags,
  connectDatabase,
  findListing,
  findUserProfile,
  InvalidCursorError,
  type Knex,
  ListingNotFoundError,
  listingIdsByTags,
  migrateToLatest,
  moderateListing,
  moderationHistory,
  recordQuote,
  saveListing,
  searchListings,
  upsertHashtags,
} from '@reelboard/db';
import { depositCredit, listingInput, quoteInput, randomWallet } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';

let db: Knex;
// Tags unique to this run keep counts and searches independent of other data in the test database.
const run = randomBytes(3).toString('hex');
const tag = (name: string) => `${name}_${run}`;
const listingIds: string[] = [];
const wallets: string[] = [];

async function saved(overrides: Parameters<typeof listingInput>[0] & { approve?: boolean } = {}) {
  const input = listingInput(overrides);
  await saveListing(db, input);
  listingIds.push(input.listingId);
  wallets.push(input.owner.walletAddress.toLowerCase());
  if (overrides.approve !== false) await moderateListing(db, { listingId: input.listingId, actor: 'test', action: 'approve' });
  return input;
}

beforeAll(async () => {
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 4 });
  await migrateToLatest(db);
});
afterAll(async () => {
  if (listingIds.length) await db('payments').whereIn('upload_id', listingIds).delete();
  if (listingIds.length) await db('payment_quotes').whereIn('quote_id', listingIds).delete();
  if (listingIds.length) await db('listings').whereIn('id', listingIds).delete();
  if (wallets.length) await db('users').whereIn('wallet_address', wallets).delete();
  await db('hashtags').where('tag', 'like', `%\\_${run}`).delete();
  await db?.destroy();
});

describe('saving a listing', () => {
  it('is idempotent: the same assets.stored twice leaves one listing, its payment tied to it, one set of hashtags', async () => {
    const input = listingInput({ tags: [tag('bike'), tag('berlin')] });
    listingIds.push(input.listingId);
    wallets.push(input.owner.walletAddress.toLowerCase());
    const quote = quoteInput({ quoteId: input.listingId });
    await recordQuote(db, quote);
    await applyCredit(db, depositCredit(quote, { totalReceived: quote.amount, status: 'paid' }));
    const first = await saveListing(db, input);
    const second = await saveListing(db, input);
    expect(first.created).toBe(true);
    expect(second).toEqual({ userId: first.userId, created: false });
    expect(await db('listings').where({ id: input.listingId }).count({ n: '*' })).toEqual([{ n: '1' }]);
    expect(await db('payments').where({ upload_id: input.listingId }).select('listing_id', 'status')).toEqual([
      { listing_id: input.listingId, status: 'paid' },
    ]);
    expect(await db('listing_hashtags').where({ listing_id: input.listingId }).count({ n: '*' })).toEqual([{ n: '2' }]);
    const listing = await db('listings')
      .where({ id: input.listingId })
      .first('moderation_status', db.raw('ST_Y(location::geometry) AS lat'), db.raw('ST_X(location::geometry) AS lng'));
    expect(listing).toEqual({ moderation_status: 'pending', lat: 52.52, lng: 13.405 });
  });

  it('finds the user by wallet whatever its letter case, and updates the profile', async () => {
    const wallet = randomWallet();
    const first = await saved({ wallet, displayName: 'Anna' });
    const second = await saved({ wallet: wallet.toLowerCase(), displayName: 'Anna K.' });
    const users = await db('users').where({ wallet_address: wallet.toLowerCase() }).select('id', 'display_name');
    expect(users).toHaveLength(1);
    expect(users[0].display_name).toBe('Anna K.');
    const owners = await db('listings').whereIn('id', [first.listingId, second.listingId]).distinct('user_id');
    expect(owners).toEqual([{ user_id: users[0].id }]);
  });
});

describe('hashtags', () => {
  it('upserts many in one statement, returning the ids of new and existing tags alike', async () => {
    const [existing] = await upsertHashtags(db, [tag('old')]);
    const ids = await upsertHashtags(db, [tag('old'), tag('new1'), tag('new2'), tag('new1')]);
    expect(ids).toHaveLength(3);
    expect(ids).toContain(existing);
    const rows = await db('hashtags')
      .whereIn('tag', [tag('old'), tag('new1'), tag('new2')])
      .pluck('id');
    expect(rows.map(Number).sort()).toEqual([...ids].sort());
  });

  it('finds approved listings with all or any of the tags, and autocompletes with counts', async () => {
    const both = await saved({ tags: [tag('cars'), tag('vintage')] });
    const carsOnly = await saved({ tags: [tag('cars')] });
    const vintageOnly = await saved({ tags: [tag('vintage'), tag('camera')] });
    await saved({ tags: [tag('cars'), tag('vintage')], approve: false });

    expect(await listingIdsByTags(db, [tag('cars'), tag('vintage')], 'all')).toEqual([both.listingId]);
    expect((await listingIdsByTags(db, [tag('cars'), tag('vintage')], 'any')).sort()).toEqual(
      [both.listingId, carsOnly.listingId, vintageOnly.listingId].sort(),
    );
    expect(await listingIdsByTags(db, [tag('cars'), tag('nosuchtag')], 'all')).toEqual([]);
    expect((await listingIdsByTags(db, [tag('cars'), tag('nosuchtag')], 'any')).sort()).toEqual([both.listingId, carsOnly.listingId].sort());

    // The pending listing is not counted: counts are of what the public can see.
    expect(await autocompleteHashtags(db, `ca`, 50).then((all) => all.filter((t) => t.tag.endsWith(run)))).toEqual([
      { tag: tag('cars'), listings: 2 },
      { tag: tag('camera'), listings: 1 },
    ]);
    expect(await autocompleteHashtags(db, `c%`, 50)).toEqual([]);
  });
});

describe('searching listings', () => {
  // Berlin, Potsdam (~27 km), Hamburg (~255 km), Munich (~504 km): tagged so other data never interferes.
  const places = { berlin: [52.52, 13.405], potsdam: [52.3906, 13.0645], hamburg: [53.5511, 9.9937], munich: [48.1351, 11.582] } as const;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    for (const [name, [latitude, longitude]] of Object.entries(places)) {
      ids[name] = (await saved({ tags: [tag('geo'), tag(name)], latitude, longitude, title: name })).listingId;
    }
    await saved({ tags: [tag('geo')], latitude: 52.5201, longitude: 13.4051, approve: false });
  });

  it('sorts by distance with `near`, reports the distance, and cuts at the radius', async () => {
    const near = { latitude: 52.52, longitude: 13.405 };
    const page = await searchListings(db, { tags: [tag('geo')], near, limit: 10 });
    expect(page.items.map((item) => item.title)).toEqual(['berlin', 'potsdam', 'hamburg', 'munich']);
    expect(page.items[0]?.distanceMeters).toBeLessThan(1);
    expect(page.items[1]?.distanceMeters).toBeGreaterThan(25_000);
    expect(page.items[1]?.distanceMeters).toBeLessThan(30_000);
    expect(page.nextCursor).toBeNull();
    const within = await searchListings(db, { tags: [tag('geo')], near, radiusKm: 300, limit: 10 });
    expect(within.items.map((item) => item.title)).toEqual(['berlin', 'potsdam', 'hamburg']);
  });

  it('pages with a cursor through every result once, nearest first and newest first', async () => {
    const near = { latitude: 48.1351, longitude: 11.582 };
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await searchListings(db, { tags: [tag('geo')], near, limit: 3, cursor });
      seen.push(...page.items.map((item) => item.title));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    // Potsdam lies south-west of Berlin, so a little nearer to Munich.
    expect(seen).toEqual(['munich', 'potsdam', 'berlin', 'hamburg']);

    const newest: string[] = [];
    cursor = undefined;
    do {
      const page = await searchListings(db, { tags: [tag('geo')], limit: 1, cursor });
      newest.push(...page.items.map((item) => item.title));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(newest).toEqual(['munich', 'hamburg', 'potsdam', 'berlin']);
  });

  it('filters by tags (all/any) and owner, and carries hashtags and the owner name', async () => {
    const any = await searchListings(db, { tags: [tag('berlin'), tag('munich')], match: 'any', limit: 10 });
    expect(any.items.map((item) => item.title).sort()).toEqual(['berlin', 'munich']);
    const all = await searchListings(db, { tags: [tag('geo'), tag('hamburg')], match: 'all', limit: 10 });
    expect(all.items).toHaveLength(1);
    expect(all.items[0]).toMatchObject({
      title: 'hamburg',
      hashtags: [tag('geo'), tag('hamburg')].sort(),
      owner: { displayName: 'Anna' },
      moderationStatus: 'approved',
    });
    const owner = all.items[0]?.owner.walletAddress ?? '';
    const byOwner = await searchListings(db, { owner: owner.toUpperCase().replace('0X', '0x'), limit: 10 });
    expect(byOwner.items.map((item) => item.id)).toEqual([ids.hamburg]);
  });

  it('refuses a cursor it did not make, or one from a differently sorted search', async () => {
    await expect(searchListings(db, { limit: 5, cursor: 'garbage' })).rejects.toBeInstanceOf(InvalidCursorError);
    const page = await searchListings(db, { tags: [tag('geo')], limit: 1 });
    await expect(
      searchListings(db, { tags: [tag('geo')], near: { latitude: 0, longitude: 0 }, limit: 1, cursor: page.nextCursor ?? '' }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
  });

  it('shows one listing publicly only once approved, and a user profile with the approved count', async () => {
    const pending = await saved({ approve: false });
    expect(await findListing(db, pending.listingId)).toBeUndefined();
    expect(await findListing(db, pending.listingId, { anyStatus: true })).toMatchObject({ moderationStatus: 'pending' });
    expect(await findListing(db, 'not-a-uuid')).toBeUndefined();
    const listing = await findListing(db, ids.berlin ?? '');
    expect(listing).toMatchObject({
      title: 'berlin',
      location: { latitude: 52.52, longitude: 13.405 },
      objects: { video: `listings/${ids.berlin}/video.webm` },
    });
    const profile = await findUserProfile(db, listing?.owner.walletAddress.toUpperCase().replace('0X', '0x') ?? '');
    expect(profile).toMatchObject({ displayName: 'Anna', listings: 1 });
    expect(await findUserProfile(db, randomWallet())).toBeUndefined();
  });
});

describe('moderation', () => {
  it('records every decision with who, what and why, and changes the status', async () => {
    const input = await saved({ approve: false });
    const rejected = await moderateListing(db, { listingId: input.listingId, actor: '0xadmin', action: 'reject', reason: 'blurry video' });
    expect(rejected).toMatchObject({ previousStatus: 'pending', status: 'rejected', ownerWallet: input.owner.walletAddress.toLowerCase() });
    const approved = await moderateListing(db, { listingId: input.listingId, actor: 'token', action: 'approve' });
    expect(approved).toMatchObject({ previousStatus: 'rejected', status: 'approved' });
    expect((await moderationHistory(db, input.listingId)).map(({ actor, action, reason }) => ({ actor, action, reason }))).toEqual([
      { actor: '0xadmin', action: 'reject', reason: 'blurry video' },
      { actor: 'token', action: 'approve', reason: null },
    ]);
    await expect(moderateListing(db, { listingId: randomUUID(), actor: 'x', action: 'approve' })).rejects.toBeInstanceOf(ListingNotFoundError);
  });
});
