import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import { stagedChunkPaths, stagedPaths, type VideoChunk } from '@reelboard/contracts';
import { createBus, type PipelineBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { createMediaAdapter, type MediaAdapter, outputFps } from '@reelboard/media';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { fakeContext, ffmpegCli, makeChunkSource, paymentConfirmed, streamSpans, waitFor } from '@reelboard/testkit/stage';
import { handlePaymentConfirmed, type TranscodeSettings } from '../src/handle-payment-confirmed.js';
import { handleVideoAssemble } from '../src/handle-video-assemble.js';
import { type ChunkOutcome, handleVideoChunk } from '../src/handle-video-chunk.js';

// A long video's chunked encode on real Redis (a BullMQ flow) and real ffmpeg, with two transcoder
// "replicas" (two buses, each its own connection and workers) sharing the chunks of one upload.

const FPS = 30;
const SECONDS = 8;
let staging = '';
const media = createMediaAdapter();
const redisUrl = infraEnv().REDIS_URL ?? '';
const prefix = `chunk-test-${randomUUID().slice(0, 8)}`;
const log = createLogger('chunk-test', 'error');
const connections: ReturnType<typeof connectRedis>[] = [];
const buses: PipelineBus[] = [];

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

/** Every chunk encode a replica started: which replica, which chunk. */
const encodes: Array<{ replica: string; index: number }> = [];

/** Chunks whose first encode was killed already (whichever replica ran it). */
const killed = new Set<number>();

/** The real adapter, counting chunk encodes; `failFirst` kills the first encode of that chunk mid-way, on any replica. */
function countingMedia(replica: string, failFirst?: number): MediaAdapter {
  return {
    ...media,
    encodeVideoChunk: (input, output, options, onProgress) => {
      encodes.push({ replica, index: options.startFrame / (2 * FPS) });
      if (failFirst === undefined || killed.has(failFirst) || options.startFrame !== failFirst * 2 * FPS)
        return media.encodeVideoChunk(input, output, options, onProgress);
      killed.add(failFirst);
      // The chunk's ffmpeg is killed half a second in, as when its replica goes away.
      const kill = new AbortController();
      setTimeout(() => kill.abort(), 500);
      return media.encodeVideoChunk(input, output, { ...options, signal: kill.signal }, onProgress);
    },
  };
}

/** A transcoder replica: consumes the upload's channel, the chunks and the joins, one job at a time. */
function startReplica(name: string, adapter: MediaAdapter): PipelineBus {
  const redis = connectRedis(redisUrl, `chunk-test-${name}`);
  connections.push(redis);
  const bus = createBus(redis, prefix, 'transcoder', log, { 'video.chunk': { backoffMs: 100 }, 'video.assemble': { backoffMs: 100 } });
  bus.consume('payment.confirmed', (upload, context) => handlePaymentConfirmed(adapter, settings, upload, context), { concurrency: 1 });
  bus.consume('video.chunk', (job, context) => handleVideoChunk(adapter, settings, job, context, name), { concurrency: 1 });
  bus.consume('video.assemble', (job, context) => handleVideoAssemble(adapter, settings, job, context), { concurrency: 1 });
  buses.push(bus);
  return bus;
}

async function stage(uploadId: string): Promise<string> {
  await mkdir(join(staging, uploadId), { recursive: true });
  await copyFile(join(staging, 'long.mp4'), join(staging, stagedPaths(uploadId).source));
  return stagedPaths(uploadId).source;
}

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'reelboard-chunks-'));
  settings.STAGING_DIR = staging;
  // 8 s of 240p with a tone; the source's keyframes every 1.5 s, so the plan moves boundaries onto them.
  await makeChunkSource(join(staging, 'long.mp4'), SECONDS, FPS);
}, 60_000);

afterAll(async () => {
  await Promise.all(buses.map((bus) => bus.close(1_000)));
  const cleaner = connectRedis(redisUrl, 'chunk-test-cleanup');
  const keys = await cleaner.keys(`${prefix}:*`);
  if (keys.length > 0) await cleaner.del(...keys);
  await cleaner.quit();
  await Promise.all(connections.map((redis) => redis.quit()));
  if (staging) await rm(staging, { recursive: true, force: true });
});

describe('chunked encoding across replicas', () => {
  it('shares the chunks of one upload between two replicas, re-runs a killed chunk alone, and matches a single encode', async () => {
    const replicaA = startReplica('replica-a', countingMedia('replica-a', 2));
    startReplica('replica-b', countingMedia('replica-b', 2));
    const uploadId = randomUUID();
    const upload = paymentConfirmed(uploadId, await stage(uploadId));
    await replicaA.publish('payment.confirmed', upload);

    const transcoded = await waitFor(
      'video.transcoded',
      async () => (await replicaA.queue('video.transcoded').getJob(`${uploadId}.video.transcoded`)) ?? undefined,
    );
    const output = join(staging, stagedPaths(uploadId).video);
    expect(transcoded.data.video).toMatchObject({ path: stagedPaths(uploadId).video, width: 426, height: 240 });

    // The flow: a parent per upload, a child per chunk and one for the audio.
    const parent = await replicaA.queue('video.assemble').getJob(`${uploadId}.video.assemble`);
    expect(parent).toBeDefined();
    const outcomes = Object.values((await parent?.getChildrenValues()) ?? {}) as ChunkOutcome[];
    const videos = outcomes.filter((o) => o.kind === 'video').sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    expect(videos.map((v) => v.index)).toEqual([0, 1, 2, 3]);
    expect(outcomes.filter((o) => o.kind === 'audio')).toHaveLength(1);
    expect(videos.reduce((sum, v) => sum + (v.frames ?? 0), 0)).toBe(SECONDS * FPS);

    // Both replicas encoded chunks.
    expect(new Set(outcomes.map((o) => o.replica))).toEqual(new Set(['replica-a', 'replica-b']));
    expect(new Set(encodes.map((e) => e.replica))).toEqual(new Set(['replica-a', 'replica-b']));

    // The killed chunk ran again, alone: every other chunk was encoded exactly once.
    const count = (index: number) => encodes.filter((e) => e.index === index).length;
    expect([count(0), count(1), count(2), count(3)]).toEqual([1, 1, 2, 1]);
    expect(videos.find((v) => v.index === 2)?.attempt).toBe(2);
    expect(videos.filter((v) => v.index !== 2).every((v) => v.attempt === 1 && v.encoded)).toBe(true);

    // Progress on the status stream covers every part: the shared record has all five at 100, and
    // the percents end at 100. A report is published only if no higher whole was claimed before it;
    // two replicas' claims can still cross on their way to the stream, by less than one chunk's share.
    const parts = await connections[0]?.hgetall(`${prefix}:progress:${uploadId}.transcode`);
    expect(parts).toMatchObject({ 'video-0': '100', 'video-1': '100', 'video-2': '100', 'video-3': '100', audio: '100' });
    const progress = (await replicaA.status.history(uploadId)).filter((e) => e.event === 'progress').map((e) => e.progress ?? -1);
    expect(progress.at(-1)).toBe(100);
    expect(progress.some((p) => p > 0 && p < 100)).toBe(true);
    let highest = 0;
    for (const p of progress) {
      expect(p).toBeGreaterThanOrEqual(highest - 100 / 4.1);
      highest = Math.max(highest, p);
    }
    const events = (await replicaA.status.history(uploadId)).map((e) => e.event);
    expect(events.indexOf('preview.early')).toBeLessThan(events.indexOf('video.transcoded'));

    // The same as one encode with the same settings: frames, duration, A/V offsets at both ends.
    const single = join(staging, `${uploadId}-single.webm`);
    await media.transcodeToVp9(join(staging, upload.staged.source), single, { maxHeight: 2160, threads: 1 });
    const [chunked, whole] = await Promise.all([streamSpans(output), streamSpans(single)]);
    const frame = 1 / FPS;
    expect(chunked.video.packets).toBe(whole.video.packets);
    expect(chunked.audio?.packets).toBe(whole.audio?.packets);
    const duration = (s: typeof chunked) => Math.max(s.video.endSeconds, s.audio?.endSeconds ?? 0) - Math.min(s.video.startSeconds, s.audio?.startSeconds ?? 0);
    expect(Math.abs(duration(chunked) - duration(whole))).toBeLessThan(frame);
    const startOffset = (s: typeof chunked) => (s.audio?.startSeconds ?? 0) - s.video.startSeconds;
    const endOffset = (s: typeof chunked) => (s.audio?.endSeconds ?? 0) - s.video.endSeconds;
    expect(Math.abs(startOffset(chunked) - startOffset(whole))).toBeLessThan(frame);
    expect(Math.abs(endOffset(chunked) - endOffset(whole))).toBeLessThan(frame);
    // Plays while downloading: the cues (seek index) sit before the clusters.
    expect(await cuesBeforeClusters(output)).toBe(true);

    // A retried upload stage adds the same flow again: nothing is queued, nothing encoded again.
    const before = encodes.length;
    await replicaA.publishFlow({ channel: 'video.assemble', payload: parent?.data }, [
      { channel: 'video.chunk', payload: { ...upload, chunked: parent?.data.chunked, part: { kind: 'audio' } } },
    ]);
    expect(await replicaA.queue('video.chunk').getWaitingCount()).toBe(0);
    expect(encodes.length).toBe(before);
    // The parts are gone once the joined file was passed on.
    await expect(stat(join(staging, stagedPaths(uploadId).chunks))).rejects.toThrow();
  });

  it('finds a chunk a previous run finished and encodes only one that is missing or incomplete', async () => {
    const uploadId = randomUUID();
    const upload = paymentConfirmed(uploadId, await stage(uploadId));
    const source = await media.probe(join(staging, upload.staged.source));
    const job: VideoChunk = {
      ...upload,
      chunked: { fps: outputFps(source), chunks: 4, totalFrames: 240, width: 426, height: 240, chunkTimeoutSeconds: 600 },
      part: { kind: 'video', index: 1, startFrame: 60, frames: 60 },
    };
    const first = await handleVideoChunk(media, settings, job, fakeContext().context, 'replica-a');
    expect(first).toMatchObject({ kind: 'video', index: 1, frames: 60, encoded: true });
    const path = join(staging, stagedChunkPaths.video(uploadId, 1));
    const written = (await stat(path)).mtimeMs;

    const again = await handleVideoChunk(media, settings, job, fakeContext().context, 'replica-b');
    expect(again).toMatchObject({ frames: 60, encoded: false, wallSeconds: 0, replica: 'replica-b' });
    expect((await stat(path)).mtimeMs).toBe(written);

    // A chunk cut short (not written by this code, which writes atomically) is encoded again.
    await truncate(path, Math.floor((await stat(path)).size / 2));
    const redone = await handleVideoChunk(media, settings, job, fakeContext().context, 'replica-b');
    expect(redone).toMatchObject({ frames: 60, encoded: true });
  });
});

describe('chunks of a variable-frame-rate source', () => {
  it("cover each frame once: the joined file has the single encode's frames and length", async () => {
    // 30 fps for the first second, then every third frame (10 fps): fewer frames than 8 s x 30.
    const vfr = join(staging, 'vfr.mp4');
    await ffmpegCli([
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=426x240:rate=${FPS}`,
      '-t',
      String(SECONDS),
      '-vf',
      "select='lt(n\\,30)+not(mod(n\\,3))'",
      '-vsync',
      'vfr',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      vfr,
    ]);
    const source = await media.probe(vfr);
    const fps = outputFps(source);
    const dir = join(staging, 'vfr-chunks');
    await mkdir(dir, { recursive: true });
    const starts = [0, 2, 4, 6].map((s) => Math.round(s * fps));
    const chunks = [];
    for (const [index, startFrame] of starts.entries()) {
      const next = starts[index + 1];
      const frames = next === undefined ? undefined : next - startFrame;
      await media.encodeVideoChunk(vfr, join(dir, `video-${index}.webm`), {
        source,
        maxHeight: 2160,
        threads: 1,
        fps,
        startFrame,
        ...(frames === undefined ? {} : { frames }),
      });
      chunks.push({ file: `video-${index}.webm`, ...(frames === undefined ? {} : { durationSeconds: frames / fps }) });
    }
    const joined = join(dir, 'joined.webm');
    await media.joinChunks(joined, { source, chunks, list: join(dir, 'chunks.ffconcat') });
    const single = join(dir, 'single.webm');
    await media.transcodeToVp9(vfr, single, { maxHeight: 2160, threads: 1, source });
    const [a, b] = await Promise.all([streamSpans(joined), streamSpans(single)]);
    expect(a.video.packets).toBe(b.video.packets);
    expect(a.video.packets).toBeLessThan(SECONDS * FPS);
    expect(Math.abs(a.video.endSeconds - b.video.endSeconds)).toBeLessThan(1 / 10);
  });
});

/** True when a WebM's Cues element comes before its first Cluster (the muxer's cues_to_front). */
async function cuesBeforeClusters(path: string): Promise<boolean> {
  const { readFile } = await import('node:fs/promises');
  const data = await readFile(path);
  const cues = data.indexOf(Buffer.from([0x1c, 0x53, 0xbb, 0x6b]));
  const cluster = data.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]));
  return cues >= 0 && cluster >= 0 && cues < cluster;
}
