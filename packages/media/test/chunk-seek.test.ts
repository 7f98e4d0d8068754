import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTranscodeCommand, buildVideoChunkCommand, createMediaAdapter, type MediaInfo, type VideoStreamInfo } from '../src/index.js';
import { ffmpegCli } from './helpers.js';

// A chunk's input options on real ffmpeg: which frames it gets, and how much it decodes to get them.

const execFileAsync = promisify(execFile);
const FPS = 30;
const video: VideoStreamInfo = { codec: 'h264', width: 320, height: 180, rotation: 0, fps: FPS, pixelFormat: 'yuv420p', bitDepth: 8 };
const source: MediaInfo & { video: VideoStreamInfo } = { formatName: 'mov,mp4', durationSeconds: 4, sizeBytes: 1, video };

let work: string;
let input: string;
/** The hash of each source frame, in order, through the chunks' filter chain (decoded from the start). */
let reference: string[];

/** Frame hashes of ffmpeg's framemd5 output, and how many frames the decoder produced to make them. */
async function decode(inputOptions: readonly string[], filter: string, from = input): Promise<{ hashes: string[]; decoded: number }> {
  const { stdout, stderr } = await execFileAsync(
    'ffmpeg',
    ['-hide_banner', '-v', 'verbose', ...inputOptions, '-i', from, '-map', '0:v:0', '-vf', filter, '-f', 'framemd5', '-'],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const hashes = stdout
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(',').at(-1)?.trim() ?? '');
  const decoded = Number(/Input stream #0:0 \(video\):.*?(\d+) frames decoded/.exec(stderr)?.[1]);
  return { hashes, decoded };
}

const chunk = (startFrame: number, frames?: number) =>
  buildVideoChunkCommand({
    input,
    output: 'unused',
    source,
    size: { width: 320, height: 180 },
    threads: 1,
    maxFps: 60,
    fps: FPS,
    startFrame,
    ...(frames === undefined ? {} : { frames }),
  });
const filterOf = (command: ReturnType<typeof chunk>) => command.outputOptions[command.outputOptions.indexOf('-vf') + 1] ?? '';

/** A 4 s source at `rate` fps, a keyframe every second, B-frames. */
async function makeSource(path: string, rate: number): Promise<void> {
  await ffmpegCli([
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=320x180:rate=${rate}`,
    '-t',
    '4',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-bf',
    '2',
    '-g',
    String(rate),
    '-keyint_min',
    String(rate),
    '-sc_threshold',
    '0',
    '-pix_fmt',
    'yuv420p',
    path,
  ]);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'media-chunk-seek-'));
  input = join(work, 'source.mp4');
  // B-frames, as an encoder writes them: the frames' presentation times run ahead of their decode
  // order, as in a phone's file.
  await makeSource(input, FPS);
  const whole = chunk(0);
  reference = (await decode(whole.inputOptions, filterOf(whole))).hashes;
  expect(reference).toHaveLength(120);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('a chunk reads exactly its frames', () => {
  it('starting on a keyframe: its frames, decoded from that keyframe (not from the one before)', async () => {
    const command = chunk(60, 30);
    const { hashes, decoded } = await decode(command.inputOptions, filterOf(command));
    expect(hashes).toEqual(reference.slice(60, 90));
    // From the keyframe before (frame 30) it would decode 60 frames or more to reach frame 89.
    expect(decoded).toBeGreaterThanOrEqual(30);
    expect(decoded).toBeLessThan(45);
  });

  it('starting between keyframes: its frames, the ones before its first dropped', async () => {
    const command = chunk(75, 30);
    const { hashes } = await decode(command.inputOptions, filterOf(command));
    expect(hashes).toEqual(reference.slice(75, 105));
  });

  it('the last chunk runs to the end of the source', async () => {
    const command = chunk(90);
    const { hashes, decoded } = await decode(command.inputOptions, filterOf(command));
    expect(hashes).toEqual(reference.slice(90));
    expect(decoded).toBe(30);
  });
});

// A source faster than the 60 fps cap (a phone's slow-motion or high-rate mode): the chunks count
// frames at 60 fps, so each must get exactly its slot's frames, the ones the single encode keeps.
describe.each([120, 90])('a chunk of a %i fps source, capped at 60 fps', (rate) => {
  const fast: MediaInfo & { video: VideoStreamInfo } = { ...source, video: { ...video, fps: rate } };
  let path = '';
  const fastChunk = (startFrame: number, frames?: number) =>
    buildVideoChunkCommand({
      input: path,
      output: 'unused',
      source: fast,
      size: { width: 320, height: 180 },
      threads: 1,
      maxFps: 60,
      fps: 60,
      startFrame,
      ...(frames === undefined ? {} : { frames }),
    });

  beforeAll(async () => {
    path = join(work, `source-${rate}.mp4`);
    await makeSource(path, rate);
  });

  it("each chunk has the single encode's frames, as many as its slot", async () => {
    const full = buildTranscodeCommand({
      input: path,
      output: 'unused',
      source: fast,
      size: { width: 320, height: 180 },
      threads: 1,
      maxFps: 60,
      audioBitrateKbps: 128,
    });
    const single = (await decode(full.inputOptions, filterOf(full), path)).hashes;
    expect(single).toHaveLength(240);
    for (const [startFrame, frames] of [
      [60, 60],
      [75, 30],
      [180, undefined],
    ] as const) {
      const command = fastChunk(startFrame, frames);
      const { hashes } = await decode(command.inputOptions, filterOf(command), path);
      expect(hashes, `chunk at ${startFrame}`).toEqual(single.slice(startFrame, frames === undefined ? undefined : startFrame + frames));
    }
  });

  it('each encoded chunk is whole: 60 frames in a 60-frame slot (62 on ffmpeg 7 with the cap as -fpsmax)', async () => {
    const media = createMediaAdapter();
    const probe = await media.probe(path);
    for (const startFrame of [0, 60]) {
      const result = await media.encodeVideoChunk(path, join(work, `chunk-${rate}-${startFrame}.webm`), {
        source: probe,
        maxHeight: 180,
        threads: 1,
        fps: 60,
        startFrame,
        frames: 60,
        speed: { deadline: 'realtime', cpuUsed: 8 },
      });
      expect(result.frames, `chunk at ${startFrame}`).toBe(60);
    }
  }, 60_000);
});
