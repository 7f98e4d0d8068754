import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '@reelboard/bus';
import { previewExtractedSchema, type VideoTranscoded } from '@reelboard/contracts';
import { createMediaAdapter } from '@reelboard/media';
// The transcoder's fake StageContext and payload builder: the same chain, one stage later.
import { fakeContext, ffmpegCli, ffprobeJson, paymentConfirmed } from '@reelboard/testkit/stage';
import { handleVideoTranscoded, type PreviewSettings } from '../src/handle-video-transcoded.js';

const execFileAsync = promisify(execFile);
let staging = '';
const media = createMediaAdapter();

const settings = (overrides: Partial<PreviewSettings> = {}): PreviewSettings => ({
  STAGING_DIR: staging,
  PREVIEW_SECONDS: 3,
  PREVIEW_MAX_HEIGHT: 480,
  FFMPEG_THREADS: 2,
  // Most cases stage no source (the storyboard's input): the storyboard case turns it on.
  STORYBOARD_INTERVAL_SECONDS: 0,
  ...overrides,
});

/** Stages `file` as an upload's transcoded video and runs the handler on it. */
async function extract(
  file: string,
  durationSeconds: number,
  overrides: Partial<PreviewSettings> = {},
  early: Pick<VideoTranscoded, 'preview' | 'poster'> = {},
) {
  const uploadId = randomUUID();
  await mkdir(join(staging, uploadId));
  const upload: VideoTranscoded = {
    ...paymentConfirmed(uploadId, `${file}.source`),
    ...early,
    video: { path: file, bytes: (await stat(join(staging, file))).size, durationSeconds, width: 1, height: 1 },
  };
  const { context, captured } = fakeContext();
  const error = await handleVideoTranscoded(media, settings(overrides), upload, context).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { uploadId, captured, error, preview: join(staging, uploadId, 'preview.webm'), poster: join(staging, uploadId, 'poster.webp') };
}

/** Mean gray level (0-255) of an image. */
async function meanGray(path: string): Promise<number> {
  const { stdout } = await execFileAsync(
    'ffmpeg',
    ['-v', 'error', '-i', path, '-vf', 'scale=1:1:flags=area,format=gray', '-frames:v', '1', '-f', 'rawvideo', '-'],
    { encoding: 'buffer' },
  );
  return stdout[0] ?? -1;
}

const vp9 = ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '1M'];

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'reelboard-preview-'));
  await Promise.all([
    // Transcoded videos as the transcoder leaves them: VP9/Opus WebM.
    ffmpegCli([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=1280x720:rate=30',
      '-f',
      'lavfi',
      '-i',
      'sine',
      '-t',
      '4',
      ...vp9,
      '-c:a',
      'libopus',
      join(staging, 'long.webm'),
    ]),
    ffmpegCli(['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '1.5', ...vp9, join(staging, 'short.webm')]),
    ffmpegCli(['-f', 'lavfi', '-i', 'testsrc2=size=360x640:rate=30', '-t', '1', ...vp9, join(staging, 'portrait.webm')]),
    // Opens on 1.5 s of black, like a fade-in.
    ffmpegCli([
      '-filter_complex',
      'color=black:size=640x360:rate=30:duration=1.5[b];testsrc2=size=640x360:rate=30:duration=1.5[t];[b][t]concat=n=2:v=1:a=0',
      ...vp9,
      join(staging, 'black-start.webm'),
    ]),
    writeFile(join(staging, 'garbage.webm'), 'not a video at all'),
  ]);
}, 60_000);

afterAll(async () => {
  if (staging) await rm(staging, { recursive: true, force: true });
});

describe('handleVideoTranscoded', () => {
  it('cuts a muted, loopable VP9 preview of PREVIEW_SECONDS at most 480p, and a WebP poster', async () => {
    const { error, captured, preview, poster, uploadId } = await extract('long.webm', 4);
    expect(error).toBeUndefined();
    const clip = await ffprobeJson(preview);
    expect(clip.format.format_name).toContain('webm');
    expect(clip.streams.map((s) => s.codec_type)).toEqual(['video']);
    expect(clip.streams[0]).toMatchObject({ codec_name: 'vp9', width: 852, height: 480, pix_fmt: 'yuv420p' });
    expect(Number(clip.format.duration)).toBeCloseTo(3, 0);
    // Loops cleanly: the clip starts on a keyframe, so the player can jump back to 0 without a stall.
    const { stdout } = await execFileAsync('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'packet=flags',
      '-read_intervals',
      '%+#1',
      '-of',
      'csv=p=0',
      preview,
    ]);
    expect(stdout.trim()).toMatch(/^K/);

    expect((await ffprobeJson(poster)).streams[0]).toMatchObject({ codec_name: 'webp', width: 1280, height: 720 });

    expect(captured.emitted).toHaveLength(1);
    expect(captured.emitted[0]?.channel).toBe('preview.extracted');
    const payload = previewExtractedSchema.parse(captured.emitted[0]?.payload);
    expect(payload.preview).toMatchObject({ path: `${uploadId}/preview.webm`, bytes: (await stat(preview)).size });
    expect(payload.poster).toMatchObject({ path: `${uploadId}/poster.webp`, bytes: (await stat(poster)).size });
  }, 60_000);

  it('keeps the whole video when it is shorter than the preview length', async () => {
    const { error, preview, captured } = await extract('short.webm', 1.5, { PREVIEW_SECONDS: 5 });
    expect(error).toBeUndefined();
    expect(Number((await ffprobeJson(preview)).format.duration)).toBeCloseTo(1.5, 0);
    expect(captured.emitted[0]?.payload).toMatchObject({ preview: { durationSeconds: expect.closeTo(1.5, 0) } });
  }, 30_000);

  it('keeps a portrait video portrait, capped on its short side', async () => {
    const { error, preview } = await extract('portrait.webm', 1, { PREVIEW_MAX_HEIGHT: 240 });
    expect(error).toBeUndefined();
    expect((await ffprobeJson(preview)).streams[0]).toMatchObject({ width: 240, height: 426 });
  }, 30_000);

  it('takes the poster from a representative frame, not the black opening', async () => {
    const { error, poster } = await extract('black-start.webm', 3);
    expect(error).toBeUndefined();
    expect(await meanGray(poster)).toBeGreaterThan(40);
  }, 30_000);

  it('passes on the preview and poster the transcoder already cut, without running ffmpeg', async () => {
    const cutEarly = { preview: { path: 'early/preview.webm', bytes: 1, durationSeconds: 1 }, poster: { path: 'early/poster.webp', bytes: 1 } };
    await mkdir(join(staging, 'early'), { recursive: true });
    await Promise.all([writeFile(join(staging, cutEarly.preview.path), 'p'), writeFile(join(staging, cutEarly.poster.path), 'q')]);
    // The video itself is garbage: had ffmpeg run on it, the stage would fail.
    const { error, captured, preview } = await extract('garbage.webm', 1, {}, cutEarly);
    expect(error).toBeUndefined();
    expect(previewExtractedSchema.parse(captured.emitted[0]?.payload)).toMatchObject(cutEarly);
    expect(
      await stat(preview).then(
        () => true,
        () => false,
      ),
    ).toBe(false);
  }, 30_000);

  it('cuts them from the transcoded video when the early ones are gone from staging', async () => {
    const gone = { preview: { path: 'gone/preview.webm', bytes: 1, durationSeconds: 1 }, poster: { path: 'gone/poster.webp', bytes: 1 } };
    const { error, captured, uploadId, preview } = await extract('short.webm', 1.5, {}, gone);
    expect(error).toBeUndefined();
    const payload = previewExtractedSchema.parse(captured.emitted[0]?.payload);
    expect(payload.preview).toMatchObject({ path: `${uploadId}/preview.webm`, bytes: (await stat(preview)).size });
  }, 30_000);

  it("makes a storyboard from the source beside the preview: an index and sprite sheets in the upload's staging folder", async () => {
    const uploadId = randomUUID();
    await mkdir(join(staging, uploadId));
    await copyFile(join(staging, 'long.webm'), join(staging, uploadId, 'source'));
    const upload: VideoTranscoded = {
      ...paymentConfirmed(uploadId, `${uploadId}/source`),
      video: { path: 'long.webm', bytes: (await stat(join(staging, 'long.webm'))).size, durationSeconds: 4, width: 1280, height: 720 },
    };
    const { context, captured } = fakeContext();
    await handleVideoTranscoded(media, settings({ STORYBOARD_INTERVAL_SECONDS: 1 }), upload, context);
    const payload = previewExtractedSchema.parse(captured.emitted[0]?.payload);
    expect(payload.storyboard).toEqual({ dir: `${uploadId}/storyboard`, files: ['storyboard.vtt', 'sprite-1.jpg'] });
    const vtt = await readFile(join(staging, uploadId, 'storyboard', 'storyboard.vtt'), 'utf8');
    // 4 s at 1 s: four cues on one sheet, 160x90 each.
    expect(vtt.match(/-->/g)).toHaveLength(4);
    expect(vtt).toContain('00:00:03.000 --> 00:00:04.000\nsprite-1.jpg#xywh=480,0,160,90');
    expect((await ffprobeJson(join(staging, uploadId, 'storyboard', 'sprite-1.jpg'))).streams[0]).toMatchObject({
      codec_name: 'mjpeg',
      width: 800,
      height: 450,
    });
  }, 60_000);

  it('fails for good, emitting nothing, when the transcoded file is not a video', async () => {
    const { error, captured } = await extract('garbage.webm', 1);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'not_media' });
    expect(captured.emitted).toEqual([]);
  }, 30_000);
});
