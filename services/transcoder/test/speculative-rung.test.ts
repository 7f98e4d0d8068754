import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowStep } from '@reelboard/bus';
import { connectRedis } from '@reelboard/bus';
import { type Channel, type RenditionStore, stagedDashPaths, type UploadReceived } from '@reelboard/contracts';
import { StatusStore, Uploads } from '@reelboard/lifecycle';
import { createMediaAdapter, type MediaAdapter } from '@reelboard/media';
import { dashKeys, s3EnvSchema, speculativeRungKeys, storageFromEnv } from '@reelboard/storage';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { makeClip } from '@reelboard/testkit/media';
import { fakeContext, paymentConfirmed, waitFor } from '@reelboard/testkit/stage';
import { receivedUpload } from '@reelboard/testkit/uploads';
import { handlePaymentConfirmed, type TranscodeSettings } from '../src/handle-payment-confirmed.js';
import { handlePreviewSpeculative, type SpeculativeSettings } from '../src/handle-preview-speculative.js';
import { readSpeculativeRung } from '../src/speculative-rung.js';
import { transcodeTestSettings } from './test-settings.js';

// The ladder's lowest rung encoded while the person pays, on real ffmpeg, s3rver and Redis: reused
// by the paid path (stored by copy, never encoded again) when it finished first and was encoded for
// the same plan; abandoned when the payment lands mid-encode; never reused for a changed plan.

const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'speculative-rung-test');
const prefix = `speculative-rung-test-${randomUUID().slice(0, 8)}`;
const uploads = new Uploads(redis, prefix, new StatusStore(redis, prefix));
const storage = storageFromEnv(s3EnvSchema.parse(infraEnv()));
const media = createMediaAdapter();
let staging = '';

const settings = (overrides: Partial<TranscodeSettings & SpeculativeSettings> = {}): TranscodeSettings & SpeculativeSettings =>
  transcodeTestSettings(staging, { STREAM_LADDER: true, SPECULATIVE_RUNG: true, ...overrides });

/** The real adapter, counting the video and audio encodes it runs. */
function countingMedia(): MediaAdapter & { encodes: string[] } {
  const counting = {
    ...media,
    encodes: [] as string[],
    encodeVideoChunk: (...args: Parameters<MediaAdapter['encodeVideoChunk']>) => {
      counting.encodes.push(`video ${args[2].maxHeight}p`);
      return media.encodeVideoChunk(...args);
    },
    encodeAudioTrack: (...args: Parameters<MediaAdapter['encodeAudioTrack']>) => {
      counting.encodes.push('audio');
      return media.encodeAudioTrack(...args);
    },
  };
  return counting;
}

async function accepted(clip: string): Promise<UploadReceived> {
  const upload = receivedUpload();
  await mkdir(join(staging, upload.uploadId), { recursive: true });
  await copyFile(join(staging, clip), join(staging, upload.staged.source));
  await uploads.register(upload, 'test');
  return upload;
}

const pay = (uploadId: string) => uploads.pay(uploadId, paymentConfirmed(uploadId, 'x').payment, 'test');

/** Runs the paid path, capturing the ladder flow it adds instead of handing it to BullMQ. */
async function paidPath(upload: UploadReceived, counting: MediaAdapter, overrides: Partial<TranscodeSettings & SpeculativeSettings> = {}) {
  let flow: FlowStep<Channel>[] = [];
  const paid = fakeContext();
  await handlePaymentConfirmed(counting, settings(overrides), paymentConfirmed(upload.uploadId, upload.staged.source), {
    ...paid.context,
    emitFlow: async (_parent, children) => {
      flow = children as FlowStep<Channel>[];
    },
  });
  const steps: FlowStep<Channel>[] = [];
  const walk = (step: FlowStep<Channel>) => {
    steps.push(step);
    for (const child of step.children ?? []) walk(child);
  };
  for (const step of flow) walk(step);
  const stores = steps.filter((step) => step.channel === 'rendition.store') as FlowStep<'rendition.store'>[];
  const lowest = stores.at(-1) as FlowStep<'rendition.store'>;
  const chunkJobs = steps
    .filter((step) => step.channel === 'video.chunk')
    .map((step) => {
      const part = (step.payload as { part: { kind: string; rung?: number; rungs?: number[] } }).part;
      return part.kind === 'audio' ? 'audio' : `${part.rungs ? part.rungs.join('-') : part.rung}p`;
    });
  return { lowest, chunkJobs, logs: paid.captured.logs };
}

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'reelboard-speculative-rung-'));
  await storage.ensureBucket();
  await Promise.all([
    // Two rungs (240p, 360p) and an audio track.
    makeClip(join(staging, 'small.mp4'), { width: 640, height: 360, seconds: 2 }),
    // Long enough at 240p to still be encoding when the payment lands.
    makeClip(join(staging, 'long.mp4'), { width: 1280, height: 720, seconds: 12 }),
  ]);
}, 120_000);

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  storage.close();
  if (staging) await rm(staging, { recursive: true, force: true });
});

describe('the lowest rung encoded while the person pays', () => {
  it('paid after it finished: the flow stores it by copy at once, with its manifest, and never encodes it again', async () => {
    const upload = await accepted('small.mp4');
    const outcome = await handlePreviewSpeculative({ media, storage, stateOf: (id) => uploads.state(id) }, settings(), upload, fakeContext().context);
    expect(outcome).toMatchObject({ outcome: 'stored', rung: { outcome: 'stored', rung: 240 } });
    const keys = speculativeRungKeys(upload.uploadId);
    // Stored privately only: nothing under the listing's public DASH keys before the payment.
    expect(await storage.head(keys.video)).toMatchObject({ contentType: 'video/webm' });
    expect(await storage.head(keys.audio)).toMatchObject({ contentType: 'audio/webm' });
    expect(await storage.head(dashKeys(upload.uploadId).manifest)).toBeUndefined();
    // A second delivery of the job encodes nothing.
    const again = countingMedia();
    expect(
      await handlePreviewSpeculative({ media: again, storage, stateOf: (id) => uploads.state(id) }, settings(), upload, fakeContext().context),
    ).toMatchObject({ outcome: 'already-stored', rung: { outcome: 'already-stored' } });
    expect(again.encodes).toEqual([]);

    await pay(upload.uploadId);
    const counting = countingMedia();
    const { lowest, chunkJobs } = await paidPath(upload, counting);
    // Only the higher rung is left to encode; the lowest rung and the audio are not jobs at all.
    expect(chunkJobs).toEqual(['360p']);
    expect(counting.encodes).toEqual([]);
    expect(lowest.payload.rung.name).toBe(240);
    expect(lowest.payload.copy).toEqual(keys);
    expect(lowest.children).toEqual([]);
    // Staged where the ladder's own files go: the 360p join lists it, the fallback may remux it.
    const manifest = await readFile(join(staging, (lowest.payload as RenditionStore).manifest), 'utf8');
    expect([...manifest.matchAll(/<BaseURL>([^<]+)<\/BaseURL>/g)].map((m) => m[1])).toEqual(['video-240p.webm', 'audio.webm']);
    const rung = await media.probe(join(staging, stagedDashPaths.rung(upload.uploadId, 240)));
    expect(rung.video).toMatchObject({ codec: 'vp9', height: 240 });
    expect(rung.durationSeconds).toBeCloseTo(2, 0);
  }, 180_000);

  it('paid mid-encode: stops its ffmpeg, stores nothing, and the paid path encodes the lowest rung itself', async () => {
    const upload = await accepted('long.mp4');
    const counting = countingMedia();
    const running = handlePreviewSpeculative(
      { media: counting, storage, stateOf: (id) => uploads.state(id), pollMs: 50 },
      settings({ PREVIEW_SECONDS: 1 }),
      upload,
      fakeContext().context,
    );
    await waitFor('the speculative rung encoding', async () => (counting.encodes.length > 0 ? true : undefined), 60_000);
    await pay(upload.uploadId);
    expect(await running).toMatchObject({ outcome: 'stored', rung: { outcome: 'stopped-paid' } });
    expect(await readSpeculativeRung(staging, upload.uploadId)).toBeUndefined();
    expect(await storage.head(speculativeRungKeys(upload.uploadId).video)).toBeUndefined();

    const { lowest, chunkJobs } = await paidPath(upload, countingMedia());
    expect(chunkJobs).toEqual(expect.arrayContaining(['240p', '360-480-720p', 'audio']));
    expect(lowest.payload.copy).toBeUndefined();
    expect(lowest.children?.map((child) => child.channel)).toEqual(['rendition.join']);
  }, 180_000);

  it('a changed ladder setting since the speculative encode: the stale rung is not reused', async () => {
    const upload = await accepted('small.mp4');
    expect(await handlePreviewSpeculative({ media, storage, stateOf: (id) => uploads.state(id) }, settings(), upload, fakeContext().context)).toMatchObject({
      rung: { outcome: 'stored' },
    });
    await pay(upload.uploadId);
    // Chunked at 1 s now: the same rung's keyframes and joins would differ from the stored one.
    const { lowest, chunkJobs, logs } = await paidPath(upload, countingMedia(), { CHUNK_THRESHOLD_SECONDS: 0, CHUNK_SECONDS: 1 });
    expect(lowest.payload.copy).toBeUndefined();
    expect(chunkJobs.filter((job) => job === '240p').length).toBe(2);
    expect(logs.find((log) => log.message === 'rendition ladder planned')?.meta).toMatchObject({ lowestRungEncodedWhilePaying: 'plan-changed' });
  }, 180_000);

  it('is off with SPECULATIVE_RUNG=false: the preview only', async () => {
    const upload = await accepted('small.mp4');
    const counting = countingMedia();
    const outcome = await handlePreviewSpeculative(
      { media: counting, storage, stateOf: (id) => uploads.state(id) },
      settings({ SPECULATIVE_RUNG: false }),
      upload,
      fakeContext().context,
    );
    expect(outcome).toEqual(expect.objectContaining({ outcome: 'stored' }));
    expect(outcome.rung).toBeUndefined();
    expect(counting.encodes).toEqual([]);
  }, 60_000);
});
