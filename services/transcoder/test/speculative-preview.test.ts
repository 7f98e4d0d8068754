import { randomUUID } from 'node:crypto';
import { access, copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import { type PreviewEarly, stagedSpeculativePaths, type UploadReceived } from '@reelboard/contracts';
import { createBus, type PipelineBus, StatusStore, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { createMediaAdapter, type MediaAdapter } from '@reelboard/media';
import { listingKeys, s3EnvSchema, speculativeKeys, storageFromEnv } from '@reelboard/storage';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { makeClip } from '@reelboard/testkit/media';
import { fakeContext, paymentConfirmed, waitFor } from '@reelboard/testkit/stage';
import { receivedUpload } from '@reelboard/testkit/uploads';
import { handlePaymentConfirmed, type TranscodeSettings } from '../src/handle-payment-confirmed.js';
import { handlePreviewSpeculative } from '../src/handle-preview-speculative.js';
import { readSpeculativeCut } from '../src/speculative-cut.js';

// The preview cut while the person pays, on real ffmpeg, s3rver and Redis: stored privately while
// unpaid, published by the paid path without a second cut, stopped when the payment lands mid-cut,
// and on its own queue and slots so a burst of unpaid uploads never holds up a paid one.

const redisUrl = infraEnv().REDIS_URL ?? '';
const redis = connectRedis(redisUrl, 'speculative-test');
const prefix = `speculative-test-${randomUUID().slice(0, 8)}`;
const uploads = new Uploads(redis, prefix, new StatusStore(redis, prefix));
const storage = storageFromEnv(s3EnvSchema.parse(infraEnv()));
const log = createLogger('speculative-test', 'error');
const media = createMediaAdapter();
const buses: PipelineBus[] = [];
let staging = '';

const settings = (): TranscodeSettings => ({
  STAGING_DIR: staging,
  FFMPEG_THREADS: 1,
  MAX_OUTPUT_HEIGHT: 2160,
  MAX_DURATION_SECONDS: 600,
  MAX_SOURCE_SIDE: 7680,
  PROGRESS_INTERVAL_MS: 1_000,
  PREVIEW_SECONDS: 2,
  PREVIEW_MAX_HEIGHT: 360,
  FFMPEG_TIMEOUT_SECONDS: 600,
  ENCODE_MIN_MEGAPIXELS_PER_SECOND: 4,
  CHUNK_THRESHOLD_SECONDS: 90,
  CHUNK_SECONDS: 20,
});

/** The real adapter, counting preview cuts. */
function countingMedia(): MediaAdapter & { cuts: number } {
  const counting = {
    ...media,
    cuts: 0,
    extractPreviewAndPoster: (...args: Parameters<MediaAdapter['extractPreviewAndPoster']>) => {
      counting.cuts++;
      return media.extractPreviewAndPoster(...args);
    },
  };
  return counting;
}

/** An accepted upload awaiting payment, its source staged from `clip`. */
async function accepted(clip: string): Promise<UploadReceived> {
  const upload = receivedUpload();
  await mkdir(join(staging, upload.uploadId), { recursive: true });
  await copyFile(join(staging, clip), join(staging, upload.staged.source));
  await uploads.register(upload, 'test');
  return upload;
}

const pay = (uploadId: string) => uploads.pay(uploadId, paymentConfirmed(uploadId, 'x').payment, 'test');
const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** ffmpeg processes reading this file now (a cut left running would show here). */
async function ffmpegReading(path: string): Promise<number> {
  let count = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('ffmpeg') && cmdline.includes(path)) count++;
  }
  return count;
}

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'reelboard-speculative-'));
  await storage.ensureBucket();
  await Promise.all([
    makeClip(join(staging, 'small.mp4'), { width: 320, height: 240, seconds: 2 }),
    // Long enough to still be cutting when the payment lands.
    makeClip(join(staging, 'large.mp4'), { width: 1920, height: 1080, seconds: 6 }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all(buses.map((bus) => bus.close(1_000)));
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  storage.close();
  if (staging) await rm(staging, { recursive: true, force: true });
});

describe('the preview cut while the person pays', () => {
  it("stores an unpaid upload's preview and poster under private keys only, then the paid path publishes them without cutting again", async () => {
    const upload = await accepted('small.mp4');
    const { context } = fakeContext();
    const outcome = await handlePreviewSpeculative({ media, storage, stateOf: (id) => uploads.state(id) }, settings(), upload, context);
    expect(outcome).toMatchObject({ outcome: 'stored' });
    const keys = speculativeKeys(upload.uploadId);
    const listing = listingKeys(upload.uploadId);
    expect(keys.preview.startsWith('listings/') || keys.poster.startsWith('listings/')).toBe(false);
    expect(await storage.head(keys.preview)).toMatchObject({ contentType: 'video/webm' });
    expect(await storage.head(keys.poster)).toMatchObject({ contentType: 'image/webp' });
    // Nothing of an unpaid upload is under the listing's (public) keys.
    expect(await storage.head(listing.preview)).toBeUndefined();
    expect(await storage.head(listing.poster)).toBeUndefined();
    const cut = await readSpeculativeCut(staging, upload.uploadId);
    expect(cut?.preview.path).toBe(stagedSpeculativePaths(upload.uploadId).preview);

    // A second delivery of the job (at-least-once) does nothing.
    expect(await handlePreviewSpeculative({ media, storage, stateOf: (id) => uploads.state(id) }, settings(), upload, fakeContext().context)).toEqual({
      outcome: 'already-stored',
    });

    await pay(upload.uploadId);
    const counting = countingMedia();
    const paid = fakeContext();
    const started = performance.now();
    let publishedAfterMs = -1;
    const emit = paid.context.emit;
    paid.context.emit = async (channel, payload) => {
      if (channel === 'preview.early' && publishedAfterMs < 0) publishedAfterMs = performance.now() - started;
      return emit(channel, payload);
    };
    await handlePaymentConfirmed(counting, settings(), { ...paymentConfirmed(upload.uploadId, upload.staged.source) }, paid.context);
    // Published first (before the probe and the encode), by copy of the private objects, and never cut again.
    expect(paid.captured.emitted.map((e) => e.channel)).toEqual(['preview.early', 'video.transcoded']);
    const early = paid.captured.emitted[0]!.payload as PreviewEarly;
    expect(early.speculative).toEqual(keys);
    expect(early.preview).toEqual(cut?.preview);
    expect(counting.cuts).toBe(0);
    expect((paid.captured.emitted[1]!.payload as { preview: unknown }).preview).toEqual(cut?.preview);
    console.info(`preview.early emitted ${publishedAfterMs.toFixed(0)} ms after the paid handler started`);
    // `cuts` above proves nothing was cut again; this bound only catches a publish that waits for the
    // encode. The 1 s goal is the benchmark's to measure: a loaded CI machine must not fail the test on it.
    expect(publishedAfterMs).toBeLessThan(5_000);
  }, 120_000);

  it('cuts nothing for an upload that no longer awaits payment, and the paid path cuts as before when no speculative cut is there', async () => {
    const upload = await accepted('small.mp4');
    await pay(upload.uploadId);
    const counting = countingMedia();
    const { context } = fakeContext();
    expect(await handlePreviewSpeculative({ media: counting, storage, stateOf: (id) => uploads.state(id) }, settings(), upload, context)).toEqual({
      outcome: 'skipped',
      state: 'paid',
    });
    expect(counting.cuts).toBe(0);
    const paid = fakeContext();
    await handlePaymentConfirmed(counting, settings(), paymentConfirmed(upload.uploadId, upload.staged.source), paid.context);
    expect(counting.cuts).toBe(1);
    expect((paid.captured.emitted[0]!.payload as PreviewEarly).speculative).toBeUndefined();
  }, 120_000);

  it('stops its ffmpeg when the payment confirms mid-cut (the paid path cuts it), leaving no private object and no record', async () => {
    const upload = await accepted('large.mp4');
    const { context } = fakeContext();
    const running = handlePreviewSpeculative({ media, storage, stateOf: (id) => uploads.state(id), pollMs: 50 }, settings(), upload, context);
    const input = join(staging, upload.staged.source);
    await waitFor('the speculative ffmpeg', async () => ((await ffmpegReading(input)) > 0 ? true : undefined), 20_000);
    await pay(upload.uploadId);
    expect(await running).toEqual({ outcome: 'stopped-paid' });
    expect(await ffmpegReading(input)).toBe(0);
    expect(await readSpeculativeCut(staging, upload.uploadId)).toBeUndefined();
    expect(await storage.head(speculativeKeys(upload.uploadId).preview)).toBeUndefined();
    expect(await exists(join(staging, stagedSpeculativePaths(upload.uploadId).preview))).toBe(false);
  }, 60_000);

  it('runs on its own queue and slots: a paid job starts at once while a burst of unpaid cuts waits its turn, one at a time', async () => {
    const bus = createBus(connectRedis(redisUrl, 'speculative-test-bus'), prefix, 'transcoder', log);
    buses.push(bus);
    let active = 0;
    let mostActive = 0;
    const finished: number[] = [];
    bus.consume(
      'preview.speculative',
      async (upload, context) => {
        active++;
        mostActive = Math.max(mostActive, active);
        try {
          return await handlePreviewSpeculative({ media, storage, stateOf: (id) => uploads.state(id) }, settings(), upload, context);
        } finally {
          active--;
          finished.push(Date.now());
        }
      },
      { concurrency: 1 },
    );
    let paidStartedAt = 0;
    // The paid slot: only when it starts matters here (the encode itself is tested elsewhere).
    bus.consume(
      'payment.confirmed',
      async () => {
        paidStartedAt = Date.now();
      },
      { concurrency: 1 },
    );
    const burst = await Promise.all([1, 2, 3, 4, 5].map(() => accepted('large.mp4')));
    for (const upload of burst) await bus.publish('preview.speculative', upload);
    await waitFor('the first unpaid cut running', async () => (active > 0 ? true : undefined), 20_000);
    const paidUpload = await accepted('small.mp4');
    await pay(paidUpload.uploadId);
    const publishedAt = Date.now();
    await bus.publish('payment.confirmed', paymentConfirmed(paidUpload.uploadId, paidUpload.staged.source));
    await waitFor('the paid job started', async () => (paidStartedAt > 0 ? true : undefined), 10_000);
    const waitingUnpaid = await bus.queue('preview.speculative').getWaitingCount();
    console.info(`paid job started ${paidStartedAt - publishedAt} ms after it was queued; ${waitingUnpaid} unpaid cuts still waiting, ${finished.length} done`);
    expect(paidStartedAt - publishedAt).toBeLessThan(1_000);
    expect(waitingUnpaid).toBeGreaterThanOrEqual(2);
    // The unpaid burst went on behind it, never more than SPECULATIVE_CONCURRENCY (1) at once.
    await waitFor('the burst done', async () => (finished.length === burst.length ? true : undefined), 120_000);
    expect(mostActive).toBe(1);
    for (const upload of burst) expect(await readSpeculativeCut(staging, upload.uploadId)).toBeDefined();
  }, 180_000);
});
