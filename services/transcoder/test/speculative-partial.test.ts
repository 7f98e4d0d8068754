import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowStep, StageContext } from '@reelboard/bus';
import { connectRedis } from '@reelboard/bus';
import { type Channel, type RenditionJoin, type RenditionStore, stagedSpeculativePaths, type UploadReceived, type VideoChunk } from '@reelboard/contracts';
import { StatusStore, Uploads } from '@reelboard/lifecycle';
import { createMediaAdapter, type MediaAdapter } from '@reelboard/media';
import { dashKeys, s3EnvSchema, storageFromEnv } from '@reelboard/storage';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { makeClip } from '@reelboard/testkit/media';
import { fakeContext, paymentConfirmed, waitFor } from '@reelboard/testkit/stage';
import { receivedUpload } from '@reelboard/testkit/uploads';
// The uploader's sweep: what deletes an unpaid upload's staging, speculative parts included.
import { sweepStaging, uploadFinishedFrom } from '../../uploader/src/sweep-staging.js';
import { handlePaymentConfirmed, type TranscodeSettings } from '../src/handle-payment-confirmed.js';
import { handlePreviewSpeculative, type SpeculativeSettings } from '../src/handle-preview-speculative.js';
import { handleRenditionJoin } from '../src/handle-rendition-join.js';
import { type ChunkOutcome, handleVideoChunk } from '../src/handle-video-chunk.js';
import { transcodeTestSettings } from './test-settings.js';

// A payment that lands while the lowest rung is being encoded speculatively, on real ffmpeg, Redis
// and s3rver: the paid path's lowest-rung jobs take every chunk (and the audio) the speculative
// encode finished for the same plan and encode only the rest; the rung they join plays whole.

const execFileAsync = promisify(execFile);
const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'speculative-partial-test');
const prefix = `speculative-partial-test-${randomUUID().slice(0, 8)}`;
const uploads = new Uploads(redis, prefix, new StatusStore(redis, prefix));
const storage = storageFromEnv(s3EnvSchema.parse(infraEnv()));
const media = createMediaAdapter();
let staging = '';

// Chunked at 2 s: a 12 s source is six chunks per rung, so a payment can land between two of them.
const settings = (overrides: Partial<TranscodeSettings & SpeculativeSettings> = {}): TranscodeSettings & SpeculativeSettings =>
  transcodeTestSettings(staging, { CHUNK_THRESHOLD_SECONDS: 0, CHUNK_SECONDS: 2, STREAM_LADDER: true, SPECULATIVE_RUNG: true, ...overrides });

/** The real adapter, recording each video chunk and audio encode it finished. */
function countingMedia(): MediaAdapter & { finished: string[] } {
  const counting = {
    ...media,
    finished: [] as string[],
    encodeVideoChunk: async (...args: Parameters<MediaAdapter['encodeVideoChunk']>) => {
      const result = await media.encodeVideoChunk(...args);
      counting.finished.push(`video ${args[2].maxHeight}p`);
      return result;
    },
    encodeAudioTrack: async (...args: Parameters<MediaAdapter['encodeAudioTrack']>) => {
      const result = await media.encodeAudioTrack(...args);
      counting.finished.push('audio');
      return result;
    },
  };
  return counting;
}

async function accepted(): Promise<UploadReceived> {
  const upload = receivedUpload();
  await mkdir(join(staging, upload.uploadId), { recursive: true });
  await copyFile(join(staging, 'long.mp4'), join(staging, upload.staged.source));
  await uploads.register(upload, 'test');
  return upload;
}

const pay = (uploadId: string) => uploads.pay(uploadId, paymentConfirmed(uploadId, 'x').payment, 'test');

/** The speculative job, paid once it has finished `chunks` of the lowest rung's chunks. */
async function paidMidway(upload: UploadReceived, chunks: number, overrides: Partial<TranscodeSettings & SpeculativeSettings> = {}) {
  const speculative = countingMedia();
  const running = handlePreviewSpeculative(
    { media: speculative, storage, stateOf: (id) => uploads.state(id), pollMs: 50 },
    settings(overrides),
    upload,
    fakeContext().context,
  );
  await waitFor(
    `${chunks} speculative chunks`,
    async () => (speculative.finished.filter((encode) => encode.startsWith('video')).length >= chunks ? true : undefined),
    120_000,
  );
  await pay(upload.uploadId);
  expect(await running).toMatchObject({ outcome: 'stored', rung: { outcome: 'stopped-paid' } });
  return speculative.finished;
}

/** The paid path's flow, as handed to BullMQ: the lowest rung's store, its join and the jobs under it. */
async function paidFlow(upload: UploadReceived, overrides: Partial<TranscodeSettings & SpeculativeSettings> = {}) {
  let flow: FlowStep<Channel>[] = [];
  const { context } = fakeContext();
  await handlePaymentConfirmed(media, settings(overrides), paymentConfirmed(upload.uploadId, upload.staged.source), {
    ...context,
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
  const store = steps.filter((step) => step.channel === 'rendition.store').at(-1) as FlowStep<'rendition.store'>;
  const join = store.children?.[0] as FlowStep<'rendition.join'>;
  // The lowest rung's own chunks and the audio (its join's children but the store below, there is none).
  const parts = (join.children ?? []).filter((step) => step.channel === 'video.chunk').map((step) => step.payload as VideoChunk);
  return { store: store.payload as RenditionStore, join: join.payload as RenditionJoin, parts };
}

/** Runs the lowest rung's jobs as the paid path's replica would, then its join. */
async function encodeLowestRung(flow: Awaited<ReturnType<typeof paidFlow>>) {
  const paid = countingMedia();
  const outcomes: ChunkOutcome[] = [];
  for (const part of flow.parts) outcomes.push(await handleVideoChunk(paid, settings(), part, fakeContext().context, 'test'));
  const context: StageContext = {
    ...fakeContext().context,
    waitForChildren: async () => {},
    childrenValues: async () => Object.fromEntries(outcomes.map((outcome, index) => [`child-${index}`, outcome])),
  };
  await handleRenditionJoin(media, settings(), flow.join, context);
  return { encodes: paid.finished, outcomes };
}

/** Every frame of a file decoded (ffmpeg stops at the first error): the number of video frames. */
async function decodeAll(path: string): Promise<number> {
  await execFileAsync('ffmpeg', ['-v', 'error', '-xerror', '-i', path, '-f', 'null', '-']);
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', path]);
  return Number(stdout.trim().split('\n')[0]);
}

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'reelboard-speculative-partial-'));
  await storage.ensureBucket();
  // 720p: three rungs (240p, 360p, 720p) and an audio track; 12 s at 240p takes long enough to pay mid-way.
  await makeClip(join(staging, 'long.mp4'), { width: 1280, height: 720, seconds: 12 });
}, 120_000);

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  storage.close();
  if (staging) await rm(staging, { recursive: true, force: true });
});

describe('the lowest rung partly encoded while the person paid', () => {
  it('paid after k of n chunks: the paid path encodes exactly n - k, takes the audio, and the published rung plays whole', async () => {
    const upload = await accepted();
    const speculative = await paidMidway(upload, 2);
    // The audio is encoded first, then the chunks: k whole chunks when the payment stopped it.
    expect(speculative[0]).toBe('audio');
    const k = speculative.filter((encode) => encode.startsWith('video')).length;

    const flow = await paidFlow(upload);
    const n = flow.join.chunked.chunks;
    expect(n).toBeGreaterThanOrEqual(5);
    expect(k).toBeGreaterThanOrEqual(2);
    expect(k).toBeLessThan(n);
    // From 720p the lowest rung skips the source's deblocking: the speculative chunks (taken below) did too.
    expect(flow.join.chunked.ladder?.[0]).toMatchObject({ name: 240, skipLoopFilter: true });
    // Not a whole rung: the store waits for a join as before, the lowest jobs point at the speculative parts.
    expect(flow.store.copy).toBeUndefined();
    expect(flow.parts.every((part) => part.part.takeFrom?.startsWith(stagedSpeculativePaths(upload.uploadId).rungDir))).toBe(true);

    const { encodes, outcomes } = await encodeLowestRung(flow);
    expect(encodes).toEqual(Array(n - k).fill('video 240p'));
    expect(outcomes.filter((outcome) => outcome.taken).map((outcome) => outcome.kind)).toEqual(['audio', ...Array(k).fill('video')]);

    // Published as the uploader stores it, then fetched back from S3 and decoded frame by frame.
    const keys = dashKeys(upload.uploadId);
    await Promise.all([
      storage.putFile(keys.rung(240), join(staging, flow.store.video), 'video/webm'),
      storage.putFile(keys.audio, join(staging, flow.store.audio ?? ''), 'audio/webm'),
      storage.putFile(keys.manifest, join(staging, flow.store.manifest), 'application/dash+xml'),
    ]);
    const manifest = (await storage.getBytes(keys.manifest)).toString('utf8');
    expect([...manifest.matchAll(/<BaseURL>([^<]+)<\/BaseURL>/g)].map((m) => m[1])).toEqual(['video-240p.webm', 'audio.webm']);
    const fetched = join(staging, `${upload.uploadId}-fetched`);
    await mkdir(fetched);
    await writeFile(join(fetched, 'video.webm'), await storage.getBytes(keys.rung(240)));
    await writeFile(join(fetched, 'audio.webm'), await storage.getBytes(keys.audio));
    expect(await decodeAll(join(fetched, 'video.webm'))).toBe(flow.join.chunked.totalFrames);
    const rung = await media.probe(join(fetched, 'video.webm'));
    expect(rung.video).toMatchObject({ codec: 'vp9', height: 240 });
    expect(rung.durationSeconds).toBeCloseTo(12, 0);
    expect(await decodeAll(join(fetched, 'audio.webm'))).toBeGreaterThan(0);
    expect((await media.probe(join(fetched, 'audio.webm'))).durationSeconds).toBeCloseTo(12, 0);
  }, 300_000);

  it('a changed plan since the speculative encode: none of its chunks is taken, every chunk is encoded', async () => {
    const upload = await accepted();
    await paidMidway(upload, 2);
    // Chunked at 3 s now: other boundaries, another plan hash, another folder.
    const flow = await paidFlow(upload, { CHUNK_SECONDS: 3 });
    expect(flow.parts.some((part) => part.part.takeFrom !== undefined)).toBe(false);
    const { encodes, outcomes } = await encodeLowestRung(flow);
    expect(encodes.filter((encode) => encode === 'video 240p').length).toBe(flow.join.chunked.chunks);
    expect(encodes).toContain('audio');
    expect(outcomes.some((outcome) => outcome.taken)).toBe(false);
  }, 300_000);

  it('paid at once, nothing cut while paying: the payment job encodes the audio beside the preview cut, and the audio job keeps it', async () => {
    const upload = await accepted();
    const events: string[] = [];
    const watched: MediaAdapter = {
      ...media,
      extractPreviewAndPoster: async (...args: Parameters<MediaAdapter['extractPreviewAndPoster']>) => {
        events.push('preview started');
        const result = await media.extractPreviewAndPoster(...args);
        events.push('preview done');
        return result;
      },
      encodeAudioTrack: async (...args: Parameters<MediaAdapter['encodeAudioTrack']>) => {
        events.push(`audio started, ${args[2].threads} thread`);
        const result = await media.encodeAudioTrack(...args);
        events.push('audio done');
        return result;
      },
    };
    let flow: FlowStep<Channel>[] = [];
    await handlePaymentConfirmed(watched, settings(), paymentConfirmed(upload.uploadId, upload.staged.source), {
      ...fakeContext().context,
      emitFlow: async (_parent, children) => {
        events.push('flow added');
        flow = children as FlowStep<Channel>[];
      },
    });
    // Both run at once (each starts before the other is done), and the flow waits for both.
    expect(events.indexOf('audio started, 1 thread')).toBeGreaterThanOrEqual(0);
    expect(events.indexOf('audio started, 1 thread')).toBeLessThan(events.indexOf('preview done'));
    expect(events.indexOf('preview started')).toBeLessThan(events.indexOf('audio done'));
    expect(events.at(-1)).toBe('flow added');
    const steps: FlowStep<Channel>[] = [];
    const walk = (step: FlowStep<Channel>) => {
      steps.push(step);
      for (const child of step.children ?? []) walk(child);
    };
    for (const step of flow) walk(step);
    const audioJob = steps.find((step) => step.channel === 'video.chunk' && (step.payload as VideoChunk).part.kind === 'audio');
    const paid = countingMedia();
    const outcome = await handleVideoChunk(paid, settings(), audioJob?.payload as VideoChunk, fakeContext().context, 'test');
    expect(outcome).toMatchObject({ kind: 'audio', encoded: false });
    expect(paid.finished).toEqual([]);
    expect((await media.probe(join(staging, outcome.path))).durationSeconds).toBeCloseTo(12, 0);
  }, 300_000);

  // Last: its sweep empties the whole staging directory.
  it('never paid: the parts encoded before it expired go with its staging at the cleanup', async () => {
    const upload = await accepted();
    const speculative = countingMedia();
    const running = handlePreviewSpeculative(
      { media: speculative, storage, stateOf: (id) => uploads.state(id), pollMs: 50 },
      settings(),
      upload,
      fakeContext().context,
    );
    await waitFor('a speculative chunk', async () => (speculative.finished.some((encode) => encode.startsWith('video')) ? true : undefined), 120_000);
    // Expired unpaid: the job stops like on payment, its parts stay staged under the upload's folder only.
    await uploads.transition(upload.uploadId, 'expire', { stage: 'test', message: 'quote expired' });
    expect(await running).toMatchObject({ rung: { outcome: 'stopped-paid' } });
    const rungDir = join(staging, stagedSpeculativePaths(upload.uploadId).rungDir);
    const [planDir] = await readdir(rungDir);
    expect((await readdir(join(rungDir, planDir ?? ''))).filter((file) => file.startsWith('chunk-')).length).toBeGreaterThan(0);
    // The daily sweep, as the uploader runs it, on this test's staging directory (every file old enough: age 0).
    const swept = await sweepStaging(staging, 0, uploadFinishedFrom(uploads), new Date(Date.now() + 1_000));
    expect(swept.uploadsRemoved).toContain(upload.uploadId);
    expect(await readdir(join(staging, upload.uploadId)).catch(() => 'gone')).toBe('gone');
  }, 300_000);
});
