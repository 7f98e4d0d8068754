import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { connectRedis } from '@reelboard/bus';
import { connectDatabase, type Knex, migrateToLatest } from '@reelboard/db';
import { type ObjectStorage, s3EnvSchema, speculativeRungKeys, storageFromEnv } from '@reelboard/storage';
import { followEvents, pay, postListing, signIn } from '@reelboard/testkit/client';
import { makeClip } from '@reelboard/testkit/media';
import { ANVIL_ACCOUNTS, type Stack, startStack } from '@reelboard/testkit/stack';

// The lowest rung encoded while the person pays, on the real services (one transcoder replica),
// ffmpeg, Redis, s3rver and anvil: paid after it was stored privately, the listing's manifest with
// that rung and the audio is published from the private objects without a chunk job for it, and only
// the higher rung is encoded before the listing is saved.

const CLIP_SECONDS = 4;
const TEST_TIMEOUT_MS = 600_000;

let stack: Stack;
let db: Knex;
let storage: ObjectStorage;
let redis: ReturnType<typeof connectRedis>;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'reelboard-speculative-rung-'));
  await makeClip(join(work, 'clip.mp4'), { width: 640, height: 360, seconds: CLIP_SECONDS });
  stack = await startStack({ PREVIEW_SECONDS: '2', SPECULATIVE_RUNG: 'true' });
  db = connectDatabase(stack.env.DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
  storage = storageFromEnv(s3EnvSchema.parse(stack.env));
  redis = connectRedis(stack.env.REDIS_URL ?? '', 'speculative-rung-e2e');
});

afterAll(async () => {
  await stack?.shutdown();
  await redis?.quit();
  await db?.destroy();
  storage?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the lowest rung encoded while the person pays, on the stack', () => {
  it(
    'paid after it was stored: the manifest with it is published by copy, its chunks are never jobs, the listing is saved with both rungs',
    async () => {
      const seller = ANVIL_ACCOUNTS.buyer;
      const { token } = await signIn(stack.gatewayUrl, seller.key, Number(stack.env.CHAIN_ID));
      const res = await postListing(
        stack.gatewayUrl,
        token,
        { video: join(work, 'clip.mp4') },
        { title: 'Speculative rung', description: 'Paid late.', hashtags: '#ladder', latitude: '52.52', longitude: '13.405' },
      );
      expect(res.status).toBe(202);
      const { uploadId, payment } = (await res.json()) as { uploadId: string; payment: { to: `0x${string}`; amount: string } };
      const manifestKey = `listings/${uploadId}/dash/manifest.mpd`;
      const stream = followEvents(stack.gatewayUrl, uploadId, token, TEST_TIMEOUT_MS - 20_000);
      await stream.waitFor('upload.received', 10_000);

      // The person takes a while to pay: the rung is stored privately meanwhile, nothing public yet.
      const privateRung = speculativeRungKeys(uploadId);
      const deadline = Date.now() + 240_000;
      while (!(await storage.head(privateRung.video)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
      expect(await storage.head(privateRung.video)).toMatchObject({ contentType: 'video/webm' });
      // Its record is written just after the objects.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await storage.head(manifestKey)).toBeUndefined();

      await pay(stack.env.RPC_URL ?? '', seller.key, payment.to, BigInt(payment.amount));
      const first = await stream.waitFor('rendition.ready', TEST_TIMEOUT_MS - 30_000);
      expect(first).toMatchObject({ stage: 'uploader', code: 'rendition.ready', rendition: { height: 240, manifest: manifestKey } });
      const early = (await storage.getBytes(manifestKey)).toString('utf8');
      expect([...early.matchAll(/<BaseURL>([^<]+)<\/BaseURL>/g)].map((m) => m[1])).toEqual(['video-240p.webm', 'audio.webm']);
      // The published rung is the private one, copied.
      expect((await storage.head(`listings/${uploadId}/dash/video-240p.webm`))?.bytes).toBe((await storage.head(privateRung.video))?.bytes);

      const events = await stream.untilEnd;
      const names = events.map((e) => e.name);
      expect(names.at(-1), `stream ended with ${JSON.stringify(events.at(-1)?.data)}`).toBe('profile.saved');
      expect(events.filter((e) => e.name === 'rendition.ready').map((e) => e.data.rendition?.height)).toEqual([240, 360]);

      // Only the 360p rung was a chunk job after the payment: no 240p chunk, no audio job.
      const chunkQueue = new Queue('video.chunk', { connection: redis, prefix: stack.env.REDIS_PREFIX ?? '' });
      expect(await chunkQueue.getJob(`${uploadId}.video.chunk.360p.0`)).toBeDefined();
      // Every chunk job of the upload, whatever its id (a lowest-rung job may carry several chunks: 240p.0+1).
      const parts = (await chunkQueue.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized']))
        .filter((job) => job.data?.uploadId === uploadId)
        .map((job) => job.data.part as { kind: string; rung?: number });
      expect(parts.length).toBeGreaterThan(0);
      expect(parts.filter((part) => part.kind === 'audio' || part.rung === 240)).toEqual([]);
      await chunkQueue.close();

      const mpd = (await storage.getBytes(manifestKey)).toString('utf8');
      expect([...mpd.matchAll(/<BaseURL>([^<]+)<\/BaseURL>/g)].map((m) => m[1])).toEqual(['video-240p.webm', 'video-360p.webm', 'audio.webm']);
      const listing = await db('listings').where({ id: uploadId }).first('manifest_key', 'renditions');
      expect(listing).toMatchObject({
        manifest_key: manifestKey,
        renditions: [
          { width: 426, height: 240, bitrateKbps: 402 },
          { width: 640, height: 360, bitrateKbps: 700 },
        ],
      });
    },
    TEST_TIMEOUT_MS,
  );
});
