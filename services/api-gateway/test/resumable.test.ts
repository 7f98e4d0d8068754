import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tus from 'tus-js-client';
import { connectRedis } from '@reelboard/bus';
import { STAGED_FILES } from '@reelboard/contracts';
import { postListing } from '@reelboard/testkit/client';
import { makeClip, makePng } from '@reelboard/testkit/media';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { RedisLocker } from '../src/infra/redis-locker.js';
import { type Gateway, infra, startGateway } from './harness.js';

const redis = connectRedis(infra.REDIS_URL ?? '', 'resumable-test');
let gw: Gateway;
let work: string;
let clip: string;
let buyer: string;
let stranger: string;
const TUS = { 'tus-resumable': '1.0.0' };

/** Uploads a file with tus-js-client (Node), as the CLI or a script would; resolves with the upload id. */
function tusUpload(file: Buffer, token: string, options: Partial<tus.UploadOptions> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(file, {
      endpoint: `${gw.base}/v1/resumable-uploads`,
      headers: { authorization: `Bearer ${token}` },
      chunkSize: 256 * 1024,
      retryDelays: [0, 100, 300],
      metadata: { filename: 'clip.mp4' },
      ...options,
      onError: reject,
      onSuccess: () => resolve(String(upload.url).split('/').pop() ?? ''),
    });
    upload.start();
  });
}

const create = (token: string, length: number) =>
  fetch(`${gw.base}/v1/resumable-uploads`, { method: 'POST', headers: { ...TUS, authorization: `Bearer ${token}`, 'upload-length': String(length) } });

beforeAll(async () => {
  gw = await startGateway(redis, {
    MAX_VIDEO_BYTES: String(8 * 1024 * 1024),
    STAGING_MAX_UNPAID_UPLOADS_PER_WALLET: '3',
    STAGING_MAX_UNPAID_BYTES_PER_WALLET: String(12 * 1024 * 1024),
  });
  work = await mkdtemp(join(tmpdir(), 'gw-resumable-'));
  clip = join(work, 'clip.mp4');
  await Promise.all([makeClip(clip, { width: 320, height: 240, seconds: 2 }), makePng(join(work, 'logo.png'))]);
  buyer = await gw.signIn(ANVIL_ACCOUNTS.buyer.key);
  stranger = await gw.signIn(ANVIL_ACCOUNTS.stranger.key);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await redis.quit();
  await rm(work, { recursive: true, force: true });
});

describe('resumable uploads (tus)', () => {
  it("stores the bytes in the upload's staging folder; the listing form names the finished upload", async () => {
    const bytes = await readFile(clip);
    const uploadId = await tusUpload(bytes, buyer);
    const source = join(gw.stagingDir, uploadId, STAGED_FILES.source);
    expect((await stat(source)).size).toBe(bytes.length);
    // Another wallet cannot see it, nor name it in a form.
    expect(
      (await fetch(`${gw.base}/v1/resumable-uploads/${uploadId}`, { method: 'HEAD', headers: { ...TUS, authorization: `Bearer ${stranger}` } })).status,
    ).toBe(404);
    const theirs = await postListing(
      `${gw.base}`,
      stranger,
      { logo: join(work, 'logo.png') },
      { title: 'Bike', latitude: '1', longitude: '2' },
      `?videoUpload=${uploadId}`,
    );
    expect(theirs.status).toBe(400);

    const posted = await postListing(
      gw.base,
      buyer,
      { logo: join(work, 'logo.png') },
      { title: 'Bike', latitude: '52.5', longitude: '13.4', hashtags: '#bikes' },
      `?videoUpload=${uploadId}`,
    );
    expect(posted.status, await posted.clone().text()).toBe(202);
    expect(await posted.json()).toMatchObject({ uploadId });
    expect(await gw.uploads.state(uploadId)).toBe('awaiting_payment');
    expect((await gw.uploads.get(uploadId))?.staged).toMatchObject({ sourceBytes: bytes.length, logo: `${uploadId}/${STAGED_FILES.logo}` });
    // Named once: a second form for the same upload is refused.
    const again = await postListing(gw.base, buyer, {}, { title: 'Bike', latitude: '52.5', longitude: '13.4' }, `?videoUpload=${uploadId}`);
    expect(again.status).toBe(409);
  }, 30_000);

  it('resumes from the offset the server has after a broken connection, without sending bytes again', async () => {
    const bytes = await readFile(clip);
    const half = Math.floor(bytes.length / 2);
    const created = await create(buyer, bytes.length);
    expect(created.status).toBe(201);
    const location = created.headers.get('location') ?? '';
    const url = new URL(location, gw.base).toString();
    const patch = (offset: number, chunk: Buffer) =>
      fetch(url, {
        method: 'PATCH',
        headers: { ...TUS, authorization: `Bearer ${buyer}`, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
        body: chunk,
      });
    expect((await patch(0, bytes.subarray(0, half))).status).toBe(204);
    const head = await fetch(url, { method: 'HEAD', headers: { ...TUS, authorization: `Bearer ${buyer}` } });
    expect(head.headers.get('upload-offset')).toBe(String(half));
    const done = await patch(half, bytes.subarray(half));
    expect(done.status).toBe(204);
    const uploadId = location.split('/').pop() ?? '';
    expect(await readFile(join(gw.stagingDir, uploadId, STAGED_FILES.source))).toEqual(bytes);
  });

  it("refuses at creation, before a byte is stored: over MAX_VIDEO_BYTES 413, over the wallet's unpaid limits 429", async () => {
    const tooBig = await create(stranger, 9 * 1024 * 1024);
    expect(tooBig.status).toBe(413);
    expect(await tooBig.json()).toMatchObject({ error: 'file_too_large' });
    // The stranger holds nothing yet: 3 uploads of 4 MiB pass the byte limit (12 MiB) and the count (3)...
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await create(stranger, 4 * 1024 * 1024);
      expect(res.status, await res.clone().text()).toBe(201);
      ids.push(res.headers.get('location')?.split('/').pop() ?? '');
    }
    // ...a fourth is over the count.
    const fourth = await create(stranger, 1);
    expect(fourth.status).toBe(429);
    expect(await fourth.json()).toMatchObject({ error: 'unpaid_uploads_limit', limit: 3 });
    // Abandoning one frees its place (tus termination removes its bytes).
    const cancelled = await fetch(`${gw.base}/v1/resumable-uploads/${ids[0]}`, { method: 'DELETE', headers: { ...TUS, authorization: `Bearer ${stranger}` } });
    expect(cancelled.status).toBe(204);
    await expect(stat(join(gw.stagingDir, ids[0] ?? ''))).rejects.toThrow();
    const overBytes = await create(stranger, 4 * 1024 * 1024 + 1);
    expect(overBytes.status).toBe(429);
    expect(await overBytes.json()).toMatchObject({ error: 'unpaid_bytes_limit' });
    expect((await create(stranger, 4 * 1024 * 1024)).status).toBe(201);
  });

  it('removes unfinished uploads and their bytes once they expire', async () => {
    const created = await create(buyer, 1024);
    const uploadId = created.headers.get('location')?.split('/').pop() ?? '';
    await fetch(`${gw.base}/v1/resumable-uploads/${uploadId}`, {
      method: 'PATCH',
      headers: { ...TUS, authorization: `Bearer ${buyer}`, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: Buffer.alloc(100),
    });
    expect((await stat(join(gw.stagingDir, uploadId, STAGED_FILES.source))).size).toBe(100);
    expect(await gw.staging.resumable.sweepExpired(Date.now())).toBe(0);
    expect(await gw.staging.resumable.sweepExpired(Date.now() + gw.config.RESUMABLE_EXPIRY_SECONDS * 1000 + 1000)).toBeGreaterThanOrEqual(1);
    await expect(stat(join(gw.stagingDir, uploadId))).rejects.toThrow();
    expect((await fetch(`${gw.base}/v1/resumable-uploads/${uploadId}`, { method: 'HEAD', headers: { ...TUS, authorization: `Bearer ${buyer}` } })).status).toBe(
      404,
    );
  });
});

describe('the free-space reserve', () => {
  it('refuses new uploads with 507 before a byte is stored, on both paths, when the volume is at its reserve', async () => {
    const full = await startGateway(redis, { STAGING_RESERVE_BYTES: String(2 ** 52) });
    try {
      const token = await full.signIn(ANVIL_ACCOUNTS.cli.key);
      const res = await fetch(`${full.base}/v1/resumable-uploads`, {
        method: 'POST',
        headers: { ...TUS, authorization: `Bearer ${token}`, 'upload-length': '1000' },
      });
      expect(res.status).toBe(507);
      expect(await res.json()).toMatchObject({ error: 'insufficient_storage' });
      const form = await postListing(full.base, token, { video: clip }, { title: 'Bike', latitude: '1', longitude: '2' });
      expect(form.status).toBe(507);
      expect(await form.json()).toMatchObject({ error: 'insufficient_storage' });
      expect(await readdir(full.stagingDir)).toEqual([]);
    } finally {
      await full.close();
    }
  });
});

describe('the Redis locker', () => {
  it('lets one holder at a time across lockers, and asks the holder to let go', async () => {
    const prefix = `lock-test-${randomBytes(3).toString('hex')}`;
    const subscribers = [redis.duplicate(), redis.duplicate()];
    const [a, b] = subscribers.map((subscriber) => new RedisLocker(redis, subscriber, { prefix, acquireTimeoutMs: 3000 })) as [RedisLocker, RedisLocker];
    const first = a.newLock('upload-1');
    let asked = 0;
    await first.lock(new AbortController().signal, async () => {
      asked += 1;
      await first.unlock();
    });
    // The second replica's request asks the first to release, then gets the lock.
    const second = b.newLock('upload-1');
    await second.lock(new AbortController().signal, () => undefined);
    expect(asked).toBe(1);
    // Nobody lets go: the third gives up at its timeout.
    const third = new RedisLocker(redis, redis.duplicate(), { prefix, acquireTimeoutMs: 300 }).newLock('upload-1');
    await expect(third.lock(new AbortController().signal, () => undefined)).rejects.toThrow(/not acquired/);
    await second.unlock();
    await Promise.all([a.close(), b.close()]);
    for (const subscriber of subscribers) subscriber.disconnect();
  });
});
