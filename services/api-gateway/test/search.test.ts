import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import { moderateListing, saveListing } from '@reelboard/db';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { parseListingForm } from '../src/infra/intake.js';
import { type Gateway, infra, startGateway } from './harness.js';

const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-search-test');
const run = randomBytes(3).toString('hex');
const scope = `find_${run}`;
let gw: Gateway;
const listingIds: string[] = [];
const wallets: string[] = [];

async function api(path: string) {
  const res = await fetch(`${gw.base}${path}`);
  return { status: res.status, body: (await res.json()) as any };
}
const search = (query: string) => api(`/v1/listings?tags=${scope}&${query}`);

beforeAll(async () => {
  gw = await startGateway(redis);
  for (const [title, amount] of [
    ['Red bicycle', '120.00'],
    ['Blue bicycle', '80.00'],
    ['Oak table', '300.00'],
  ] as const) {
    const input = listingInput({ title, tags: [scope], price: { amount, currency: 'EUR' }, description: 'in good shape' });
    await saveListing(gw.db, input);
    await moderateListing(gw.db, { listingId: input.listingId, actor: 'test', action: 'approve' });
    listingIds.push(input.listingId);
    wallets.push(input.owner.walletAddress.toLowerCase());
  }
});

afterAll(async () => {
  if (listingIds.length) await gw.db('listings').whereIn('id', listingIds).delete();
  if (wallets.length) await gw.db('users').whereIn('wallet_address', wallets).delete();
  await gw.db('hashtags').where('tag', scope).delete();
  await gw?.close();
  await redis.quit();
});

describe('GET /v1/listings with words, price and sort', () => {
  it('finds by words, ranks, filters by price and sorts by price with a cursor', async () => {
    const words = await search('q=bicycle');
    expect(words.status).toBe(200);
    expect(words.body.matched).toBe('words');
    expect(words.body.items.map((item: { title: string }) => item.title).sort()).toEqual(['Blue bicycle', 'Red bicycle']);
    expect((await search('q=bicycle&priceMax=100')).body.items.map((item: { title: string }) => item.title)).toEqual(['Blue bicycle']);

    const first = await search('sort=price_desc&limit=2');
    expect(first.body.items.map((item: { price: { amount: string } }) => item.price.amount)).toEqual(['300.00', '120.00']);
    const second = await search(`sort=price_desc&limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ items: [{ title: 'Blue bicycle' }], nextCursor: null });
    // The cursor belongs to its sort: carried to another, it is refused, not misread.
    expect(await search(`sort=price_asc&cursor=${first.body.nextCursor}`)).toMatchObject({ status: 400, body: { error: 'invalid_cursor' } });
  });

  it('tolerates typos and says the matches are similar spellings', async () => {
    const typo = await search('q=bicylce');
    expect(typo.status).toBe(200);
    expect(typo.body.matched).toBe('similar');
    expect(typo.body.items.map((item: { title: string }) => item.title)).toEqual(expect.arrayContaining(['Red bicycle', 'Blue bicycle']));
  });

  it.each([
    ['an unbalanced quote', '%22red%20bicycle'],
    ['operators alone', encodeURIComponent('- or | & ! <-> ()')],
    ['an SQL fragment', encodeURIComponent("'; DROP TABLE listings; --")],
    ['emoji', encodeURIComponent('🚲 😀')],
    ['broken percent-encoding', '%E0%A4%A'],
    ['an encoded lone surrogate', '%ED%A0%80'],
    ['only spaces', '%20%20%20'],
  ])('%s answers 200 with a page', async (_name, q) => {
    const answer = await search(`q=${q}`);
    expect(answer.status).toBe(200);
    expect(Array.isArray(answer.body.items)).toBe(true);
  });

  it.each([
    ['a NUL byte', `q=bi%00cycle`, 'q', 'control characters'],
    ['10 KB of text', `q=${'bicycle '.repeat(1280)}`, 'q', 'at most 200 characters'],
    ['q twice', 'q=a&q=b', 'q', 'q must be given once'],
    ['relevance without words', 'sort=relevance', 'sort', 'sort=relevance needs q'],
    ['nearest without a point', 'sort=nearest', 'sort', 'sort=nearest needs near'],
    ['an unknown sort', 'sort=cheapest', 'sort', 'sort must be one of relevance, newest, nearest, price_asc, price_desc'],
    ['a language that is not ISO 639-1', 'q=bike&language=english', 'language', 'ISO 639-1'],
  ])('%s answers a 400 naming the problem', async (_name, query, field, message) => {
    const answer = await search(query);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_query', field });
    expect(answer.body.message).toContain(message);
  });
});

describe('GET /v1/places', () => {
  it('answers place names from the world gazetteer, the most populous first, cached for a day', async () => {
    const res = await fetch(`${gw.base}/v1/places?q=Berl&limit=3`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=86400');
    const body = (await res.json()) as { q: string; places: { name: string; country: string; latitude: number; longitude: number }[] };
    expect(body.q).toBe('Berl');
    expect(body.places).toHaveLength(3);
    expect(body.places[0]).toMatchObject({ name: 'Berlin', country: 'DE', countryName: 'Germany' });
    expect(body.places[0]?.latitude).toBeCloseTo(52.52, 1);
    expect(body.places[0]?.longitude).toBeCloseTo(13.41, 1);
    expect((await api('/v1/places?q=Paris,%20US')).body.places[0]).toMatchObject({ name: 'Paris', country: 'US' });
    expect((await api(`/v1/places?q=${encodeURIComponent('😀')}`)).body.places).toEqual([]);
  });

  it.each([
    ['no q', '', 'q is required'],
    ['an empty q', 'q=%20', 'q is required'],
    ['a NUL byte', 'q=Ber%00lin', 'control characters'],
    ['a long q', `q=${'x'.repeat(101)}`, 'at most 100 characters'],
    ['a limit too high', 'q=Ber&limit=500', 'limit must be an integer from 1 to 20'],
  ])('%s answers a 400 naming the problem', async (_name, query, message) => {
    const answer = await api(`/v1/places?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_query');
    expect(answer.body.message).toContain(message);
  });
});

describe("the listing form's language", () => {
  const form = { title: 'Fahrrad', latitude: '52.5', longitude: '13.4' };

  it('is optional, an ISO 639-1 code in any case', () => {
    expect(parseListingForm(form).language).toBeUndefined();
    expect(parseListingForm({ ...form, language: 'DE' }).language).toBe('de');
  });

  it('is refused, by name, when it is not a two-letter code', () => {
    expect(() => parseListingForm({ ...form, language: 'german' })).toThrow(
      expect.objectContaining({ status: 400, extra: { fields: { language: expect.stringContaining('ISO 639-1') } } }),
    );
  });
});
