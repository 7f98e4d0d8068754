import { access, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FfmpegJob, FfmpegRunner } from '../src/ffmpeg-runner.js';
import { createMediaAdapter } from '../src/index.js';
import { measureMeanLuma } from '../src/poster.js';
import { extractPreviewAndPoster } from '../src/preview-and-poster.js';
import { FIXTURES, ffmpegCli, ffprobeJson, meanGray } from './helpers.js';

let dir = '';
const file = (name: string): string => join(dir, name);
const media = createMediaAdapter();
const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );
const videoOf = (probe: Awaited<ReturnType<typeof ffprobeJson>>) => probe.streams.find((s) => s.codec_type === 'video');
const partFiles = async (): Promise<string[]> => (await readdir(dir)).filter((name) => name.endsWith('.part'));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reelboard-preview-and-poster-'));
  await Promise.all([
    ffmpegCli(FIXTURES.withAudio(file('in.mp4'))),
    ffmpegCli(FIXTURES.silent(file('silent.mp4'))),
    // Black for its first 3 s, then 3 s of picture: the first poster candidate (1.5 s) and its whole
    // one-second window are black, the second (3 s) is picture.
    ffmpegCli([
      '-filter_complex',
      'color=black:size=320x180:rate=30:duration=3[b];testsrc2=size=320x180:rate=30:duration=3[t];[b][t]concat=n=2:v=1:a=0',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      file('dark-opening.mp4'),
    ]),
  ]);
  await ffmpegCli(FIXTURES.rotate90(file('silent.mp4'), file('rotated.mp4')));
}, 30_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('extractPreviewAndPoster', () => {
  it('writes a valid muted VP9 preview of the first seconds and the same WebP poster as extractPoster, from one run', async () => {
    const [result, posterAlone] = await Promise.all([
      media.extractPreviewAndPoster(file('in.mp4'), file('preview.webm'), file('poster.webp'), { seconds: 1, threads: 2 }),
      media.extractPoster(file('in.mp4'), file('alone-poster.webp'), { threads: 2 }),
    ]);
    const preview = await ffprobeJson(file('preview.webm'));
    expect(preview.streams.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(['video:vp9']);
    expect(videoOf(preview)).toMatchObject({ width: 852, height: 480, pix_fmt: 'yuv420p' });
    expect(Number(preview.format.duration)).toBeCloseTo(1, 1);
    expect(result.preview).toMatchObject({ width: 852, height: 480, durationSeconds: Number(preview.format.duration) });
    expect(result.preview.wallSeconds).toBeGreaterThan(0);

    expect(videoOf(await ffprobeJson(file('poster.webp')))).toMatchObject({ codec_name: 'webp', width: 1280, height: 720 });
    expect(result.poster).toMatchObject({ width: 1280, height: 720, atSeconds: 0.75 });
    expect(result.posterFallback).toBe(false);
    // The same frame chosen (its window read past the 1 s clip), scaled and encoded the same way: the same bytes.
    expect((await readFile(file('poster.webp'))).equals(await readFile(file('alone-poster.webp')))).toBe(true);
    expect(result.poster.atSeconds).toBe(posterAlone.atSeconds);
    // The luma measured inside the run is the poster's: measuring the written file (as extractPoster does) agrees.
    expect(Math.abs(result.poster.meanLuma - (await measureMeanLuma(file('poster.webp'), new FfmpegRunner())))).toBeLessThan(1);
    expect(await partFiles()).toEqual([]);
  }, 30_000);

  it('takes the poster from a later candidate when the video opens on black', async () => {
    const result = await media.extractPreviewAndPoster(file('dark-opening.mp4'), file('dark-preview.webm'), file('dark-poster.webp'), {
      seconds: 1,
      threads: 2,
    });
    expect(result.posterFallback).toBe(true);
    expect(result.poster.atSeconds).toBe(3);
    expect(result.poster.meanLuma).toBeGreaterThan(40);
    expect(await meanGray(file('dark-poster.webp'))).toBeGreaterThan(40);
    expect(videoOf(await ffprobeJson(file('dark-poster.webp')))).toMatchObject({ codec_name: 'webp', width: 320, height: 180 });
    // The preview is still the opening (black), whole and valid.
    expect(Number((await ffprobeJson(file('dark-preview.webm'))).format.duration)).toBeCloseTo(1, 1);
    expect(await meanGray(file('dark-preview.webm'))).toBeLessThan(25);
    expect(await partFiles()).toEqual([]);
  }, 30_000);

  it('keeps the whole video when it is shorter than the preview, and a portrait video portrait', async () => {
    const result = await media.extractPreviewAndPoster(file('rotated.mp4'), file('rotated-preview.webm'), file('rotated-poster.webp'), {
      seconds: 10,
      threads: 2,
      maxHeight: 240,
    });
    expect(Math.abs(result.preview.durationSeconds - 2)).toBeLessThanOrEqual(0.1);
    expect(videoOf(await ffprobeJson(file('rotated-preview.webm')))).toMatchObject({ width: 240, height: 426 });
    expect(videoOf(await ffprobeJson(file('rotated-poster.webp')))).toMatchObject({ width: 360, height: 640 });
    expect(result.poster.atSeconds).toBe(0.5);
  }, 30_000);

  it('kills ffmpeg on abort and leaves neither file nor a .part', async () => {
    const controller = new AbortController();
    // Aborts as soon as ffmpeg reports its first progress, i.e. mid-run.
    class AbortingRunner extends FfmpegRunner {
      override run(job: FfmpegJob) {
        return super.run({
          ...job,
          onStderrLine: (line) => {
            job.onStderrLine?.(line);
            if (line.includes('frame=')) controller.abort();
          },
        });
      }
    }
    const running = extractPreviewAndPoster(file('in.mp4'), file('aborted-preview.webm'), file('aborted-poster.webp'), {
      seconds: 2,
      threads: 1,
      signal: controller.signal,
      runner: new AbortingRunner(),
    });
    await expect(running).rejects.toMatchObject({ code: 'aborted', permanent: false });
    expect(await exists(file('aborted-preview.webm'))).toBe(false);
    expect(await exists(file('aborted-poster.webp'))).toBe(false);
    expect(await partFiles()).toEqual([]);
  }, 30_000);
});
