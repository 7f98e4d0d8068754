import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildVideoChunkCommand, type MediaInfo, type VideoStreamInfo } from '../src/index.js';
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
async function decode(inputOptions: readonly string[], filter: string): Promise<{ hashes: string[]; decoded: number }> {
  const { stdout, stderr } = await execFileAsync(
    'ffmpeg',
    ['-hide_banner', '-v', 'verbose', ...inputOptions, '-i', input, '-map', '0:v:0', '-vf', filter, '-f', 'framemd5', '-'],
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

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'media-chunk-seek-'));
  input = join(work, 'source.mp4');
  // A keyframe every second (every 30 frames) and B-frames, as an encoder writes them: the frames'
  // presentation times run ahead of their decode order, as in a phone's file.
  await ffmpegCli([
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=320x180:rate=${FPS}`,
    '-t',
    '4',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-bf',
    '2',
    '-g',
    '30',
    '-keyint_min',
    '30',
    '-sc_threshold',
    '0',
    '-pix_fmt',
    'yuv420p',
    input,
  ]);
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
