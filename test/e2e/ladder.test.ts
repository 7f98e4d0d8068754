import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { connectRedis } from '@reelboard/bus';
import { connectDatabase, type Knex, migrateToLatest } from '@reelboard/db';
import { type ObjectStorage, s3EnvSchema, storageFromEnv } from '@reelboard/storage';
import { followEvents, pay, postListing, signIn } from '@reelboard/testkit/client';
import { ffprobe, makeClip } from '@reelboard/testkit/media';
import { ANVIL_ACCOUNTS, type Stack, startStack } from '@reelboard/testkit/stack';

// The rendition ladder on the real services (one transcoder replica), real ffmpeg, Redis and s3rver:
// a 360p source becomes 240p and 360p rungs, each encoded in the same two chunks; the 240p rung is
// encoded first, stored with the audio and a manifest listing it alone (`rendition.ready`), then the
// 360p rung joins the manifest, and only then is the listing saved with the manifest and its rungs.

const CLIP_SECONDS = 4;
/** Two rungs of two chunks take ~20 s on an idle 2-core machine; a shared one under load needs far more. */
const TEST_TIMEOUT_MS = 600_000;

let stack: Stack;
let db: Knex;
let storage: ObjectStorage;
let redis: ReturnType<typeof connectRedis>;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'reelboard-ladder-'));
  await makeClip(join(work, 'clip.mp4'), { width: 640, height: 360, seconds: CLIP_SECONDS });
  // Chunked like a long video (two chunks of 2 s), so each rung is a join of chunks. The lowest rung
  // is never encoded while the person pays here (test/e2e/speculative-rung.test.ts covers that), so
  // its chunk jobs always exist whenever the payment lands.
  stack = await startStack({ PREVIEW_SECONDS: '2', CHUNK_THRESHOLD_SECONDS: '3', CHUNK_SECONDS: '2', SPECULATIVE_RUNG: 'false' });
  db = connectDatabase(stack.env.DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
  storage = storageFromEnv(s3EnvSchema.parse(stack.env));
  redis = connectRedis(stack.env.REDIS_URL ?? '', 'ladder-test');
});

afterAll(async () => {
  await stack?.shutdown();
  await redis?.quit();
  await db?.destroy();
  storage?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the rendition ladder, lowest rung first', () => {
  it(
    'stores the 240p rung with a manifest of its own before the 360p one, then saves the listing with the whole ladder',
    async () => {
      const seller = ANVIL_ACCOUNTS.buyer;
      const { token } = await signIn(stack.gatewayUrl, seller.key, Number(stack.env.CHAIN_ID));
      const res = await postListing(
        stack.gatewayUrl,
        token,
        { video: join(work, 'clip.mp4') },
        { title: 'Ladder', description: 'Two rungs.', hashtags: '#ladder', latitude: '52.52', longitude: '13.405' },
      );
      expect(res.status).toBe(202);
      const { uploadId, payment } = (await res.json()) as { uploadId: string; payment: { to: `0x${string}`; amount: string } };
      const manifestKey = `listings/${uploadId}/dash/manifest.mpd`;
      const stream = followEvents(stack.gatewayUrl, uploadId, token, TEST_TIMEOUT_MS - 20_000);
      await stream.waitFor('upload.received', 10_000);
      await pay(stack.env.RPC_URL ?? '', seller.key, payment.to, BigInt(payment.amount));

      // The moment the lowest rung is announced, the stored manifest lists it (and the audio) alone.
      const first = await stream.waitFor('rendition.ready', TEST_TIMEOUT_MS - 30_000);
      expect(first).toMatchObject({ stage: 'uploader', code: 'rendition.ready', rendition: { height: 240, manifest: manifestKey } });
      const early = (await storage.getBytes(manifestKey)).toString('utf8');
      expect([...early.matchAll(/<BaseURL>([^<]+)<\/BaseURL>/g)].map((m) => m[1])).toEqual(['video-240p.webm', 'audio.webm']);
      const stored = await storage.head(manifestKey);
      expect(stored?.contentType).toBe('application/dash+xml');
      expect(stored?.cacheControl).toBe('public, max-age=60');

      const events = await stream.untilEnd;
      const names = events.map((e) => e.name);
      expect(names.at(-1), `stream ended with ${JSON.stringify(events.at(-1)?.data)}`).toBe('profile.saved');
      const ready = events.filter((e) => e.name === 'rendition.ready').map((e) => e.data.rendition?.height);
      expect(ready).toEqual([240, 360]);
      // Both rungs are in the manifest before the chain goes on to save the listing.
      expect(names.lastIndexOf('rendition.ready')).toBeLessThan(names.indexOf('video.transcoded'));
      expect(names.indexOf('preview.ready')).toBeLessThan(names.indexOf('video.transcoded'));

      // The lowest rung's chunks (priority 1) all ran before any of the next rung's, on the one replica.
      const chunkQueue = new Queue('video.chunk', { connection: redis, prefix: stack.env.REDIS_PREFIX ?? '' });
      const job = async (id: string) => {
        const found = await chunkQueue.getJob(`${uploadId}.video.chunk.${id}`);
        if (!found?.processedOn || !found.finishedOn) throw new Error(`chunk job ${id} did not run`);
        return found;
      };
      // The lowest rung's two chunks side by side in one job (FFMPEG_THREADS 2).
      const low = await Promise.all([job('240p.0+1'), job('audio')]);
      const high = await Promise.all([job('360p.0'), job('360p.1')]);
      expect(Math.min(...high.map((j) => j.processedOn ?? 0))).toBeGreaterThanOrEqual(Math.max(...low.map((j) => j.finishedOn ?? 0)));
      await chunkQueue.close();

      // The whole ladder is stored: the manifest lists both rungs by relative names, aligned.
      const mpd = (await storage.getBytes(manifestKey)).toString('utf8');
      expect([...mpd.matchAll(/<BaseURL>([^<]+)<\/BaseURL>/g)].map((m) => m[1])).toEqual(['video-240p.webm', 'video-360p.webm', 'audio.webm']);
      expect(mpd).toContain('subsegmentAlignment="true"');
      for (const [name, type] of [
        ['video-240p.webm', 'video/webm'],
        ['video-360p.webm', 'video/webm'],
        ['audio.webm', 'audio/webm'],
      ] as const) {
        const head = await storage.head(`listings/${uploadId}/dash/${name}`);
        expect(head?.contentType, name).toBe(type);
        expect(head?.cacheControl, name).toContain('immutable');
        await writeFile(join(work, name), await storage.getBytes(`listings/${uploadId}/dash/${name}`));
        const probed = await ffprobe(join(work, name));
        expect(Math.abs(Number(probed.format.duration) - CLIP_SECONDS), name).toBeLessThanOrEqual(0.05);
      }

      // The progressive fallback is the top rung with the audio (a remux): VP9 + Opus at 360p.
      await writeFile(join(work, 'video.webm'), await storage.getBytes(`listings/${uploadId}/video.webm`));
      const progressive = await ffprobe(join(work, 'video.webm'));
      expect(progressive.streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'vp9', width: 640, height: 360 });
      expect(progressive.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('opus');

      // The listing is saved with the manifest and its rungs, lowest first.
      const listing = await db('listings').where({ id: uploadId }).first('manifest_key', 'renditions', 'video_key');
      expect(listing).toMatchObject({
        manifest_key: manifestKey,
        video_key: `listings/${uploadId}/video.webm`,
        renditions: [
          { width: 426, height: 240, bitrateKbps: 402 },
          { width: 640, height: 360, bitrateKbps: 700 },
        ],
      });
    },
    TEST_TIMEOUT_MS,
  );
});
