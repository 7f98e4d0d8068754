import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import { stagedPaths } from '@reelboard/contracts';
import { createBus, giveUpByPolicy, listFailedUploads, retryFailedUpload, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { createMediaAdapter, type MediaAdapter } from '@reelboard/media';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { makeChunkSource, paymentConfirmed, streamSpans, waitFor } from '@reelboard/testkit/stage';
import { handlePaymentConfirmed, type TranscodeSettings } from '../src/handle-payment-confirmed.js';
import { handleVideoAssemble } from '../src/handle-video-assemble.js';
import { handleVideoChunk } from '../src/handle-video-chunk.js';

// An operator's retry (`pnpm failed-uploads retry`) of a chunked encode whose chunk failed for good,
// on real Redis (a BullMQ flow) and real ffmpeg: the failed chunk and the failed join are retried
// together, the join waits for the chunk, and only that chunk is encoded again.

const FPS = 30;
const SECONDS = 6;
const FAILING = 1;
let staging = '';
const media = createMediaAdapter();
const redisUrl = infraEnv().REDIS_URL ?? '';
const prefix = `chunk-retry-${randomUUID().slice(0, 8)}`;
const log = createLogger('chunk-retry-test', 'error');
const redis = connectRedis(redisUrl, 'chunk-retry-test');
const bus = createBus(redis, prefix, 'transcoder', log, { 'video.chunk': { backoffMs: 100 }, 'video.assemble': { backoffMs: 100 } });
const uploads = new Uploads(redis, prefix, bus.status);
bus.onGiveUp(giveUpByPolicy(uploads, bus, 'transcoder'));

const settings: TranscodeSettings = {
  STAGING_DIR: '',
  FFMPEG_THREADS: 1,
  MAX_OUTPUT_HEIGHT: 2160,
  MAX_DURATION_SECONDS: 600,
  MAX_SOURCE_SIDE: 7680,
  PROGRESS_INTERVAL_MS: 200,
  PREVIEW_SECONDS: 1,
  PREVIEW_MAX_HEIGHT: 240,
  FFMPEG_TIMEOUT_SECONDS: 600,
  ENCODE_MIN_MEGAPIXELS_PER_SECOND: 4,
  CHUNK_THRESHOLD_SECONDS: 3,
  CHUNK_SECONDS: 2,
};

/** While true, every encode of chunk FAILING is killed a moment in (its ffmpeg fails, as on a broken replica). */
let broken = true;
const encodes: number[] = [];
let audioEncodes = 0;
let joins = 0;
let assembleRuns = 0;

const adapter: MediaAdapter = {
  ...media,
  encodeVideoChunk: async (input, output, options, onProgress) => {
    const index = options.startFrame / (2 * FPS);
    encodes.push(index);
    if (index === FAILING && broken) {
      const kill = new AbortController();
      setTimeout(() => kill.abort(), 200);
      return media.encodeVideoChunk(input, output, { ...options, signal: kill.signal }, onProgress);
    }
    // The retried chunk starts late, so the retried join surely runs before it is done.
    if (index === FAILING) await new Promise((resolve) => setTimeout(resolve, 1_000));
    return media.encodeVideoChunk(input, output, options, onProgress);
  },
  encodeAudioTrack: (input, output, options) => {
    audioEncodes += 1;
    return media.encodeAudioTrack(input, output, options);
  },
  joinChunks: (output, options) => {
    joins += 1;
    return media.joinChunks(output, options);
  },
};

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'reelboard-chunk-retry-'));
  settings.STAGING_DIR = staging;
  await makeChunkSource(join(staging, 'long.mp4'), SECONDS, FPS);
  bus.consume('payment.confirmed', (upload, context) => handlePaymentConfirmed(adapter, settings, upload, context), { concurrency: 1 });
  bus.consume('video.chunk', (job, context) => handleVideoChunk(adapter, settings, job, context, 'replica'), { concurrency: 2 });
  bus.consume(
    'video.assemble',
    (job, context) => {
      assembleRuns += 1;
      return handleVideoAssemble(adapter, settings, job, context);
    },
    { concurrency: 1 },
  );
}, 60_000);

afterAll(async () => {
  await bus.close(1_000);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  if (staging) await rm(staging, { recursive: true, force: true });
});

describe('operator retry of a chunked encode', () => {
  it('retries the chunk that failed for good and the join with it; the join waits, only that chunk is encoded again', async () => {
    const uploadId = randomUUID();
    await mkdir(join(staging, uploadId), { recursive: true });
    await copyFile(join(staging, 'long.mp4'), join(staging, stagedPaths(uploadId).source));
    const upload = paymentConfirmed(uploadId, stagedPaths(uploadId).source);
    const { payment, ...received } = upload;
    await uploads.register(received, 'test');
    expect(await uploads.pay(uploadId, payment, 'test')).toBe(true);
    await bus.publish('payment.confirmed', upload);

    // The chunk fails on every attempt: the flow's parent fails with it and the upload is failed.
    await waitFor('failed', async () => ((await uploads.state(uploadId)) === 'failed' ? true : undefined));
    const attempts = bus.policy('video.chunk').attempts;
    expect(encodes.filter((i) => i === FAILING)).toHaveLength(attempts);
    const parent = await waitFor('failed parent', async () => {
      const job = await bus.queue('video.assemble').getJob(`${uploadId}.video.assemble`);
      return job && (await job.getState()) === 'failed' ? job : undefined;
    });
    expect(parent.id).toBe(`${uploadId}.video.assemble`);
    expect(assembleRuns).toBe(0);
    // The other parts still finish (as they would before an operator looks).
    for (const part of ['0', '2', 'audio']) {
      await waitFor(`part ${part}`, async () =>
        (await bus.queue('video.chunk').getJobState(`${uploadId}.video.chunk.${part}`)) === 'completed' ? true : undefined,
      );
    }
    const listed = (await listFailedUploads(bus)).filter((f) => f.uploadId === uploadId).map((f) => f.channel);
    expect(listed.sort()).toEqual(['video.assemble', 'video.chunk']);
    const firstEncodes = encodes.length;
    expect(firstEncodes).toBe(attempts + SECONDS / 2 - 1);

    // The operator retries once the cause is fixed: the chunk first, then the join.
    broken = false;
    expect((await retryFailedUpload(bus, uploads, uploadId)).map((f) => f.channel)).toEqual(['video.chunk', 'video.assemble']);
    expect(await uploads.state(uploadId)).toBe('processing');

    const transcoded = await waitFor('video.transcoded', async () => (await bus.queue('video.transcoded').getJob(`${uploadId}.video.transcoded`)) ?? undefined);
    // The join ran while the chunk was still encoding, went back to wait for it, and joined once.
    expect(assembleRuns).toBe(2);
    expect(joins).toBe(1);
    // Only the failed chunk was encoded again; the finished chunks and the audio track were not.
    expect(encodes.slice(firstEncodes)).toEqual([FAILING]);
    expect(audioEncodes).toBe(1);
    const spans = await streamSpans(join(staging, transcoded.data.video.path));
    expect(spans.video.packets).toBe(SECONDS * FPS);
    expect(spans.audio).toBeDefined();
    expect((await listFailedUploads(bus)).some((f) => f.uploadId === uploadId)).toBe(false);
  });
});
