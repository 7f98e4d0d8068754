import { rename, rm } from 'node:fs/promises';
import { buildMeanLumaCommand, buildPosterFrameCommand, parseMeanLuma } from './commands.js';
import type { FfmpegRunner } from './ffmpeg-runner.js';
import { type FrameSize, fitWidth } from './geometry.js';
import { fileSize } from './output-file.js';
import { assertPlayableVideo, probeMedia } from './probe.js';
import type { MediaInfo, VideoStreamInfo } from './types.js';

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
  /** The runner that starts ffmpeg (the adapter passes its own). */
  runner: FfmpegRunner;
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

export const DEFAULT_POSTER_WIDTH = 1280;
export const DEFAULT_POSTER_QUALITY = 80;
/** Below this mean luma (video black is 16) a frame reads as "black screen", e.g. a fade-in. */
export const DARK_LUMA = 28;
// Many videos open on black or a fade; a quarter in (at most 3 s) is usually the subject.
const FIRST_CANDIDATE_FRACTION = 0.25;
const FIRST_CANDIDATE_MAX_SECONDS = 3;

/** Writes a WebP poster of a representative (not black) frame of a video. */
export async function extractPoster(input: string, output: string, options: PosterOptions): Promise<PosterResult> {
  const { runner } = options;
  const source = options.source ?? (await probeMedia(input, runner));
  assertPlayableVideo(source, input);
  const duration = source.durationSeconds;
  const times = options.atSeconds !== undefined ? [clampTime(options.atSeconds, duration)] : posterCandidateTimes(duration);
  return renderPosterCandidates({
    input,
    output,
    source,
    size: fitWidth(source.video, options.maxWidth ?? DEFAULT_POSTER_WIDTH),
    quality: options.quality ?? DEFAULT_POSTER_QUALITY,
    chooseFrame: options.atSeconds === undefined,
    times,
    runner,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** A poster candidate already rendered (to a `.part` file) and measured. */
export interface RenderedCandidate {
  /** Where it was written; renamed to the poster's name if it is chosen, removed otherwise. */
  path: string;
  /** Source time its frame window started at. */
  atSeconds: number;
  /** Its mean luma 0-255. */
  luma: number;
}

/** What renderPosterCandidates needs: the poster's settings, the times to try, and a candidate rendered before, if any. */
export interface PosterCandidatesParameters {
  input: string;
  output: string;
  source: MediaInfo & { video: VideoStreamInfo };
  /** Poster frame size (already fitted). */
  size: FrameSize;
  /** libwebp quality 0-100. */
  quality: number;
  /** Pick the most typical frame of a ~1 s window at each time. */
  chooseFrame: boolean;
  /** Times to render, in order, until one is not dark. */
  times: readonly number[];
  /** A candidate rendered elsewhere (the one-run cut's first), competing with the rendered ones. */
  earlier?: RenderedCandidate;
  threads?: number;
  signal?: AbortSignal;
  runner: FfmpegRunner;
}

/**
 * Renders candidates in order until one is not dark, then keeps the brightest one rendered (the
 * earlier one included) under the poster's name; every other `.part` file is removed.
 */
export async function renderPosterCandidates(parameters: PosterCandidatesParameters): Promise<PosterResult> {
  const { input, output, source, size, quality, runner } = parameters;
  const written: string[] = parameters.earlier ? [parameters.earlier.path] : [];
  try {
    let best = parameters.earlier;
    for (const [index, atSeconds] of parameters.times.entries()) {
      if (best && best.luma >= DARK_LUMA) break;
      const path = `${output}.candidate${index}.part`;
      written.push(path);
      const command = buildPosterFrameCommand({
        input,
        output: path,
        source,
        size,
        atSeconds,
        chooseFrame: parameters.chooseFrame,
        quality,
        ...(parameters.threads === undefined ? {} : { threads: parameters.threads }),
      });
      await runner.run({ ...command, ...(parameters.signal ? { signal: parameters.signal } : {}) });
      const luma = await measureMeanLuma(path, runner);
      if (!best || luma > best.luma) best = { path, atSeconds, luma };
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
  const times = [Math.min(durationSeconds * FIRST_CANDIDATE_FRACTION, FIRST_CANDIDATE_MAX_SECONDS), durationSeconds * 0.5, durationSeconds * 0.75].map((t) =>
    clampTime(t, durationSeconds),
  );
  return [...new Set(times)];
}

/** Mean luma (0-255) of an image or the first frame of a video, via ffmpeg's signalstats. */
export async function measureMeanLuma(path: string, runner: FfmpegRunner): Promise<number> {
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
