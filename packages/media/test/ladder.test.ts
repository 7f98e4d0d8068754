import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMediaAdapter, DASH_AUDIO_FILE, DASH_MANIFEST_FILE, type MediaInfo, outputFps, planLadder, type Rung, rungFileName } from '../src/index.js';
import { FIXTURES, ffmpegCli } from './helpers.js';

// The ladder on real ffmpeg, as the transcoder's flow makes it: each rung encoded in the same chunks
// (aligned on the same frames; the lowest rung alone, the rungs above it from one decode per chunk),
// each rung's chunks joined by stream copy into its DASH file, the audio once, the manifest, and the
// progressive fallback remuxed from one rung.

const execFileAsync = promisify(execFile);
const media = createMediaAdapter();
const FPS = 30;
const SECONDS = 4;
/** The chunk plan every rung shares: two chunks, the second from frame 60 (2 s). */
const CHUNKS = [{ startFrame: 0, frames: 60 }, { startFrame: 60 }];

let work: string;
const file = (name: string) => join(work, name);

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

/** Decodes every frame of a file; returns the decoded video frames and ffmpeg's complaints (none expected). */
async function decodeAll(path: string): Promise<{ frames: number; errors: string }> {
  const { stdout, stderr } = await execFileAsync('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=nb_read_frames',
    '-of',
    'csv=p=0',
    path,
  ]);
  return { frames: Number(stdout.trim()), errors: stderr.trim() };
}

/** Builds one source's whole ladder the way the flow does; returns the rungs and the DASH folder. */
async function buildLadder(name: string, input: string): Promise<{ source: MediaInfo; rungs: Rung[]; dash: string }> {
  const source = await media.probe(input);
  if (!source.video) throw new Error(`${name} has no video`);
  const rungs = planLadder(source.video, 2160);
  const dash = file(`${name}-dash`);
  const chunks = file(`${name}-chunks`);
  await mkdir(dash, { recursive: true });
  await mkdir(chunks, { recursive: true });
  const fps = outputFps(source);
  const [lowest, ...upper] = rungs;
  if (!lowest) throw new Error(`${name} has no rung`);
  const chunkFile = (rung: Rung, index: number) => join(chunks, `${rung.name}p-${index}.webm`);
  const frames = new Map<string, number>();
  for (const [index, chunk] of CHUNKS.entries()) {
    const slot = { source, threads: 2, fps, startFrame: chunk.startFrame, ...(chunk.frames === undefined ? {} : { frames: chunk.frames }) };
    // The lowest rung alone, every rung above it from one decode: as the flow's chunk jobs do.
    const alone = await media.encodeVideoChunk(input, chunkFile(lowest, index), {
      ...slot,
      maxHeight: lowest.name,
      videoBitrateKbps: lowest.bitrateKbps,
      speed: lowest.speed,
    });
    frames.set(chunkFile(lowest, index), alone.frames);
    if (upper.length === 0) continue;
    const shared = await media.encodeLadderChunk(input, {
      ...slot,
      rungs: upper.map((rung) => ({ output: chunkFile(rung, index), maxHeight: rung.name, videoBitrateKbps: rung.bitrateKbps, speed: rung.speed })),
    });
    for (const result of shared) frames.set(result.output, result.frames);
  }
  for (const rung of rungs) {
    const parts = CHUNKS.map((chunk, index) => ({
      file: basename(chunkFile(rung, index)),
      ...(chunk.frames === undefined ? {} : { durationSeconds: (frames.get(chunkFile(rung, index)) ?? 0) / fps }),
    }));
    await media.joinRung(join(dash, rungFileName(rung)), { source, chunks: parts, list: join(chunks, `${rung.name}p.ffconcat`) });
  }
  if (source.audio) await media.encodeAudioTrack(input, join(dash, DASH_AUDIO_FILE), { source, threads: 2 });
  await media.writeDashManifest(join(dash, DASH_MANIFEST_FILE), {
    videos: rungs.map((rung) => join(dash, rungFileName(rung))),
    ...(source.audio ? { audio: join(dash, DASH_AUDIO_FILE) } : {}),
  });
  return { source, rungs, dash };
}

const ladders: Record<string, Awaited<ReturnType<typeof buildLadder>>> = {};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'media-ladder-'));
  const lavfi = (size: string) => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${FPS}`];
  // A 480p landscape source with audio and a keyframe every 1.5 s (not on the ladder's 2 s grid).
  await ffmpegCli([
    ...lavfi('854x480'),
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440',
    '-t',
    String(SECONDS),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-g',
    '45',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-shortest',
    file('landscape.mp4'),
  ]);
  // A portrait source (taller than wide), silent.
  await ffmpegCli([...lavfi('360x640'), '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', file('portrait.mp4')]);
  // A phone-style rotated source: stored 640x360, displayed 360x640.
  await ffmpegCli([...lavfi('640x360'), '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', file('stored-landscape.mp4')]);
  await ffmpegCli(FIXTURES.rotate90(file('stored-landscape.mp4'), file('rotated.mp4')));
  // A source smaller than the lowest rung.
  await ffmpegCli([...lavfi('320x180'), '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', file('tiny.mp4')]);
  for (const name of ['landscape', 'portrait', 'rotated', 'tiny']) ladders[name] = await buildLadder(name, file(`${name}.mp4`));
}, 300_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the rendition ladder on real ffmpeg', () => {
  it('has the rungs of each source, never upscaled, portrait kept portrait', async () => {
    const sizes = async (name: string) => {
      const ladder = ladders[name];
      if (!ladder) throw new Error(name);
      return Promise.all(ladder.rungs.map(async (rung) => (await media.probe(join(ladder.dash, rungFileName(rung)))).video));
    };
    expect((await sizes('landscape')).map((v) => `${v?.width}x${v?.height}`)).toEqual(['426x240', '640x360', '854x480']);
    expect((await sizes('portrait')).map((v) => `${v?.width}x${v?.height}`)).toEqual(['240x426', '360x640']);
    expect((await sizes('rotated')).map((v) => `${v?.width}x${v?.height} r${v?.rotation}`)).toEqual(['240x426 r0', '360x640 r0']);
    expect((await sizes('tiny')).map((v) => `${v?.width}x${v?.height}`)).toEqual(['320x180']);
  });

  it('every rung has its keyframes at the same times (the chunk starts and a fixed 2 s GOP)', async () => {
    for (const [name, ladder] of Object.entries(ladders)) {
      const times = await Promise.all(ladder.rungs.map((rung) => keyframeTimes(join(ladder.dash, rungFileName(rung)))));
      expect(times[0], name).toEqual([0, 2]);
      for (const other of times) expect(other, name).toEqual(times[0]);
    }
  });

  it('every rung decodes whole, without errors, and lasts as long as the source within a frame', async () => {
    for (const [name, ladder] of Object.entries(ladders)) {
      for (const rung of ladder.rungs) {
        const path = join(ladder.dash, rungFileName(rung));
        const decoded = await decodeAll(path);
        expect(decoded.errors, `${name} ${rung.name}p`).toBe('');
        expect(decoded.frames, `${name} ${rung.name}p`).toBe(SECONDS * FPS);
        const probed = await media.probe(path);
        expect(Math.abs(probed.durationSeconds - SECONDS), `${name} ${rung.name}p`).toBeLessThanOrEqual(1 / FPS + 1e-6);
      }
    }
  });

  it('the manifest lists each rung and the audio by names relative to its folder, aligned subsegments', async () => {
    const ladder = ladders.landscape;
    if (!ladder) throw new Error('landscape');
    const mpd = await readFile(join(ladder.dash, DASH_MANIFEST_FILE), 'utf8');
    const baseUrls = [...mpd.matchAll(/<BaseURL>([^<]+)<\/BaseURL>/g)].map((match) => match[1]);
    expect(baseUrls).toEqual(['video-240p.webm', 'video-360p.webm', 'video-480p.webm', 'audio.webm']);
    expect(mpd).toContain('subsegmentAlignment="true"');
    expect(mpd).toMatch(/mimeType="video\/webm" codecs="vp9"/);
    expect(mpd).toMatch(/mimeType="audio\/webm" codecs="opus"/);
    expect(mpd.match(/indexRange="\d+-\d+"/g)).toHaveLength(4);
    // The silent source's manifest has the video set only.
    const silent = await readFile(join(ladders.portrait?.dash ?? '', DASH_MANIFEST_FILE), 'utf8');
    expect(silent).not.toContain('audio/webm');
  });

  it('the progressive fallback is a remux of the top rung and the audio: same video packets, no encode', async () => {
    const ladder = ladders.landscape;
    if (!ladder) throw new Error('landscape');
    const top = join(ladder.dash, rungFileName(ladder.rungs.at(-1) as Rung));
    const out = file('progressive.webm');
    const result = await media.remuxProgressive(out, { source: ladder.source, video: top, audio: join(ladder.dash, DASH_AUDIO_FILE) });
    const probed = await media.probe(out);
    expect(probed.video).toMatchObject({ codec: 'vp9', width: 854, height: 480 });
    expect(probed.audio?.codec).toBe('opus');
    expect(result.durationSeconds).toBeGreaterThanOrEqual(SECONDS - 0.1);
    // Stream copy: the fallback's video packets are the rung's, byte for byte.
    const hashes = async (path: string) =>
      (await execFileAsync('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:v:0', '-c', 'copy', '-f', 'framemd5', '-'])).stdout
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.split(',').at(-1));
    expect(await hashes(out)).toEqual(await hashes(top));
  });
});
