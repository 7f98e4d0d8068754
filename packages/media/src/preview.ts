import type { CodecConfig, EncoderSpeed } from './codecs.js';
import { buildPreviewCommand } from './commands.js';
import type { FfmpegRunner } from './ffmpeg-runner.js';
import { fitShortSide } from './geometry.js';
import { fileSize, writeAtomically } from './output-file.js';
import { assertPlayableVideo, probeMedia } from './probe.js';
import type { MediaInfo } from './types.js';

/** Settings for a preview clip. */
export interface PreviewOptions {
  /** Clip length; a shorter video gives a clip of its whole length. */
  seconds: number;
  /** Cap on the short side; default 480. */
  maxHeight?: number;
  /** Encoder threads. */
  threads: number;
  /** Video bitrate; default from bitrateForHeight. */
  videoBitrateKbps?: number;
  /** Overrides of the codec's preview speed profile. */
  speed?: Partial<EncoderSpeed>;
  /** Frame-rate cap; default 30, a preview needs no more. */
  maxFps?: number;
  /** The source's probe, if the caller already has it. */
  source?: MediaInfo;
  /** Aborting kills ffmpeg. */
  signal?: AbortSignal;
  /** The runner that starts ffmpeg (the adapter passes its own). */
  runner: FfmpegRunner;
  /** Codec; default VP9 WebM. */
  codec?: CodecConfig;
}

/** What a finished preview produced. */
export interface PreviewResult {
  /** Output file size. */
  outputBytes: number;
  /** Clip duration from ffprobe. */
  durationSeconds: number;
  /** Clip width. */
  width: number;
  /** Clip height. */
  height: number;
  /** Wall-clock seconds ffmpeg ran. */
  wallSeconds: number;
}

export const DEFAULT_PREVIEW_HEIGHT = 480;
export const DEFAULT_PREVIEW_FPS = 30;

/** Cuts a muted, small VP9 WebM clip of the first `seconds` of a video, for autoplaying loops. */
export async function extractPreview(input: string, output: string, options: PreviewOptions): Promise<PreviewResult> {
  if (!(options.seconds > 0)) throw new RangeError(`preview seconds must be > 0, got ${options.seconds}`);
  const { runner } = options;
  const source = options.source ?? (await probeMedia(input, runner));
  assertPlayableVideo(source, input);
  const size = fitShortSide(source.video, options.maxHeight ?? DEFAULT_PREVIEW_HEIGHT);
  const command = buildPreviewCommand({
    input,
    output,
    source,
    size,
    seconds: options.seconds,
    threads: options.threads,
    maxFps: options.maxFps ?? DEFAULT_PREVIEW_FPS,
    ...(options.codec ? { codec: options.codec } : {}),
    ...(options.videoBitrateKbps === undefined ? {} : { videoBitrateKbps: options.videoBitrateKbps }),
    ...(options.speed ? { speed: options.speed } : {}),
  });

  const run = await writeAtomically(output, (partPath) => runner.run({ ...command, output: partPath, ...(options.signal ? { signal: options.signal } : {}) }));
  const produced = await probeMedia(output, runner);
  return {
    outputBytes: await fileSize(output),
    durationSeconds: produced.durationSeconds,
    width: produced.video?.width ?? size.width,
    height: produced.video?.height ?? size.height,
    wallSeconds: Math.round(run.wallSeconds * 1000) / 1000,
  };
}
