import { rename, rm } from 'node:fs/promises';
import { buildPreviewAndPosterCommand, parseMeanLuma } from './commands.js';
import { fitShortSide, fitWidth } from './geometry.js';
import { fileSize } from './output-file.js';
import { DARK_LUMA, DEFAULT_POSTER_QUALITY, DEFAULT_POSTER_WIDTH, type PosterResult, posterCandidateTimes, renderPosterCandidates } from './poster.js';
import { DEFAULT_PREVIEW_FPS, DEFAULT_PREVIEW_HEIGHT, type PreviewOptions, type PreviewResult } from './preview.js';
import { assertPlayableVideo, probeMedia } from './probe.js';

/** Settings for the preview clip and the poster cut together. */
export interface PreviewAndPosterOptions extends PreviewOptions {
  /** Poster width cap; default 1280. */
  posterMaxWidth?: number;
  /** Poster libwebp quality 0-100; default 80. */
  posterQuality?: number;
}

/** What a finished cut produced. */
export interface PreviewAndPosterResult {
  preview: PreviewResult;
  poster: PosterResult;
  /** True when the first poster candidate was dark and later ones were rendered (extractPoster's way). */
  posterFallback: boolean;
}

/**
 * Cuts the preview clip (as extractPreview) and the poster (as extractPoster) with one ffmpeg run
 * over the video's first seconds: one decode feeds both, and the poster's first candidate is measured
 * in the same run. Only when that frame is dark are the later candidates rendered, one run each.
 * Both files are written as `.part` and renamed when complete, so a crash leaves neither half-written.
 */
export async function extractPreviewAndPoster(
  input: string,
  previewOutput: string,
  posterOutput: string,
  options: PreviewAndPosterOptions,
): Promise<PreviewAndPosterResult> {
  if (!(options.seconds > 0)) throw new RangeError(`preview seconds must be > 0, got ${options.seconds}`);
  const { runner } = options;
  const source = options.source ?? (await probeMedia(input, runner));
  assertPlayableVideo(source, input);
  const previewSize = fitShortSide(source.video, options.maxHeight ?? DEFAULT_PREVIEW_HEIGHT);
  const posterSize = fitWidth(source.video, options.posterMaxWidth ?? DEFAULT_POSTER_WIDTH);
  const quality = options.posterQuality ?? DEFAULT_POSTER_QUALITY;
  const [firstTime, ...laterTimes] = posterCandidateTimes(source.durationSeconds);
  if (firstTime === undefined) throw new RangeError('no poster candidate times');
  const previewPart = `${previewOutput}.part`;
  const posterPart = `${posterOutput}.part`;
  const signal = options.signal ? { signal: options.signal } : {};

  try {
    const command = buildPreviewAndPosterCommand({
      input,
      previewOutput: previewPart,
      posterOutput: posterPart,
      source,
      size: previewSize,
      posterSize,
      seconds: options.seconds,
      threads: options.threads,
      maxFps: options.maxFps ?? DEFAULT_PREVIEW_FPS,
      posterAtSeconds: firstTime,
      chooseFrame: true,
      quality,
      ...(options.codec ? { codec: options.codec } : {}),
      ...(options.videoBitrateKbps === undefined ? {} : { videoBitrateKbps: options.videoBitrateKbps }),
      ...(options.speed ? { speed: options.speed } : {}),
    });
    let luma: number | undefined;
    const run = await runner.run({
      ...command,
      ...signal,
      onStderrLine: (line) => {
        luma ??= parseMeanLuma(line);
      },
    });
    await rename(previewPart, previewOutput);

    const candidates = { input, output: posterOutput, source, size: posterSize, quality, chooseFrame: true, threads: options.threads, runner, ...signal };
    // A poster frame that printed no luma (no frame at that time) is rendered again the separate way,
    // which fails with a clear error if it cannot be made either.
    const choosePoster = async (): Promise<PosterResult> => {
      if (luma === undefined) return renderPosterCandidates({ ...candidates, times: [firstTime, ...laterTimes] });
      if (luma < DARK_LUMA) return renderPosterCandidates({ ...candidates, times: laterTimes, earlier: { path: posterPart, atSeconds: firstTime, luma } });
      await rename(posterPart, posterOutput);
      return {
        outputBytes: await fileSize(posterOutput),
        width: posterSize.width,
        height: posterSize.height,
        atSeconds: firstTime,
        meanLuma: Math.round(luma * 10) / 10,
      };
    };
    // The preview's probe (its exact duration, and a check it is readable) runs beside any fallback.
    const [produced, poster] = await Promise.all([probeMedia(previewOutput, runner), choosePoster()]);
    return {
      preview: {
        outputBytes: await fileSize(previewOutput),
        durationSeconds: produced.durationSeconds,
        width: produced.video?.width ?? previewSize.width,
        height: produced.video?.height ?? previewSize.height,
        wallSeconds: Math.round(run.wallSeconds * 1000) / 1000,
      },
      poster,
      posterFallback: luma === undefined || luma < DARK_LUMA,
    };
  } finally {
    await Promise.all([rm(previewPart, { force: true }), rm(posterPart, { force: true })]);
  }
}
