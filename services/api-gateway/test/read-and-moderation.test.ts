import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import { type Knex, saveListing } from '@reelboard/db';
import type { PipelineBus } from '@reelboard/lifecycle';
import type { ObjectStorage } from '@reelboard/storage';
import { signIn } from '@reelboard/testkit/client';
import { listingInput, randomWallet } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, startGateway } from './harness.js';

const infra = infraEnv();
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const run = randomBytes(3).toString('hex');
const tag = (name: string) => `${name}_${run}`;
const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-read-test');
let gw: Gateway;
let base: string;
let db: Knex;
let storage: ObjectStorage;
let bus: PipelineBus;
let work: string;
const listingIds: string[] = [];
const wallets: string[] = [];
const ids: Record<string, string> = {};
const owner = randomWallet();

async function api(path: string, init: RequestInit & { token?: string; admin?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.admin) headers['x-admin-token'] = init.admin;
  const res = await fetch(`${base}${path}`, { ...init, headers });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

beforeAll(async () => {
  gw = await startGateway(redis, { ADMIN_TOKEN });
  ({ base, db, storage, bus } = gw);

  work = await mkdtemp(join(tmpdir(), 'gw-read-'));
  // Berlin and Potsdam (~27 km apart), plus one listing that stays pending.
  for (const [name, latitude, longitude] of [
    ['berlin', 52.52, 13.405],
    ['potsdam', 52.3906, 13.0645],
    ['pending', 52.52, 13.41],
  ] as const) {
    const input = listingInput({ wallet: owner, displayName: 'Bike shop', tags: [tag('bikes'), tag(name)], latitude, longitude, title: name });
    await saveListing(db, input);
    listingIds.push(input.listingId);
    ids[name] = input.listingId;
    // The upload ended when it was saved: moderation decisions must still reach the owner.
    await bus.status.publish({ uploadId: input.listingId, event: 'profile.saved', stage: 'profile-writer', state: 'saved' });
  }
  wallets.push(owner.toLowerCase());
  const poster = join(work, 'poster.webp');
  await writeFile(poster, randomBytes(3000));
  await storage.putFile(`listings/${ids.berlin}/poster.webp`, poster, 'image/webp');
});

afterAll(async () => {
  if (listingIds.length) {
    await db('payments').whereIn('upload_id', listingIds).delete();
    await db('listings').whereIn('id', listingIds).delete();
  }
  await db?.('users').whereIn('wallet_address', wallets).delete();
  await db?.('hashtags').where('tag', 'like', `%\\_${run}`).delete();
  await gw?.close();
  await redis.quit();
  await rm(work, { recursive: true, force: true });
});

describe('moderation', () => {
  it('refuses non-admins: 401 without a session, 403 for a signed-in stranger or a wrong token', async () => {
    expect((await api('/v1/admin/listings')).status).toBe(401);
    const stranger = await signIn(base, ANVIL_ACCOUNTS.stranger.key, Number(infra.CHAIN_ID));
    const asStranger = await api('/v1/admin/listings', { token: stranger.token });
    expect(asStranger).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect((await api('/v1/admin/listings', { admin: 'x'.repeat(48) })).status).toBe(403);
    expect((await api(`/v1/admin/listings/${ids.berlin}/approve`, { method: 'POST', token: stranger.token })).status).toBe(403);
  });

  it('lists pending listings, approves by token and by admin wallet, audits, and tells the owner', async () => {
    const pending = await api('/v1/admin/listings?status=pending&limit=100', { admin: ADMIN_TOKEN });
    expect(pending.status).toBe(200);
    expect(pending.body.items.map((item: { id: string }) => item.id)).toEqual(expect.arrayContaining([ids.berlin, ids.potsdam, ids.pending]));

    const byToken = await api(`/v1/admin/listings/${ids.berlin}/approve`, { method: 'POST', admin: ADMIN_TOKEN });
    expect(byToken).toMatchObject({ status: 200, body: { status: 'approved', previousStatus: 'pending', actor: 'admin-token' } });
    const admin = await signIn(base, ANVIL_ACCOUNTS.buyer.key, Number(infra.CHAIN_ID));
    const byWallet = await api(`/v1/admin/listings/${ids.potsdam}/approve`, { method: 'POST', token: admin.token });
    expect(byWallet).toMatchObject({ status: 200, body: { status: 'approved', actor: ANVIL_ACCOUNTS.buyer.address.toLowerCase() } });

    const audit = await db('moderation_events')
      .whereIn('listing_id', [ids.berlin ?? '', ids.potsdam ?? ''])
      .orderBy('id')
      .select('listing_id', 'actor', 'action');
    expect(audit).toEqual([
      { listing_id: ids.berlin, actor: 'admin-token', action: 'approve' },
      { listing_id: ids.potsdam, actor: ANVIL_ACCOUNTS.buyer.address.toLowerCase(), action: 'approve' },
    ]);
    expect(await bus.status.latest(ids.berlin ?? '')).toMatchObject({ event: 'moderation.approved', stage: 'moderation', state: 'saved' });
  });

  it('rejects only with a reason, which reaches the owner', async () => {
    const noReason = await api(`/v1/admin/listings/${ids.pending}/reject`, { method: 'POST', admin: ADMIN_TOKEN, body: '{}' });
    expect(noReason).toMatchObject({ status: 400, body: { error: 'invalid_body', field: 'reason' } });
    const rejected = await api(`/v1/admin/listings/${ids.pending}/reject`, {
      method: 'POST',
      admin: ADMIN_TOKEN,
      body: JSON.stringify({ reason: 'video shows a different bike' }),
    });
    expect(rejected).toMatchObject({ status: 200, body: { status: 'rejected', reason: 'video shows a different bike' } });
    expect(await bus.status.latest(ids.pending ?? '')).toMatchObject({ event: 'moderation.rejected', reason: 'video shows a different bike' });
    const missing = await api('/v1/admin/listings/00000000-0000-4000-8000-000000000000/approve', { method: 'POST', admin: ADMIN_TOKEN });
    expect(missing).toMatchObject({ status: 404, body: { error: 'listing_not_found' } });
  });
});

describe('the read API', () => {
  it('finds approved listings near a point with tags, nearest first, with distance, hashtags, owner and working URLs', async () => {
    const res = await api(`/v1/listings?tags=${tag('bikes')}&near=52.39,13.06&limit=1`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((item: { title: string }) => item.title)).toEqual(['potsdam']);
    const next = await api(`/v1/listings?tags=${tag('bikes')}&near=52.39,13.06&limit=1&cursor=${res.body.nextCursor}`);
    const berlin = next.body.items[0];
    expect(next.body.nextCursor).toBeNull();
    expect(berlin).toMatchObject({
      id: ids.berlin,
      title: 'berlin',
      owner: { wallet: owner.toLowerCase(), displayName: 'Bike shop' },
      hashtags: [tag('berlin'), tag('bikes')],
    });
    expect(berlin.distanceKm).toBeGreaterThan(25);
    expect(berlin.distanceKm).toBeLessThan(30);
    const poster = await fetch(berlin.posterUrl);
    expect(poster.status).toBe(200);
    expect(poster.headers.get('content-type')).toBe('image/webp');
    expect(new URL(berlin.posterUrl).searchParams.get('X-Amz-Expires')).toBe('900');
  });

  it('filters any-of tags and radius, and never shows pending or rejected listings', async () => {
    const any = await api(`/v1/listings?tags=${tag('berlin')},%23${tag('pending').toUpperCase()}&match=any`);
    expect(any.body.items.map((item: { title: string }) => item.title)).toEqual(['berlin']);
    const close = await api(`/v1/listings?tags=${tag('bikes')}&near=52.52,13.405&radiusKm=5`);
    expect(close.body.items.map((item: { title: string }) => item.title)).toEqual(['berlin']);
    expect((await api(`/v1/listings/${ids.pending}`)).status).toBe(404);
    expect((await api(`/v1/listings/${ids.berlin}`)).body).toMatchObject({ id: ids.berlin, video: { width: 1280, height: 720 } });
  });

  it('autocompletes hashtags with counts and shows a user with their listings', async () => {
    const tags = await api(`/v1/hashtags?prefix=%23${tag('bi').slice(0, 2)}`);
    expect(tags.status).toBe(200);
    expect(tags.body.hashtags.filter((h: { tag: string }) => h.tag.endsWith(run))).toEqual([{ tag: tag('bikes'), listings: 2 }]);
    const user = await api(`/v1/users/${owner}`);
    expect(user).toMatchObject({ status: 200, body: { wallet: owner.toLowerCase(), displayName: 'Bike shop', listingCount: 2 } });
    expect(user.body.listings.items.map((item: { title: string }) => item.title).sort()).toEqual(['berlin', 'potsdam']);
    expect((await api(`/v1/users/${randomWallet()}`)).body.error).toBe('user_not_found');
  });

  it('answers bad queries with a 400 naming the problem', async () => {
    expect((await api('/v1/listings?near=91,0')).body).toMatchObject({ error: 'invalid_query', field: 'near' });
    expect((await api('/v1/listings?radiusKm=5')).body).toMatchObject({ error: 'invalid_query', field: 'radiusKm' });
    expect((await api('/v1/listings?tags=ok,bad-tag')).body).toMatchObject({ error: 'invalid_hashtag', tag: 'bad-tag' });
    expect((await api('/v1/listings?limit=500')).body).toMatchObject({ error: 'invalid_query', field: 'limit' });
    expect((await api('/v1/listings?owner=bob')).body).toMatchObject({ error: 'invalid_query', field: 'owner' });
    expect((await api('/v1/listings?cursor=nonsense')).body).toMatchObject({ error: 'invalid_cursor' });
    expect((await api('/v1/hashtags?prefix=')).status).toBe(400);
  });
});
