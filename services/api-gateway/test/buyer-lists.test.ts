import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import { MAX_SAVED_SEARCHES_PER_WALLET, saveListing } from '@reelboard/db';
import { listingInput, randomWallet } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, startGateway } from './harness.js';

// Favourites and saved searches of a signed-in wallet, through the gateway on real Postgres.

const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'buyer-lists-test');
const run = randomBytes(3).toString('hex');
const buyer = ANVIL_ACCOUNTS.stranger;
const seller = randomWallet();
let gw: Gateway;
let token: string;
const ids: Record<string, string> = {};

const call = async (method: string, path: string, body?: unknown, auth = true) => {
  const res = await fetch(`${gw.base}${path}`, {
    method,
    headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
};

beforeAll(async () => {
  gw = await startGateway(redis);
  await gw.db('favourites').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  await gw.db('saved_searches').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  token = await gw.signIn(buyer.key);
  for (const name of ['older', 'newer', 'pending']) {
    const input = listingInput({ wallet: seller, title: `${name} ${run}` });
    await saveListing(gw.db, input);
    ids[name] = input.listingId;
    await gw.bus.status.publish({ uploadId: input.listingId, event: 'profile.saved', stage: 'profile-writer', state: 'saved' });
    if (name !== 'pending') {
      const res = await fetch(`${gw.base}/v1/admin/listings/${input.listingId}/approve`, { method: 'POST', headers: { 'x-admin-token': gw.adminToken } });
      expect(res.status).toBe(200);
    }
  }
});

afterAll(async () => {
  await gw?.db('favourites').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  await gw?.db('saved_searches').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  await gw?.db('listings').whereIn('id', Object.values(ids)).delete();
  await gw?.db('users').where({ wallet_address: seller.toLowerCase() }).delete();
  await gw?.close();
  await redis.quit();
});

describe('favourites', () => {
  it('keeps a wallet’s favourite public listings, newest favourite first, and refuses what is not public', async () => {
    expect((await call('GET', '/v1/me/favourites', undefined, false)).status).toBe(401);
    expect((await call('PUT', `/v1/me/favourites/${ids.older}`)).status).toBe(204);
    expect((await call('PUT', `/v1/me/favourites/${ids.newer}`)).status).toBe(204);
    // Again is fine, and changes nothing.
    expect((await call('PUT', `/v1/me/favourites/${ids.older}`)).status).toBe(204);
    const pending = await call('PUT', `/v1/me/favourites/${ids.pending}`);
    expect(pending).toMatchObject({ status: 404, body: { error: 'listing_not_found' } });
    expect((await call('PUT', '/v1/me/favourites/not-a-uuid')).status).toBe(404);

    const list = await call('GET', '/v1/me/favourites');
    expect(list.status).toBe(200);
    expect(list.body.items.map((item: { id: string }) => item.id)).toEqual([ids.newer, ids.older]);
    expect(list.body.items[0]).toMatchObject({ title: `newer ${run}`, posterUrl: expect.stringContaining(`listings/${ids.newer}/poster.webp`) });

    // A favourite that stops being public drops out of the list.
    await gw.db('listings').where({ id: ids.newer }).update({ state: 'withdrawn' });
    try {
      expect((await call('GET', '/v1/me/favourites')).body.items.map((item: { id: string }) => item.id)).toEqual([ids.older]);
    } finally {
      await gw.db('listings').where({ id: ids.newer }).update({ state: 'active' });
    }

    expect((await call('DELETE', `/v1/me/favourites/${ids.older}`)).status).toBe(204);
    expect(await call('DELETE', `/v1/me/favourites/${ids.older}`)).toMatchObject({ status: 404, body: { error: 'favourite_not_found' } });
    expect((await call('GET', '/v1/me/favourites')).body.items.map((item: { id: string }) => item.id)).toEqual([ids.newer]);
  });
});

describe('saved searches', () => {
  it('checks the query as the search does, names what is wrong, and keeps names unique per wallet', async () => {
    expect((await call('POST', '/v1/me/saved-searches', { name: 'x', query: 'tags=bikes' }, false)).status).toBe(401);
    const cases: [unknown, string, string | undefined][] = [
      [{ name: 'r', query: 'radiusKm=5' }, 'invalid_query', 'query.radiusKm'],
      [{ name: 'n', query: 'near=berlin' }, 'invalid_query', 'query.near'],
      [{ name: 'p', query: 'priceMin=10&priceMax=5' }, 'invalid_query', 'query.priceMin'],
      [{ name: 't', query: 'tags=%3Cscript%3E' }, 'invalid_hashtag', undefined],
      [{ name: 'e', query: 'cursor=abc&limit=5&unknown=1' }, 'empty_search', 'query'],
      [{ name: 'e2', query: '' }, 'empty_search', 'query'],
      [{ name: '', query: 'tags=bikes' }, 'invalid_body', 'name'],
      [{ name: 'l', query: `tags=${'a'.repeat(2001)}` }, 'invalid_body', 'query'],
      [{ query: 'tags=bikes' }, 'invalid_body', 'name'],
    ];
    for (const [body, error, field] of cases) {
      const res = await call('POST', '/v1/me/saved-searches', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error, JSON.stringify(body)).toBe(error);
      if (field) expect(res.body.field, JSON.stringify(body)).toBe(field);
      expect(res.body.message.length).toBeGreaterThan(5);
    }

    const created = await call('POST', '/v1/me/saved-searches', {
      name: '  Cheap bikes  ',
      query: '?tags=Bikes,%23Berlin&priceMax=100&currency=eur&cursor=zz',
    });
    expect(created).toMatchObject({ status: 201, body: { name: 'Cheap bikes', query: 'tags=Bikes%2C%23Berlin&priceMax=100&currency=eur' } });
    const stored = await gw.db('saved_searches').where({ id: created.body.id }).first();
    expect(stored.filters).toEqual({ tags: ['bikes', 'berlin'], match: 'all', priceMax: 100, currency: 'EUR' });
    expect(await call('POST', '/v1/me/saved-searches', { name: 'Cheap bikes', query: 'tags=cars' })).toMatchObject({
      status: 409,
      body: { error: 'saved_search_name_taken', field: 'name' },
    });
    for (let i = 1; i < MAX_SAVED_SEARCHES_PER_WALLET; i += 1)
      expect((await call('POST', '/v1/me/saved-searches', { name: `s${i}`, query: `tags=t${i}` })).status).toBe(201);
    expect(await call('POST', '/v1/me/saved-searches', { name: 'one too many', query: 'tags=x' })).toMatchObject({
      status: 409,
      body: { error: 'saved_searches_full', limit: MAX_SAVED_SEARCHES_PER_WALLET },
    });
    const list = await call('GET', '/v1/me/saved-searches');
    expect(list.body.items).toHaveLength(MAX_SAVED_SEARCHES_PER_WALLET);
    expect(list.body.items[0]).toMatchObject({ id: created.body.id, name: 'Cheap bikes' });
    expect((await call('DELETE', '/v1/me/saved-searches/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    // Another wallet's saved search is as absent as one that never was.
    const other = await gw.signIn(ANVIL_ACCOUNTS.cli.key);
    const theirs = await fetch(`${gw.base}/v1/me/saved-searches/${created.body.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${other}` } });
    expect(theirs.status).toBe(404);
  });
});
