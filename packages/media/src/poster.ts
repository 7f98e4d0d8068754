import { rename, rm } from 'node:fs/promises';
import { buildMeanLumaCommand, buildPosterFrameCommand, parseMeanLuma } from './commands.js';
import { defaultRunner } from './default-runner.js';
import type { FfmpegRunner } from './ffmpeg-runner.js';
import { fitWidth } from './geometry.js';
import { fileSize } from './output-file.js';
import { assertPlayableVideo, probeMedia, type MediaInfo } from './probe.js';

/** Settings for a poster image. */
export interface PosterOptions {
  /** Take the frame at exactly this time instead of choosing one. */
  atSeconds?: number;
  /** Width cap; default 1280. */
  maxWidth?: number;
  /** libwebp quality 0-100; default 80. */
  quality?: number;
  /** The source's probe, if the caller already has it. */
  source?: MediaInfo;
  /** Decoder threads; default ffmpeg's own choice. */
  threads?: number;
  /** Aborting kills ffmpeg. */
  signal?: AbortSignal;
  /** Runner to use; default one from PATH. */
  runner?: FfmpegRunner;
}

/** What a finished poster produced. */
export interface PosterResult {
  /** Output file size. */
  outputBytes: number;
  /** Image width. */
  width: number;
  /** Image height. */
  height: number;
  /** Source time the frame window started at. */
  atSeconds: number;
  /** Mean luma 0-255 of the chosen image (low means dark). */
  meanLuma: number;
}

const DEFAULT_POSTER_WIDTH = 1280;
const DEFAULT_QUALITY = 80;
// Below this mean luma (video black is 16) a frame reads as "black screen", e.g. a fade-in.
const DARK_LUMA = 28;
// Many videos open on black or a fade; a quarter in (at most 3 s) is usually the subject.
const FIRST_CANDIDATE_FRACTION = 0.25;
const FIRST_CANDIDATE_MAX_SECONDS = 3;

/** Writes a WebP poster of a representative (not black) frame of a video. */
export async function extractPoster(input: string, output: string, options: PosterOptions = {}): Promise<PosterResult> {
  const runner = options.runner ?? defaultRunner();
  const source = options.source ?? (await probeMedia(input, runner));
  assertPlayableVideo(source, input);
  const size = fitWidth(source.video, options.maxWidth ?? DEFAULT_POSTER_WIDTH);
  const quality = options.quality ?? DEFAULT_QUALITY;
  const duration = source.durationSeconds;

  const render = async (atSeconds: number, path: string, chooseFrame: boolean): Promise<number> => {
    const command = buildPosterFrameCommand({
      input,
      output: path,
      source,
      size,
      atSeconds,
      chooseFrame,
      quality,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
    });
    await runner.run({ ...command, ...(options.signal ? { signal: options.signal } : {}) });
    return measureMeanLuma(path, runner);
  };

  const candidates = options.atSeconds !== undefined
    ? [clampTime(options.atSeconds, duration)]
    : posterCandidateTimes(duration);
  const written: string[] = [];
  try {
    let best: { path: string; atSeconds: number; luma: number } | undefined;
    for (const [index, atSeconds] of candidates.entries()) {
      const path = `${output}.candidate${index}.part`;
      written.push(path);
      const luma = await render(atSeconds, path, options.atSeconds === undefined);
      if (!best || luma > best.luma) best = { path, atSeconds, luma };
      if (luma >= DARK_LUMA) break;
    }
    if (!best) throw new RangeError('no poster candidate times');
    await rename(best.path, output);
    return {
      outputBytes: await fileSize(output),
      width: size.width,
      height: size.height,
      atSeconds: best.atSeconds,
      meanLuma: Math.round(best.luma * 10) / 10,
    };
  } finally {
    await Promise.all(written.map((path) => rm(path, { force: true })));
  }
}

/** Times to try in order: early-but-not-first, then middle, then late; later ones only if earlier are dark. */
export function posterCandidateTimes(durationSeconds: number): number[] {
  const times = [
    Math.min(durationSeconds * FIRST_CANDIDATE_FRACTION, FIRST_CANDIDATE_MAX_SECONDS),
    durationSeconds * 0.5,
    durationSeconds * 0.75,
  ].map((t) => clampTime(t, durationSeconds));
  return [...new Set(times)];
}

/** Mean luma (0-255) of an image or the first frame of a video, via ffmpeg's signalstats. */
export async function measureMeanLuma(path: string, runner: FfmpegRunner = defaultRunner()): Promise<number> {
  let luma: number | undefined;
  await runner.run({
    ...buildMeanLumaCommand(path),
    onStderrLine: (line) => {
      luma = parseMeanLuma(line) ?? luma;
    },
  });
  if (luma === undefined) throw new Error(`signalstats printed no luma for ${path}`);
  return luma;
}

function clampTime(seconds: number, durationSeconds: number): number {
  // Seeking to the very end yields no frame; stay a little inside the video.
  const latest = Math.max(0, durationSeconds - 0.1);
  return Math.round(Math.min(Math.max(0, seconds), latest) * 1000) / 1000;
}
