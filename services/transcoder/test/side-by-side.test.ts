import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowStep } from '@reelboard/bus';
import { type Channel, type RenditionJoin, stagedChunkPaths, stagedDashPaths, type VideoChunk } from '@reelboard/contracts';
import { createMediaAdapter, type MediaInfo, type VideoStreamInfo } from '@reelboard/media';
import { fakeContext, paymentConfirmed } from '@reelboard/testkit/stage';
import type { TranscodeSettings } from '../src/handle-payment-confirmed.js';
import { handleRenditionJoin } from '../src/handle-rendition-join.js';
import { type ChunkOutcome, handleVideoChunk } from '../src/handle-video-chunk.js';
import { startLadderEncode } from '../src/ladder-flow.js';
import { transcodeTestSettings } from './test-settings.js';

// The lowest rung's chunks side by side on real ffmpeg: with FFMPEG_THREADS 2 the flow gives a job
// two chunks, and the job runs two ffmpeg at once with one thread each (their runs overlap in time);
// the join reads both from the job's value; a retry keeps a chunk already whole; one chunk failing
// stops the other before it finishes.

const execFileAsync = promisify(execFile);
const FPS = 30;
const SECONDS = 6;
const UPLOAD = randomUUID();
let work = '';
let runLog = '';
let flags = '';

const settings = (): TranscodeSettings => transcodeTestSettings(join(work, 'staging'), { FFMPEG_THREADS: 2, CHUNK_THRESHOLD_SECONDS: 3, CHUNK_SECONDS: 2 });
let media: ReturnType<typeof createMediaAdapter>;
let lowestJobs: VideoChunk[] = [];
const staged = (path: string) => join(work, 'staging', path);

/** The VP9 runs the wrapper started: when (ms) and with which arguments. */
async function runs(): Promise<Array<{ start: number; args: string }>> {
  const text = await readFile(runLog, 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([kind, , , ...args]) => kind === 'start' && args.join(' ').includes('libvpx-vp9'))
    .map(([, , ms, ...args]) => ({ start: Number(ms), args: args.join(' ') }));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'side-by-side-'));
  runLog = join(work, 'runs.log');
  flags = join(work, 'flags');
  await mkdir(flags);
  // Logs each run's start; a flag file makes chunk 1's run fail at once and chunk 0's read its input at native speed (>= 2 s).
  const wrapper = join(work, 'ffmpeg');
  await writeFile(
    wrapper,
    [
      '#!/bin/sh',
      `now() { date +%s%3N; }`,
      `echo "start $$ $(now) $*" >> '${runLog}'`,
      `case "$*" in *video-240p-0001*) [ -e '${flags}/fail' ] && { echo 'chunk 1 refused by the test' >&2; exit 1; } ;; esac`,
      `slow=''; case "$*" in *video-240p-0000*) [ -e '${flags}/fail' ] && slow='-re' ;; esac`,
      // exec: an abort's SIGKILL must reach ffmpeg itself.
      `exec ffmpeg $slow "$@"`,
      '',
    ].join('\n'),
  );
  await chmod(wrapper, 0o755);
  media = createMediaAdapter({ ffmpegPath: wrapper });
  await mkdir(staged(UPLOAD), { recursive: true });
  // 480p, a keyframe every 2 s: three chunks of 2 s; the lowest rung's in two jobs (0+1, 2).
  await execFileAsync('ffmpeg', [
    ...['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=854x480:rate=${FPS}`, '-t', String(SECONDS)],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(2 * FPS), '-pix_fmt', 'yuv420p', staged(`${UPLOAD}/source.mp4`)],
  ]);
  const probed = await media.probe(staged(`${UPLOAD}/source.mp4`));
  if (!probed.video) throw new Error('no video');
  const source: MediaInfo & { video: VideoStreamInfo } = { ...probed, video: probed.video };
  const keyframes = (await media.probePackets(staged(`${UPLOAD}/source.mp4`))).keyframeSeconds;
  const all: FlowStep<Channel>[] = [];
  const walk = (step: FlowStep<Channel>) => {
    all.push(step);
    for (const child of step.children ?? []) walk(child);
  };
  const early = { preview: { path: `${UPLOAD}/preview.webm`, bytes: 1, durationSeconds: 1 }, poster: { path: `${UPLOAD}/poster.webp`, bytes: 1 } };
  const { context } = fakeContext();
  await startLadderEncode(settings(), paymentConfirmed(UPLOAD, `${UPLOAD}/source.mp4`), keyframes, source, early, {
    ...context,
    emitFlow: async (_parent, children) => {
      for (const child of children) walk(child as FlowStep<Channel>);
    },
  });
  lowestJobs = all
    .filter((step) => step.channel === 'video.chunk')
    .map((step) => step.payload as VideoChunk)
    .filter((job) => job.part.kind === 'video' && job.part.rung === 240);
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const run = (job: VideoChunk, signal?: AbortSignal): Promise<ChunkOutcome> =>
  handleVideoChunk(media, settings(), job, { ...fakeContext().context, ...(signal ? { signal } : {}) }, 'test-replica');

describe("the lowest rung's chunks side by side", () => {
  it('one job runs two chunks at once, one ffmpeg thread each; the join makes the whole rung from its value', async () => {
    expect(lowestJobs.map((job) => (job.part.kind === 'video' ? [job.part.index, ...(job.part.alongside ?? []).map((c) => c.index)] : []))).toEqual([
      [0, 1],
      [2],
    ]);
    const pair = await run(lowestJobs[0] as VideoChunk);
    const [first, second] = await runs();
    if (!first || !second) throw new Error('two runs expected');
    // At once: each started before the other's chunk was written (its mtime: ffmpeg's last write, then renamed into place).
    const writtenAt = async (args: string) => (await stat(staged(stagedChunkPaths.video(UPLOAD, args.includes('video-240p-0000') ? 0 : 1, 240)))).mtimeMs;
    expect(first.start).toBeLessThan(await writtenAt(second.args));
    expect(second.start).toBeLessThan(await writtenAt(first.args));
    for (const r of [first, second]) {
      // The decoder's and the encoder's threads: one each (FFMPEG_THREADS 2 shared by two runs).
      expect(r.args.match(/-threads (\d+)/g)).toEqual(['-threads 1', '-threads 1']);
    }
    expect([first.args, second.args].map((args) => /video-240p-(\d+)\.webm/.exec(args)?.[1]).sort()).toEqual(['0000', '0001']);
    expect([pair.index, pair.path, pair.encoded]).toEqual([0, stagedChunkPaths.video(UPLOAD, 0, 240), true]);
    expect(pair.alongside?.map((c) => [c.index, c.path, c.frames, c.encoded])).toEqual([[1, stagedChunkPaths.video(UPLOAD, 1, 240), 2 * FPS, true]]);

    // A job alone on its chunk has both threads.
    const before = (await runs()).length;
    const last = await run(lowestJobs[1] as VideoChunk);
    const lone = (await runs()).slice(before);
    expect(lone).toHaveLength(1);
    expect(lone[0]?.args.match(/-threads (\d+)/g)).toEqual(['-threads 2', '-threads 2']);

    // The join reads chunk 1 from the pair's value: moved to another name, the staged path alone would not find it.
    const moved = stagedChunkPaths.video(UPLOAD, 1, 240).replace('.webm', '-moved.webm');
    await rename(staged(stagedChunkPaths.video(UPLOAD, 1, 240)), staged(moved));
    const value = { ...pair, alongside: pair.alongside?.map((c) => ({ ...c, path: moved })) };
    const { context } = fakeContext();
    await handleRenditionJoin(media, settings(), { ...(lowestJobs[0] as VideoChunk), rung: 240 } as unknown as RenditionJoin, {
      ...context,
      childrenValues: async () => ({ a: value, b: last }),
    });
    const rung = staged(stagedDashPaths.rung(UPLOAD, 240));
    const probe = await media.probe(rung);
    expect(`${probe.video?.width}x${probe.video?.height}`).toBe('426x240');
    expect(Math.abs(probe.durationSeconds - SECONDS)).toBeLessThanOrEqual(1 / FPS + 1e-6);
  }, 120_000);

  it('run again: a chunk already whole is kept, only the missing one is encoded', async () => {
    const kept = staged(stagedChunkPaths.video(UPLOAD, 0, 240));
    const keptAt = (await stat(kept)).mtimeMs;
    await rm(staged(stagedChunkPaths.video(UPLOAD, 1, 240)), { force: true });
    const before = (await runs()).length;
    const again = await run(lowestJobs[0] as VideoChunk);
    const fresh = (await runs()).slice(before);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]?.args).toContain('video-240p-0001.webm');
    expect([again.encoded, again.alongside?.[0]?.encoded]).toEqual([false, true]);
    expect((await stat(kept)).mtimeMs).toBe(keptAt);
  }, 120_000);

  it('one chunk failing stops the other before it finishes; the job fails with the first error and leaves no file of either', async () => {
    for (const index of [0, 1]) await rm(staged(stagedChunkPaths.video(UPLOAD, index, 240)), { force: true });
    await writeFile(join(flags, 'fail'), '');
    try {
      await expect(run(lowestJobs[0] as VideoChunk)).rejects.toThrow(/chunk 1 refused by the test|exit/);
    } finally {
      await rm(join(flags, 'fail'));
    }
    // Chunk 0 reads its 2 s at native speed: left alone it would have finished and been kept (the job waits for both runs to end).
    for (const index of [0, 1]) {
      await expect(stat(staged(stagedChunkPaths.video(UPLOAD, index, 240)))).rejects.toThrow();
      await expect(stat(`${staged(stagedChunkPaths.video(UPLOAD, index, 240))}.part`)).rejects.toThrow();
    }
  }, 120_000);
});
