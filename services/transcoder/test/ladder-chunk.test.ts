import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowStep } from '@reelboard/bus';
import { type Channel, type RenditionJoin, stagedChunkPaths, stagedDashPaths, type VideoChunk } from '@reelboard/contracts';
import { createMediaAdapter, type MediaInfo, type VideoStreamInfo, VP9_LADDER } from '@reelboard/media';
import { fakeContext, paymentConfirmed } from '@reelboard/testkit/stage';
import type { TranscodeSettings } from '../src/handle-payment-confirmed.js';
import { handleRenditionJoin } from '../src/handle-rendition-join.js';
import { type ChunkOutcome, handleVideoChunk } from '../src/handle-video-chunk.js';
import { startLadderEncode } from '../src/ladder-flow.js';
import { transcodeTestSettings } from './test-settings.js';

// The ladder's rungs above the lowest on real ffmpeg, from the jobs the flow plans: one ffmpeg run
// per chunk encodes every upper rung (one decode), each rung's chunk at its own staged path with its
// own size, bitrate and libvpx settings and the ladder's aligned keyframes; the joins above the
// first upper rung find their chunks by staged path; a job run again keeps the rungs already whole.

const execFileAsync = promisify(execFile);
const FPS = 30;
const SECONDS = 4;
const UPLOAD = randomUUID();
let work = '';
let ffmpegLog = '';

const settings = (): TranscodeSettings => transcodeTestSettings(join(work, 'staging'), { CHUNK_THRESHOLD_SECONDS: 3, CHUNK_SECONDS: 2 });

/** The real adapter, its ffmpeg a wrapper that logs every run's arguments (one line per run). */
let media: ReturnType<typeof createMediaAdapter>;
/** The VP9 encodes ffmpeg was started for, from the wrapper's log. */
async function vp9Runs(): Promise<string[]> {
  const text = await readFile(ffmpegLog, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.includes('libvpx-vp9'));
}

let source: MediaInfo & { video: VideoStreamInfo };
let chunkJobs: VideoChunk[] = [];
const staged = (path: string) => join(work, 'staging', path);

/** Keyframe times of a file's video (independent ffprobe, not the code under test). */
async function keyframeTimes(path: string): Promise<number[]> {
  const { stdout } = await execFileAsync('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'packet=pts_time,flags',
    '-of',
    'csv=p=0',
    path,
  ]);
  return stdout
    .split('\n')
    .filter((line) => line.includes(',K'))
    .map((line) => Number(line.split(',')[0]))
    .sort((a, b) => a - b);
}

async function runChunk(job: VideoChunk): Promise<ChunkOutcome> {
  return handleVideoChunk(media, settings(), job, fakeContext().context, 'test-replica');
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ladder-chunk-'));
  ffmpegLog = join(work, 'ffmpeg-runs.log');
  const wrapper = join(work, 'ffmpeg');
  await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${ffmpegLog}'\nexec ffmpeg "$@"\n`);
  await chmod(wrapper, 0o755);
  media = createMediaAdapter({ ffmpegPath: wrapper });
  await mkdir(staged(UPLOAD), { recursive: true });
  // 480p, a keyframe every 2 s: the ladder is 240p (alone) and 360p + 480p (one job per chunk), two chunks of 2 s.
  await execFileAsync('ffmpeg', [
    ...['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=854x480:rate=${FPS}`, '-t', String(SECONDS)],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(2 * FPS), '-pix_fmt', 'yuv420p', staged(`${UPLOAD}/source.mp4`)],
  ]);
  const probed = await media.probe(staged(`${UPLOAD}/source.mp4`));
  if (!probed.video) throw new Error('no video');
  source = { ...probed, video: probed.video };
  const keyframes = (await media.probePackets(staged(`${UPLOAD}/source.mp4`))).keyframeSeconds;
  // The chunk jobs exactly as the flow plans them.
  const { context } = fakeContext();
  const all: FlowStep<Channel>[] = [];
  const walk = (step: FlowStep<Channel>) => {
    all.push(step);
    for (const child of step.children ?? []) walk(child);
  };
  const early = { preview: { path: `${UPLOAD}/preview.webm`, bytes: 1, durationSeconds: 1 }, poster: { path: `${UPLOAD}/poster.webp`, bytes: 1 } };
  await startLadderEncode(settings(), paymentConfirmed(UPLOAD, `${UPLOAD}/source.mp4`), keyframes, source, early, {
    ...context,
    emitFlow: async (_parent, children) => {
      for (const child of children) walk(child as FlowStep<Channel>);
    },
  });
  chunkJobs = all.filter((step) => step.channel === 'video.chunk').map((step) => step.payload as VideoChunk);
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the rungs above the lowest, one decode per chunk', () => {
  it('one ffmpeg run per chunk writes every upper rung at its size, bitrate and libvpx settings; the joins make aligned, whole rungs', async () => {
    const upperJobs = chunkJobs.filter((job) => job.part.kind === 'video' && job.part.rungs);
    expect(upperJobs.map((job) => (job.part.kind === 'video' ? job.part.rungs : undefined))).toEqual([
      [360, 480],
      [360, 480],
    ]);
    const lowestJobs = chunkJobs.filter((job) => job.part.kind === 'video' && job.part.rung === 240);
    expect(lowestJobs).toHaveLength(2);

    const lowest = await Promise.all(lowestJobs.map(runChunk));
    const before = (await vp9Runs()).length;
    const upper: ChunkOutcome[] = [];
    for (const job of upperJobs) upper.push(await runChunk(job));
    const runs = (await vp9Runs()).slice(before);
    // One ffmpeg per chunk for both upper rungs, each run writing both.
    expect(runs).toHaveLength(2);
    // 360p a realtime rung at the table's bitrate; 480p this source's top rung: the single encode's settings.
    const expected: Record<number, { kbps: number; deadline: string; cpuUsed: number }> = {
      360: { kbps: VP9_LADDER.find((row) => row.shortSide === 360)?.kbps ?? 0, deadline: 'realtime', cpuUsed: 6 },
      480: { kbps: 1000, deadline: 'good', cpuUsed: 5 },
    };
    for (const run of runs) {
      // Each output's own options, in order: 360p then 480p, each with its rung's bitrate and libvpx settings and a forced first keyframe.
      const [to360, to480] = run.split(/ \S+video-360p-\d+\.webm\.part /);
      expect(to360).toMatch(/split=2/);
      expect(to360).toMatch(/scale=640:360/);
      expect(to360).toMatch(/scale=854:480/);
      const flags = (options: string | undefined, name: number) => {
        const rung = expected[name];
        expect(options).toContain(`-b:v ${rung?.kbps}k`);
        expect(options).toContain(`-deadline ${rung?.deadline} -cpu-used ${rung?.cpuUsed}`);
        expect(options).toContain(`-g ${2 * FPS} -keyint_min ${2 * FPS}`);
        expect(options).toContain('-force_key_frames expr:eq(n,0)');
      };
      flags(to360?.split('-filter_complex')[1], 360);
      flags(to480, 480);
    }
    expect(upper.map((outcome) => outcome.outputs?.map((o) => [o.rung, o.path, o.encoded]))).toEqual([
      [
        [360, stagedChunkPaths.video(UPLOAD, 0, 360), true],
        [480, stagedChunkPaths.video(UPLOAD, 0, 480), true],
      ],
      [
        [360, stagedChunkPaths.video(UPLOAD, 1, 360), true],
        [480, stagedChunkPaths.video(UPLOAD, 1, 480), true],
      ],
    ]);

    // The joins as the flow nests them: 240p's children are its chunks, 360p's the upper rungs'
    // jobs (and 240p's store), 480p's only 360p's store: it reads its chunks by staged path.
    const join = async (rung: number, children: unknown[]) => {
      const { context } = fakeContext();
      const job = { ...chunkJobs[0], rung } as unknown as RenditionJoin;
      return handleRenditionJoin(media, settings(), job, {
        ...context,
        childrenValues: async () => Object.fromEntries(children.map((value, index) => [`child-${index}`, value])),
      });
    };
    await join(240, lowest);
    await join(360, [...upper, { stored: 240 }]);
    await join(480, [{ stored: 360 }]);
    const rungs = [240, 360, 480].map((rung) => staged(stagedDashPaths.rung(UPLOAD, rung)));
    const probes = await Promise.all(rungs.map((path) => media.probe(path)));
    expect(probes.map((p) => `${p.video?.width}x${p.video?.height}`)).toEqual(['426x240', '640x360', '854x480']);
    for (const probe of probes) expect(Math.abs(probe.durationSeconds - SECONDS)).toBeLessThanOrEqual(1 / FPS + 1e-6);
    const keyframes = await Promise.all(rungs.map(keyframeTimes));
    expect(keyframes[0]).toEqual([0, 2]);
    for (const times of keyframes) expect(times).toEqual(keyframes[0]);
  }, 300_000);

  it('run again after a crash: rungs already whole are kept, only a missing one is encoded', async () => {
    const job = chunkJobs.find((j) => j.part.kind === 'video' && j.part.rungs && j.part.index === 1) as VideoChunk;
    const kept = staged(stagedChunkPaths.video(UPLOAD, 1, 360));
    const keptBefore = await stat(kept);
    // The replica died after ffmpeg wrote both: the retry runs no ffmpeg at all.
    let before = (await vp9Runs()).length;
    const again = await runChunk(job);
    expect((await vp9Runs()).length).toBe(before);
    expect(again.outputs?.map((o) => o.encoded)).toEqual([false, false]);
    // The 480p chunk was lost (a crash of the staging volume mid-write leaves none: outputs are renamed in only when all are whole).
    await rm(staged(stagedChunkPaths.video(UPLOAD, 1, 480)));
    before = (await vp9Runs()).length;
    const retried = await runChunk(job);
    const runs = (await vp9Runs()).slice(before);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toContain('video-480p-0001.webm.part');
    expect(runs[0]).not.toContain('video-360p-0001.webm');
    expect(retried.outputs?.map((o) => [o.rung, o.encoded])).toEqual([
      [360, false],
      [480, true],
    ]);
    expect((await stat(kept)).mtimeMs).toBe(keptBefore.mtimeMs);
    expect((await media.findVideoChunk(staged(stagedChunkPaths.video(UPLOAD, 1, 480)), undefined, FPS))?.frames).toBe(2 * FPS);
  }, 300_000);

  it('a run stopped mid-encode leaves no rung file under its final name', async () => {
    const job = chunkJobs.find((j) => j.part.kind === 'video' && j.part.rungs && j.part.index === 0) as VideoChunk;
    await rm(staged(stagedChunkPaths.video(UPLOAD, 0, 360)));
    await rm(staged(stagedChunkPaths.video(UPLOAD, 0, 480)));
    const stop = new AbortController();
    const { context } = fakeContext();
    const run = handleVideoChunk(media, settings(), job, { ...context, signal: stop.signal }, 'test-replica');
    setTimeout(() => stop.abort(), 150);
    await expect(run).rejects.toThrow();
    for (const rung of [360, 480]) {
      await expect(stat(staged(stagedChunkPaths.video(UPLOAD, 0, rung)))).rejects.toThrow();
      await expect(stat(`${staged(stagedChunkPaths.video(UPLOAD, 0, rung))}.part`)).rejects.toThrow();
    }
  }, 120_000);

  it('refuses a chunk naming a rung outside the ladder, or both a rung and rungs, for good', async () => {
    const job = chunkJobs.find((j) => j.part.kind === 'video' && j.part.rungs) as VideoChunk & { part: { kind: 'video' } };
    await expect(runChunk({ ...job, part: { ...job.part, rungs: [360, 720] } })).rejects.toMatchObject({ message: "rung 720p is not in the encode's ladder" });
    await expect(runChunk({ ...job, part: { ...job.part, rung: 240 } })).rejects.toMatchObject({ message: 'chunk 0 names both a rung and rungs' });
  });
});
