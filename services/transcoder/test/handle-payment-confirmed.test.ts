import { randomUUID } from 'node:crypto';
import { access, copyFile, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError } from '@reelboard/bus';
import { previewEarlySchema, stagedPaths, videoTranscodedSchema } from '@reelboard/contracts';
import { createMediaAdapter } from '@reelboard/media';
import { fakeContext, ffmpegCli, ffprobeJson, patchBytes, paymentConfirmed } from '@reelboard/testkit/stage';
import { FIXTURES, HDR10_TAGS, meanGray } from '../../../packages/media/test/helpers.js';
import { cutPreviewFromSource } from '../src/cut-preview.js';
import { handlePaymentConfirmed, type TranscodeSettings } from '../src/handle-payment-confirmed.js';

let staging = '';
const media = createMediaAdapter();
const at = (name: string): string => join(staging, name);
const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

const settings = (overrides: Partial<TranscodeSettings> = {}): TranscodeSettings => ({
  STAGING_DIR: staging,
  FFMPEG_THREADS: 2,
  MAX_OUTPUT_HEIGHT: 2160,
  MAX_DURATION_SECONDS: 600,
  MAX_SOURCE_SIDE: 7680,
  PROGRESS_INTERVAL_MS: 1_000,
  PREVIEW_SECONDS: 1,
  PREVIEW_MAX_HEIGHT: 480,
  FFMPEG_TIMEOUT_SECONDS: 600,
  ENCODE_MIN_MEGAPIXELS_PER_SECOND: 4,
  CHUNK_THRESHOLD_SECONDS: 90,
  CHUNK_SECONDS: 20,
  ...overrides,
});

/** Runs the handler on a staged file, as the queue would; returns what it did or threw. */
async function transcode(source: string, overrides: Partial<TranscodeSettings> = {}, uploadId = randomUUID()) {
  const { context, captured } = fakeContext();
  const error = await handlePaymentConfirmed(media, settings(overrides), paymentConfirmed(uploadId, source), context).then(
    () => undefined,
    (e: unknown) => e,
  );
  const output = at(stagedPaths(uploadId).video);
  return { uploadId, captured, error, output };
}

const tiny = (extra: string[], out: string) => ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', ...extra, out];

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'reelboard-transcoder-'));
  const h264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
  await Promise.all([
    ffmpegCli([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=30',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440',
      '-t',
      '2',
      ...h264,
      '-c:a',
      'aac',
      at('clip.mp4'),
    ]),
    ffmpegCli(tiny(['-t', '2', ...h264], at('silent.mp4'))),
    ffmpegCli(tiny(['-t', '2', ...h264], at('silent.mkv'))),
    ffmpegCli(['-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '1', '-c:a', 'aac', at('song.m4a')]),
    ffmpegCli(['-f', 'lavfi', '-i', 'testsrc2=size=320x240', '-frames:v', '1', at('photo.png')]),
    // Screen recordings have odd sizes; 4:4:4 is what lets H.264 carry them.
    ffmpegCli([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=321x241:rate=30',
      '-t',
      '1',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv444p',
      at('odd.mp4'),
    ]),
    // Variable frame rate: 30 fps for the first second, then every third frame (10 fps).
    ffmpegCli(tiny(['-t', '2', '-vf', "select='lt(n\\,30)+not(mod(n\\,3))'", '-fps_mode', 'vfr', ...h264], at('vfr.mp4'))),
    ffmpegCli(tiny(['-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le', ...HDR10_TAGS.args], at('hdr10.mp4'))),
    ffmpegCli([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=30',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440',
      '-t',
      '2',
      '-c:v',
      'libvpx-vp9',
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
      '-c:a',
      'libopus',
      at('already.webm'),
    ]),
    // Black for its first 3 s (a fade-in opening), then picture.
    ffmpegCli([
      '-filter_complex',
      'color=black:size=320x240:rate=30:duration=3[b];testsrc2=size=320x240:rate=30:duration=3[t];[b][t]concat=n=2:v=1:a=0',
      ...h264,
      at('dark-opening.mp4'),
    ]),
    writeFile(at('notes.txt'), 'this is not a video\n'),
    // A playlist pointing at files beside it, uploaded under a video's name.
    writeFile(at('playlist.mp4'), '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nclip.mp4\n#EXT-X-ENDLIST\n'),
    writeFile(at('subtitles.srt'), '1\n00:00:00,000 --> 00:00:01,000\nhello\n'),
  ]);
  // Phone rotation: a Display Matrix on a stream copy into mp4, the way this ffmpeg writes one.
  await ffmpegCli(FIXTURES.rotate90(at('silent.mp4'), at('rotated.mp4')));
  // A codec ffmpeg has no decoder for: rename the Matroska codec id.
  await patchBytes(at('silent.mkv'), at('unknown-codec.mkv'), 'V_MPEG4/ISO/AVC', 'V_REELBOARD/ZZZ');
  // Uploads cut short: plain mp4 keeps its index (moov) at the end, faststart at the front.
  await copyFile(at('clip.mp4'), at('cut-index-at-end.mp4'));
  await truncate(at('cut-index-at-end.mp4'), Math.floor((await stat(at('clip.mp4'))).size / 2));
  await ffmpegCli(['-i', at('clip.mp4'), '-c', 'copy', '-movflags', '+faststart', at('faststart.mp4')]);
  await copyFile(at('faststart.mp4'), at('cut-index-at-front.mp4'));
  await truncate(at('cut-index-at-front.mp4'), Math.floor((await stat(at('faststart.mp4'))).size / 2));
}, 60_000);

afterAll(async () => {
  if (staging) await rm(staging, { recursive: true, force: true });
});

describe('handlePaymentConfirmed refuses, for good and with a reason,', () => {
  // `early`: the preview was already cut from the source's first seconds when the damage further in was found.
  const cases: Array<{ name: string; file: string; code: string; reason: RegExp; overrides?: Partial<TranscodeSettings>; early?: boolean }> = [
    { name: 'a file that is not media', file: 'notes.txt', code: 'not_media', reason: /not a readable media file/ },
    {
      name: 'an HLS playlist renamed .mp4 (it would make ffmpeg read other files)',
      file: 'playlist.mp4',
      code: 'not_media',
      reason: /a hls file, not a video this service accepts/,
    },
    { name: 'a file with no video stream', file: 'subtitles.srt', code: 'no_video_stream', reason: /no video stream/ },
    { name: 'an audio-only file', file: 'song.m4a', code: 'audio_only', reason: /only audio \(aac\)/ },
    { name: 'a zero-duration still image', file: 'photo.png', code: 'zero_duration', reason: /no duration \(a still png image/ },
    {
      name: 'a video longer than the maximum',
      file: 'clip.mp4',
      code: 'too_long',
      reason: /2 s long; the limit is 1 s/,
      overrides: { MAX_DURATION_SECONDS: 1 },
    },
    {
      name: 'a video larger than the maximum resolution',
      file: 'clip.mp4',
      code: 'too_large',
      reason: /320x240; at most 300 px/,
      overrides: { MAX_SOURCE_SIDE: 300 },
    },
    { name: 'a codec ffmpeg cannot decode', file: 'unknown-codec.mkv', code: 'undecodable', reason: /codec .* unknown to ffmpeg/ },
    { name: 'a truncated file whose index was cut off', file: 'cut-index-at-end.mp4', code: 'truncated', reason: /truncated/ },
    {
      name: 'a truncated file with its index at the front',
      file: 'cut-index-at-front.mp4',
      code: 'truncated',
      reason: /only [\d.]+ s of its 2\.0 s/,
      early: true,
    },
  ];
  for (const { name, file, code, reason, overrides, early } of cases) {
    it(name, async () => {
      const { error, captured, output } = await transcode(file, overrides);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ code });
      expect((error as Error).message).toMatch(reason);
      expect(captured.emitted.map((e) => e.channel)).toEqual(early ? ['preview.early'] : []);
      expect(await exists(output)).toBe(false);
      expect(await exists(`${output}.part`)).toBe(false);
    }, 30_000);
  }
});

describe('handlePaymentConfirmed retries, never refuses,', () => {
  it('a source the staging volume does not show yet (ENOENT): a retryable error, no verdict on the upload', async () => {
    const { error, captured } = await transcode('not-there-yet.mp4');
    expect(error).toBeDefined();
    expect(error).not.toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'io_error', permanent: false });
    expect(captured.emitted).toEqual([]);
  });
});

describe('handlePaymentConfirmed converts', () => {
  it('a video with audio to VP9/Opus WebM with its index at the front, reporting progress and sizes', async () => {
    const { error, captured, output, uploadId } = await transcode('clip.mp4', { PROGRESS_INTERVAL_MS: 50 });
    expect(error).toBeUndefined();
    const probe = await ffprobeJson(output);
    expect(probe.format.format_name).toContain('webm');
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp9']);

    // Plays while downloading: the Cues (seek index) come before the first Cluster of frames.
    const bytes = await readFile(output);
    const cues = bytes.indexOf(Buffer.from([0x1c, 0x53, 0xbb, 0x6b]));
    const firstCluster = bytes.indexOf(Buffer.from([0x1f, 0x43, 0xb6, 0x75]));
    expect(cues).toBeGreaterThan(0);
    expect(cues).toBeLessThan(firstCluster);

    const [early, emitted] = captured.emitted;
    expect(early?.channel).toBe('preview.early');
    expect(emitted?.channel).toBe('video.transcoded');
    const payload = videoTranscodedSchema.parse(emitted?.payload);
    expect(payload.video).toMatchObject({ path: stagedPaths(uploadId).video, width: 320, height: 240, bytes: (await stat(output)).size });
    // The preview and poster cut first travel on with the video, so the preview-extractor need not cut them again.
    expect(payload.preview).toEqual(previewEarlySchema.parse(early?.payload).preview);

    const progress = captured.statuses.filter((s) => s.event === 'progress').map((s) => s.progress ?? -1);
    expect(progress[0]).toBe(0);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1] ?? 0);

    const line = captured.logs.find((l) => l.message === 'transcoded');
    expect(line?.meta).toMatchObject({ inputResolution: '320x240', outputResolution: '320x240', outputBytes: payload.video.bytes });
    expect(line?.meta.inputBytes).toBe((await stat(at('clip.mp4'))).size);
    expect(line?.meta.ratio).toBeGreaterThan(0);
    expect(line?.meta.fps).toBeGreaterThan(0);
    expect(line?.meta.durationSeconds).toBeCloseTo(2, 0);
  }, 60_000);

  it('a rotated phone video to an upright portrait video', async () => {
    const { error, captured, output } = await transcode('rotated.mp4');
    expect(error).toBeUndefined();
    const video = (await ffprobeJson(output)).streams.find((s) => s.codec_type === 'video');
    expect(video).toMatchObject({ width: 240, height: 320 });
    // The pixels are turned, not flagged: no display matrix left for players to honour (or not).
    expect(video?.side_data_list ?? []).toEqual([]);
    expect(captured.emitted.find((e) => e.channel === 'video.transcoded')?.payload).toMatchObject({ video: { width: 240, height: 320 } });
  }, 30_000);

  it('an odd-sized video to even 4:2:0 dimensions', async () => {
    const { error, output } = await transcode('odd.mp4');
    expect(error).toBeUndefined();
    const video = (await ffprobeJson(output)).streams.find((s) => s.codec_type === 'video');
    expect(video).toMatchObject({ width: 320, height: 240, pix_fmt: 'yuv420p' });
  }, 30_000);

  it('a variable-frame-rate video without duplicating frames or changing its length', async () => {
    const source = (await ffprobeJson(at('vfr.mp4'))).streams[0];
    const { error, output } = await transcode('vfr.mp4');
    expect(error).toBeUndefined();
    const probe = await ffprobeJson(output);
    expect(Number(probe.format.duration)).toBeCloseTo(2, 0);
    // 30 frames in the first second and 10 in the next: 40, not padded to a constant 60.
    expect(Number(source?.nb_read_frames)).toBe(40);
    expect(Number(probe.streams[0]?.nb_read_frames)).toBe(40);
  }, 30_000);

  it('a video with no audio track to a WebM with no audio track', async () => {
    const { error, output } = await transcode('silent.mp4');
    expect(error).toBeUndefined();
    expect((await ffprobeJson(output)).streams.map((s) => s.codec_type)).toEqual(['video']);
  }, 30_000);

  it('a 10-bit HDR video to 8-bit yuv420p', async () => {
    const { error, output } = await transcode('hdr10.mp4');
    expect(error).toBeUndefined();
    expect((await ffprobeJson(output)).streams[0]).toMatchObject({ codec_name: 'vp9', pix_fmt: 'yuv420p' });
  }, 30_000);

  it('an already-VP9 WebM to a fresh, complete VP9 WebM', async () => {
    const { error, output, captured } = await transcode('already.webm');
    expect(error).toBeUndefined();
    const probe = await ffprobeJson(output);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['opus', 'vp9']);
    expect(Number(probe.format.duration)).toBeCloseTo(2, 0);
    expect(captured.emitted.map((e) => e.channel)).toEqual(['preview.early', 'video.transcoded']);
  }, 30_000);
});

describe('handlePaymentConfirmed, playable first,', () => {
  it('cuts the preview and poster from the source and hands them on before the full transcode starts', async () => {
    const { error, captured, uploadId } = await transcode('clip.mp4', { PROGRESS_INTERVAL_MS: 50 });
    expect(error).toBeUndefined();
    const early = previewEarlySchema.parse(captured.emitted[0]?.payload);
    expect(captured.emitted[0]?.channel).toBe('preview.early');
    expect(early.preview.path).toBe(stagedPaths(uploadId).preview);
    expect(early.poster.path).toBe(stagedPaths(uploadId).poster);
    const preview = await ffprobeJson(at(early.preview.path));
    expect(preview.streams.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(['video:vp9']);
    expect(Number(preview.format.duration)).toBeCloseTo(1, 0);
    expect((await ffprobeJson(at(early.poster.path))).streams[0]?.codec_name).toBe('webp');
    // Handed on before the encode's first progress report: the early cut does not wait for the transcode.
    const cut = captured.logs.find((l) => l.message === 'preview and poster cut from the source');
    expect(cut?.meta).toMatchObject({ reused: false });
    const firstProgress = captured.statuses.find((s) => s.event === 'progress');
    expect(firstProgress).toBeDefined();
    const transcodedLog = captured.logs.findIndex((l) => l.message === 'transcoded');
    expect(captured.logs.indexOf(cut!)).toBeLessThan(transcodedLog);
  }, 60_000);

  it("reads a long video's keyframes for the chunk plan while the preview is cut, and queues the audio track first", async () => {
    // The real adapter, recording when the keyframe probe and the cut start and end.
    const times: Record<string, { start: number; end: number }> = {};
    const timed = <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const start = performance.now();
      return work().finally(() => {
        times[name] = { start, end: performance.now() };
      });
    };
    const instrumented = {
      ...media,
      probePackets: (path: string) => timed('probe', () => media.probePackets(path)),
      extractPreviewAndPoster: (...args: Parameters<typeof media.extractPreviewAndPoster>) => timed('cut', () => media.extractPreviewAndPoster(...args)),
    };
    const { context, captured } = fakeContext();
    const flows: Array<{ parent: string; children: Array<{ channel: string; payload: { part: { kind: string } } }> }> = [];
    context.emitFlow = async (parent, children) => {
      flows.push({ parent: parent.channel, children: children as never });
    };
    const uploadId = randomUUID();
    await handlePaymentConfirmed(instrumented, settings({ CHUNK_THRESHOLD_SECONDS: 1, CHUNK_SECONDS: 1 }), paymentConfirmed(uploadId, 'clip.mp4'), context);
    expect(times.probe && times.cut).toBeTruthy();
    // The probe began before the cut ended (it runs beside it, not after it).
    expect(times.probe!.start).toBeLessThan(times.cut!.end);
    expect(flows).toHaveLength(1);
    expect(flows[0]?.children.map((child) => child.payload.part.kind)).toEqual(['audio', 'video', 'video']);
    expect(captured.emitted.map((e) => e.channel)).toEqual(['preview.early']);
  }, 60_000);

  it('gives a video that opens on black a poster from further in, and stages both files under their final names', async () => {
    const uploadId = randomUUID();
    const input = at('dark-opening.mp4');
    await mkdir(at(uploadId), { recursive: true });
    const cut = await cutPreviewFromSource(media, settings(), uploadId, input, await media.probe(input));
    expect(cut).toMatchObject({ reused: false, posterFallback: true });
    const paths = stagedPaths(uploadId);
    expect(cut.preview).toMatchObject({ path: paths.preview, bytes: (await stat(at(paths.preview))).size });
    expect(cut.poster).toMatchObject({ path: paths.poster, bytes: (await stat(at(paths.poster))).size });
    expect((await ffprobeJson(at(paths.preview))).streams.map((s) => s.codec_name)).toEqual(['vp9']);
    expect((await ffprobeJson(at(paths.poster))).streams[0]).toMatchObject({ codec_name: 'webp', width: 320, height: 240 });
    // Not the black opening: the picture's mean level, measured independently.
    expect(await meanGray(at(paths.poster))).toBeGreaterThan(40);
    expect(await exists(`${at(paths.poster)}.part`)).toBe(false);
    expect(await exists(`${at(paths.preview)}.part`)).toBe(false);
  }, 30_000);

  it('keeps the preview and poster a previous attempt cut, instead of cutting them again', async () => {
    const uploadId = randomUUID();
    const first = await transcode('silent.mp4', {}, uploadId);
    expect(first.error).toBeUndefined();
    const posterBefore = await stat(at(stagedPaths(uploadId).poster));
    const again = await transcode('silent.mp4', {}, uploadId);
    expect(again.error).toBeUndefined();
    expect(again.captured.logs.find((l) => l.message === 'preview and poster cut from the source')?.meta).toMatchObject({ reused: true });
    expect((await stat(at(stagedPaths(uploadId).poster))).mtimeMs).toBe(posterBefore.mtimeMs);
    expect(again.captured.emitted.map((e) => e.channel)).toEqual(['preview.early', 'video.transcoded']);
  }, 60_000);
});
