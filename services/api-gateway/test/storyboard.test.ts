import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import { saveListing } from '@reelboard/db';
import { storyboardKeys } from '@reelboard/storage';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, infra, startGateway } from './harness.js';

// GET /v1/listings/:id/storyboard.vtt on a real gateway, Postgres and s3rver: the index's relative
// sprite names become URLs a browser can fetch, and it is visible exactly as its listing is.
const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-storyboard-test');
let gw: Gateway;
let work = '';
const owner = ANVIL_ACCOUNTS.stranger;
const ids: string[] = [];
const sprite = randomBytes(2500);
const VTT = [
  'WEBVTT',
  '',
  '00:00:00.000 --> 00:00:02.000',
  'sprite-1.jpg#xywh=0,0,160,90',
  '',
  '00:00:02.000 --> 00:00:04.000',
  'sprite-1.jpg#xywh=160,0,160,90',
  '',
  '00:00:04.000 --> 00:00:05.500',
  'sprite-2.jpg#xywh=0,0,160,90',
  '',
].join('\n');

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.base}${path}`, { headers });
  return { status: res.status, type: res.headers.get('content-type'), cache: res.headers.get('cache-control'), text: await res.text() };
}

beforeAll(async () => {
  gw = await startGateway(redis);
  work = await mkdtemp(join(tmpdir(), 'gw-storyboard-'));
  await writeFile(join(work, 'sprite.jpg'), sprite);
  await writeFile(join(work, 'storyboard.vtt'), VTT);
}, 60_000);

afterAll(async () => {
  if (ids.length) await gw.db('listings').whereIn('id', ids).delete();
  await gw?.close();
  await redis.quit();
  await rm(work, { recursive: true, force: true });
});

describe('GET /v1/listings/:id/storyboard.vtt', () => {
  it('serves the index with every sprite name rewritten to a fetchable URL (cue times and #xywh kept), as visible as its listing', async () => {
    const input = listingInput({ wallet: owner.address });
    const keys = storyboardKeys(input.listingId);
    input.listing.storyboardKey = keys.vtt;
    await saveListing(gw.db, input);
    ids.push(input.listingId);
    await gw.storage.putFile(keys.vtt, join(work, 'storyboard.vtt'), 'text/vtt');
    await gw.storage.putFile(keys.file('sprite-1.jpg'), join(work, 'sprite.jpg'), 'image/jpeg');
    await gw.storage.putFile(keys.file('sprite-2.jpg'), join(work, 'sprite.jpg'), 'image/jpeg');
    const path = `/v1/listings/${input.listingId}/storyboard.vtt`;

    // Pending moderation: not public. Anonymous callers and other wallets see nothing; the owner and admins do.
    expect((await get(path)).status).toBe(404);
    const stranger = await gw.signIn(ANVIL_ACCOUNTS.cli.key);
    expect((await get(path, { authorization: `Bearer ${stranger}` })).status).toBe(404);
    const asOwner = await get(path, { authorization: `Bearer ${await gw.signIn(owner.key as `0x${string}`)}` });
    expect(asOwner).toMatchObject({ status: 200, type: expect.stringContaining('text/vtt'), cache: 'private, no-store' });
    expect((await get(path, { 'x-admin-token': gw.adminToken })).status).toBe(200);

    const approved = await fetch(`${gw.base}/v1/admin/listings/${input.listingId}/approve`, { method: 'POST', headers: { 'x-admin-token': gw.adminToken } });
    expect(approved.status).toBe(200);
    const served = await get(path);
    expect(served).toMatchObject({ status: 200, type: expect.stringContaining('text/vtt'), cache: expect.stringContaining('public') });
    const lines = served.text.split('\n');
    expect(lines.filter((line) => line.includes('-->'))).toEqual(VTT.split('\n').filter((line) => line.includes('-->')));
    const images = lines.filter((line) => line.includes('#xywh='));
    expect(images.map((line) => line.slice(line.indexOf('#')))).toEqual(['#xywh=0,0,160,90', '#xywh=160,0,160,90', '#xywh=0,0,160,90']);
    for (const line of images) {
      const url = line.slice(0, line.indexOf('#'));
      expect(url).toMatch(/^https?:\/\//);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(sprite)).toBe(true);
    }
  });

  it('answers 404 storyboard_not_found for a listing without one, and 404 for an unknown listing', async () => {
    const input = listingInput();
    await saveListing(gw.db, input);
    ids.push(input.listingId);
    const none = await get(`/v1/listings/${input.listingId}/storyboard.vtt`, { 'x-admin-token': gw.adminToken });
    expect(none.status).toBe(404);
    expect(JSON.parse(none.text)).toMatchObject({ error: 'storyboard_not_found' });
    expect((await get('/v1/listings/00000000-0000-4000-8000-000000000000/storyboard.vtt')).status).toBe(404);
  });
});
