import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import type { UploadReceived } from '@reelboard/contracts';
import { saveListing } from '@reelboard/db';
import { type DashLadder, makeDashLadder, storeDashLadder } from '@reelboard/testkit/dash-fixture';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, startGateway } from './harness.js';

const infra = infraEnv();
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-stream-test');
let gw: Gateway;
let work: string;
let ladder: DashLadder;
let ownerToken: string;
let strangerToken: string;
const ids = { public: randomUUID(), pending: randomUUID(), legacy: randomUUID(), upload: randomUUID(), uploadWithout: randomUUID() };
const owner = ANVIL_ACCOUNTS.cli.address.toLowerCase();

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.base}${path}`, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as { error: string; message: string } };
}

/** Each `<BaseURL>` of an MPD, unescaped, with the SegmentBase ranges of its representation. */
function representations(mpd: string) {
  return [...mpd.matchAll(/<BaseURL>([^<]*)<\/BaseURL>\s*<SegmentBase\s+indexRange="(\d+)-(\d+)">\s*<Initialization\s+range="(\d+)-(\d+)"/g)].map((match) => ({
    url: (match[1] ?? '').replaceAll('&amp;', '&'),
    index: [Number(match[2]), Number(match[3])] as const,
    init: [Number(match[4]), Number(match[5])] as const,
  }));
}

async function saveWithLadder(id: string, approve: boolean, withManifest = true) {
  const input = listingInput({ id, wallet: owner, title: `stream ${id.slice(0, 8)}` });
  if (withManifest) {
    const { manifestKey } = await storeDashLadder(gw.storage, id, ladder);
    input.listing.manifestKey = manifestKey;
    input.listing.renditions = ladder.renditions;
  }
  await saveListing(gw.db, input);
  if (approve)
    expect((await fetch(`${gw.base}/v1/admin/listings/${id}/approve`, { method: 'POST', headers: { 'x-admin-token': ADMIN_TOKEN } })).status).toBe(200);
}

beforeAll(async () => {
  gw = await startGateway(redis, { ADMIN_TOKEN, READ_CACHE_SECONDS: '30' });
  work = await mkdtemp(join(tmpdir(), 'gw-stream-'));
  ladder = await makeDashLadder(work, {
    rungs: [
      { height: 144, bitrateKbps: 120 },
      { height: 240, bitrateKbps: 250 },
    ],
    width: 640,
    height: 360,
    seconds: 3,
  });
  await saveWithLadder(ids.public, true);
  await saveWithLadder(ids.pending, false);
  await saveWithLadder(ids.legacy, true, false);
  for (const uploadId of [ids.upload, ids.uploadWithout]) {
    await gw.uploads.register({ uploadId, owner, receivedAt: new Date().toISOString() } as unknown as UploadReceived, 'api-gateway');
  }
  await storeDashLadder(gw.storage, ids.upload, ladder);
  ownerToken = await gw.signIn(ANVIL_ACCOUNTS.cli.key);
  strangerToken = await gw.signIn(ANVIL_ACCOUNTS.stranger.key);
}, 120_000);

afterAll(async () => {
  await gw?.db('listings').whereIn('id', [ids.public, ids.pending, ids.legacy]).del();
  await gw?.close();
  redis.disconnect();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('GET /v1/listings/:id/stream/manifest.mpd', () => {
  it('serves the stored MPD as application/dash+xml with every file named by a storage URL, cached less than the URLs live', async () => {
    const res = await get(`/v1/listings/${ids.public}/stream/manifest.mpd`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/dash\+xml/);
    const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1]);
    expect(res.headers.get('cache-control')).toMatch(/^public/);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThan(gw.config.S3_URL_TTL_SECONDS);

    const reps = representations(res.text);
    expect(reps.map((rep) => new URL(rep.url).pathname)).toEqual([
      `/${infra.TEST_S3_BUCKET}/listings/${ids.public}/dash/video-144p.webm`,
      `/${infra.TEST_S3_BUCKET}/listings/${ids.public}/dash/video-240p.webm`,
      `/${infra.TEST_S3_BUCKET}/listings/${ids.public}/dash/audio.webm`,
    ]);
    // Presigned: the signature is in the query, escaped for XML in the document.
    expect(reps.every((rep) => new URL(rep.url).searchParams.has('X-Amz-Signature'))).toBe(true);
    expect(res.text).not.toMatch(/<BaseURL>[^<]*&(?!amp;)/);
    // Nothing else changed: the byte ranges are the stored MPD's.
    const stored = await readFile(join(work, 'manifest.mpd'), 'utf8');
    expect(res.text.replace(/<BaseURL>[^<]*<\/BaseURL>/g, '')).toBe(stored.replace(/<BaseURL>[^<]*<\/BaseURL>/g, ''));
  });

  it('lets the player fetch each file straight from S3 with Range requests: 206, the stored Content-Type, the exact bytes', async () => {
    const reps = representations((await get(`/v1/listings/${ids.public}/stream/manifest.mpd`)).text);
    const files = [...ladder.files.filter((file) => file.name.startsWith('video-')), ...ladder.files.filter((file) => file.name === 'audio.webm')];
    expect(reps).toHaveLength(files.length);
    for (const [index, rep] of reps.entries()) {
      const file = files[index];
      if (!file) throw new Error('a representation without a file');
      const bytes = await readFile(file.path);
      for (const [from, to] of [rep.init, rep.index]) {
        const res = await fetch(rep.url, { headers: { range: `bytes=${from}-${to}` } });
        expect(res.status, `${file.name} ${from}-${to}`).toBe(206);
        expect(res.headers.get('content-type')).toBe(file.contentType);
        expect(res.headers.get('content-range')).toBe(`bytes ${from}-${to}/${bytes.length}`);
        expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(from, to + 1))).toBe(true);
      }
    }
  });

  it("names the lowest rung's file as the listing's video.startUrl, a storage URL a <video> plays from its first byte; null without a ladder", async () => {
    const { video } = (await (await fetch(`${gw.base}/v1/listings/${ids.public}`)).json()) as { video: { startUrl: string | null } };
    if (!video.startUrl) throw new Error('no startUrl for a listing with a ladder');
    expect(new URL(video.startUrl).pathname).toBe(`/${infra.TEST_S3_BUCKET}/listings/${ids.public}/dash/video-144p.webm`);
    const lowest = await readFile(join(work, 'video-144p.webm'));
    const res = await fetch(video.startUrl, { headers: { range: 'bytes=0-' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-type')).toBe('video/webm');
    expect(Buffer.from(await res.arrayBuffer()).equals(lowest)).toBe(true);
    const legacy = (await (await fetch(`${gw.base}/v1/listings/${ids.legacy}`)).json()) as { video: { startUrl: string | null } };
    expect(legacy.video.startUrl).toBeNull();
  });

  it('says manifest_not_ready for a listing saved before the ladder, and listing_not_found for an unknown one', async () => {
    const legacy = await get(`/v1/listings/${ids.legacy}/stream/manifest.mpd`);
    expect(legacy.status).toBe(404);
    expect(legacy.json().error).toBe('manifest_not_ready');
    const unknown = await get(`/v1/listings/${randomUUID()}/stream/manifest.mpd`);
    expect(unknown.status).toBe(404);
    expect(unknown.json().error).toBe('listing_not_found');
    expect((await get('/v1/listings/not-an-id/stream/manifest.mpd')).json().error).toBe('listing_not_found');
  });

  it('shows a listing that is not public to its owner and admins only, never cached', async () => {
    const path = `/v1/listings/${ids.pending}/stream/manifest.mpd`;
    expect((await get(path)).status).toBe(404);
    expect((await get(path, { authorization: `Bearer ${strangerToken}` })).json().error).toBe('listing_not_found');
    const byOwner = await get(path, { authorization: `Bearer ${ownerToken}` });
    expect(byOwner.status).toBe(200);
    expect(byOwner.headers.get('cache-control')).toBe('private, no-store');
    expect(representations(byOwner.text)).toHaveLength(3);
    expect((await get(path, { 'x-admin-token': ADMIN_TOKEN })).status).toBe(200);
    const badToken = await get(path, { 'x-admin-token': 'x'.repeat(24) });
    expect(badToken.status).toBe(403);
    expect(badToken.json().error).toBe('forbidden');
  });
});

describe('GET /v1/uploads/:id/stream/manifest.mpd', () => {
  it("serves the upload's manifest to its owner only, uncached, and manifest_not_ready before a rung is stored", async () => {
    const path = `/v1/uploads/${ids.upload}/stream/manifest.mpd`;
    expect((await get(path)).status).toBe(401);
    expect((await get(path, { authorization: `Bearer ${strangerToken}` })).json().error).toBe('upload_not_found');
    const byOwner = await get(path, { authorization: `Bearer ${ownerToken}` });
    expect(byOwner.status).toBe(200);
    expect(byOwner.headers.get('content-type')).toMatch(/^application\/dash\+xml/);
    expect(byOwner.headers.get('cache-control')).toBe('private, no-store');
    expect(representations(byOwner.text).map((rep) => new URL(rep.url).pathname.split('/').slice(-3).join('/'))).toEqual([
      `${ids.upload}/dash/video-144p.webm`,
      `${ids.upload}/dash/video-240p.webm`,
      `${ids.upload}/dash/audio.webm`,
    ]);
    const early = await get(`/v1/uploads/${ids.uploadWithout}/stream/manifest.mpd`, { authorization: `Bearer ${ownerToken}` });
    expect(early.status).toBe(404);
    expect(early.json().error).toBe('manifest_not_ready');
  });
});
