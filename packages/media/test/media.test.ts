import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegRunner } from '../src/ffmpeg-runner.js';
import { createMediaAdapter, MediaError } from '../src/index.js';
import { FIXTURES, ffmpegCli, ffprobeJson, meanGray } from './helpers.js';

let dir = '';
const file = (name: string): string => join(dir, name);
const media = createMediaAdapter();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reelboard-media-'));
  await Promise.all([
    ffmpegCli(FIXTURES.withAudio(file('in.mp4'))),
    ffmpegCli(FIXTURES.silent(file('silent.mp4'))),
    ffmpegCli(FIXTURES.blackStart(file('black-start.mp4'))),
    ffmpegCli(FIXTURES.hdr10(file('hdr10.mp4'))),
    writeFile(file('notes.txt'), 'this is not a video\n'),
  ]);
  await ffmpegCli(FIXTURES.rotate90(file('silent.mp4'), file('rotated.mp4')));
}, 30_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const videoOf = (probe: Awaited<ReturnType<typeof ffprobeJson>>) => probe.streams.find((s) => s.codec_type === 'video');
const audioOf = (probe: Awaited<ReturnType<typeof ffprobeJson>>) => probe.streams.find((s) => s.codec_type === 'audio');
const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

describe('health', () => {
  it('finds ffmpeg with the needed encoders', async () => {
    const health = await media.health();
    expect(health.ok).toBe(true);
    expect(health.version).toMatch(/^\d+\.\d+/);
  });
  it('reports unavailable for a missing binary', async () => {
    expect((await createMediaAdapter({ ffmpegPath: '/nonexistent/ffmpeg' }).health()).ok).toBe(false);
  });
});

describe('probeMedia', () => {
  it('reads codec, size, duration and audio of an mp4', async () => {
    const info = await media.probe(file('in.mp4'));
    expect(info.formatName).toContain('mp4');
    expect(info.durationSeconds).toBeCloseTo(3, 1);
    expect(info.sizeBytes).toBeGreaterThan(0);
    expect(info.video).toMatchObject({ codec: 'h264', width: 1280, height: 720, rotation: 0, fps: 30, pixelFormat: 'yuv420p', bitDepth: 8 });
    expect(info.audio).toMatchObject({ codec: 'aac', channels: 1 });
    expect(info.audio?.sampleRate).toBeGreaterThan(0);
  });
  it('reports display size after rotation', async () => {
    const info = await media.probe(file('rotated.mp4'));
    expect(info.video).toMatchObject({ width: 360, height: 640, rotation: 90 });
    expect(info.audio).toBeUndefined();
  });
  it('reports 10-bit HDR', async () => {
    const info = await media.probe(file('hdr10.mp4'));
    expect(info.video).toMatchObject({ bitDepth: 10, colorTransfer: 'smpte2084' });
  });
  it('throws a permanent not_media MediaError with stderr for a text file', async () => {
    const error = await media.probe(file('notes.txt')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaError);
    const mediaError = error as MediaError;
    expect(mediaError.code).toBe('not_media');
    expect(mediaError.permanent).toBe(true);
    expect(mediaError.details.stderrTail).toContain('Invalid data found');
  });
  it('throws a retryable io_error for a missing file (a staging volume that has not caught up), not a verdict on the upload', async () => {
    await expect(media.probe(file('missing.mp4'))).rejects.toMatchObject({ code: 'io_error', permanent: false });
  });
});

describe('transcodeToVp9', () => {
  it('produces vp9 + opus webm, capped height, same duration, increasing progress', async () => {
    const progress: number[] = [];
    const out = file('out.webm');
    const result = await media.transcodeToVp9(file('in.mp4'), out, { maxHeight: 360, threads: 2 }, (p) => progress.push(p));

    const probe = await ffprobeJson(out);
    expect(probe.format.format_name).toContain('webm');
    expect(videoOf(probe)).toMatchObject({ codec_name: 'vp9', width: 640, height: 360, pix_fmt: 'yuv420p' });
    expect(audioOf(probe)?.codec_name).toBe('opus');
    expect(Math.abs(Number(probe.format.duration) - 3)).toBeLessThanOrEqual(0.3);

    expect(result).toMatchObject({ width: 640, height: 360 });
    expect(result.outputBytes).toBeGreaterThan(0);
    expect(Math.abs(result.durationSeconds - 3)).toBeLessThanOrEqual(0.3);
    expect(result.fps).toBeGreaterThan(0);
    expect(result.wallSeconds).toBeGreaterThan(0);

    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1] ?? -1);
    expect(progress.every((p) => p >= 0 && p <= 100)).toBe(true);
    expect(progress.at(-1)).toBeGreaterThanOrEqual(99);
    expect(await exists(`${out}.part`)).toBe(false);
  }, 30_000);

  it('writes no audio track for a silent source', async () => {
    const out = file('silent.webm');
    await media.transcodeToVp9(file('silent.mp4'), out, { maxHeight: 1080, threads: 2 });
    const probe = await ffprobeJson(out);
    expect(audioOf(probe)).toBeUndefined();
    // Never upscaled.
    expect(videoOf(probe)).toMatchObject({ width: 640, height: 360 });
  }, 30_000);

  it('outputs an upright portrait video for a rotated phone source, with no rotation left', async () => {
    const out = file('rotated.webm');
    const result = await media.transcodeToVp9(file('rotated.mp4'), out, { maxHeight: 1080, threads: 2 });
    const video = videoOf(await ffprobeJson(out));
    expect(video).toMatchObject({ width: 360, height: 640 });
    expect(video?.side_data_list ?? []).toEqual([]);
    expect(result.height).toBeGreaterThan(result.width);
  }, 30_000);

  it('turns 10-bit HDR into 8-bit yuv420p', async () => {
    const out = file('hdr10.webm');
    await media.transcodeToVp9(file('hdr10.mp4'), out, { maxHeight: 1080, threads: 2 });
    expect(videoOf(await ffprobeJson(out))?.pix_fmt).toBe('yuv420p');
  }, 30_000);

  it('rejects a non-video with a typed error and leaves no output', async () => {
    const out = file('notes.webm');
    await expect(media.transcodeToVp9(file('notes.txt'), out, { maxHeight: 720, threads: 2 })).rejects.toMatchObject({ code: 'not_media', permanent: true });
    expect(await exists(out)).toBe(false);
  });

  it('kills ffmpeg on abort and leaves no partial file', async () => {
    const out = file('aborted.webm');
    const controller = new AbortController();
    const running = media.transcodeToVp9(file('in.mp4'), out, { maxHeight: 720, threads: 1, signal: controller.signal }, () => controller.abort());
    await expect(running).rejects.toMatchObject({ code: 'aborted', permanent: false });
    expect(await exists(out)).toBe(false);
    expect(await exists(`${out}.part`)).toBe(false);
  }, 30_000);
});

describe('FfmpegRunner errors', () => {
  it('attaches the stderr tail to a failed run', async () => {
    const error = await new FfmpegRunner()
      .run({ input: file('in.mp4'), output: file('bad.webm'), outputOptions: ['-c:v', 'no-such-encoder'] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaError);
    expect((error as MediaError).code).toBe('ffmpeg_failed');
    expect((error as MediaError).details.stderrTail).toContain('no-such-encoder');
  });
});

describe('extractPreview', () => {
  it('makes a muted clip of the first seconds at most 480p', async () => {
    const out = file('preview.webm');
    const result = await media.extractPreview(file('in.mp4'), out, { seconds: 2, threads: 2 });
    const probe = await ffprobeJson(out);
    expect(audioOf(probe)).toBeUndefined();
    expect(videoOf(probe)?.codec_name).toBe('vp9');
    expect(videoOf(probe)?.height).toBeLessThanOrEqual(480);
    expect(Number(probe.format.duration)).toBeLessThanOrEqual(2.2);
    expect(Number(probe.format.duration)).toBeGreaterThanOrEqual(1.8);
    expect(result.height).toBeLessThanOrEqual(480);
  }, 30_000);

  it('keeps the whole clip when the video is shorter than the preview', async () => {
    const out = file('preview-short.webm');
    // Also runs through a reniced runner, as a transcoder replica would configure it.
    await createMediaAdapter({ niceness: 10, timeoutSeconds: 60 }).extractPreview(file('silent.mp4'), out, { seconds: 10, threads: 2 });
    const duration = Number((await ffprobeJson(out)).format.duration);
    expect(Math.abs(duration - 2)).toBeLessThanOrEqual(0.2);
  }, 30_000);

  it('keeps a portrait preview portrait, capped on its short side', async () => {
    const out = file('preview-rotated.webm');
    await media.extractPreview(file('rotated.mp4'), out, { seconds: 1, threads: 2, maxHeight: 240 });
    expect(videoOf(await ffprobeJson(out))).toMatchObject({ width: 240, height: 426 });
  }, 30_000);
});

describe('extractPoster', () => {
  it('writes a webp at most 1280 wide', async () => {
    const out = file('poster.webp');
    const result = await media.extractPoster(file('in.mp4'), out);
    const video = videoOf(await ffprobeJson(out));
    expect(video?.codec_name).toBe('webp');
    expect(video?.width).toBeLessThanOrEqual(1280);
    expect(result.outputBytes).toBeGreaterThan(0);
  }, 30_000);

  it('does not pick a black frame when the video opens on black', async () => {
    const out = file('poster-black-start.webp');
    const result = await media.extractPoster(file('black-start.mp4'), out);
    expect(await meanGray(out)).toBeGreaterThan(40);
    expect(result.meanLuma).toBeGreaterThan(40);
  }, 30_000);

  it('takes an exact frame when asked, and scales down wide sources', async () => {
    const out = file('poster-at.webp');
    const result = await media.extractPoster(file('black-start.mp4'), out, { atSeconds: 0.2, maxWidth: 320 });
    expect(await meanGray(out)).toBeLessThan(25);
    expect(result).toMatchObject({ width: 320, height: 180, atSeconds: 0.2 });
  }, 30_000);
});
