import { type CodecConfig, type EncoderSpeed, vp9Codec } from './codecs.js';
import { buildTranscodeCommand } from './commands.js';
import { MediaError } from './errors.js';
import type { FfmpegRunner, FfmpegRunResult } from './ffmpeg-runner.js';
import { fitShortSide } from './geometry.js';
import { fileSize, writeAtomically } from './output-file.js';
import { assertPlayableVideo, probeMedia } from './probe.js';
import type { MediaInfo } from './types.js';

/** Settings for a full transcode. */
export interface TranscodeOptions {
  /** Cap on the output's short side (720 = "720p"; a portrait video is capped by width). Never upscales. */
  maxHeight: number;
  /** Video bitrate; default from bitrateForHeight of the output's short side. */
  videoBitrateKbps?: number;
  /** Encoder threads. */
  threads: number;
  /** Opus bitrate; default 128. */
  audioBitrateKbps?: number;
  /** Overrides of the codec's default speed profile. */
  speed?: Partial<EncoderSpeed>;
  /** Frame-rate cap (slow-motion 240 fps phone clips); default 60. */
  maxFps?: number;
  /** The source's probe, if the caller already has it; saves one ffprobe run. */
  source?: MediaInfo;
  /** Aborting kills ffmpeg (e.g. on shutdown). */
  signal?: AbortSignal;
  /** Kill ffmpeg after this many seconds; the caller scales it to the source (default: the runner's). */
  timeoutSeconds?: number;
  /** The runner that starts ffmpeg (the adapter passes its own). */
  runner: FfmpegRunner;
}

/** Progress callback: percent 0-100, never decreasing. */
export type ProgressListener = (percent: number) => void;

/** What a finished transcode produced. */
export interface TranscodeResult {
  /** Output file size. */
  outputBytes: number;
  /** Output duration from ffprobe. */
  durationSeconds: number;
  /** Output width. */
  width: number;
  /** Output height. */
  height: number;
  /** Encoding speed achieved: frames per wall-clock second. */
  fps: number;
  /** Wall-clock seconds ffmpeg ran. */
  wallSeconds: number;
}

const DEFAULT_AUDIO_KBPS = 128;
const DEFAULT_MAX_FPS = 60;

/** Transcodes a video to VP9 + Opus WebM, upright, 8-bit, seekable while downloading. */
export function transcodeToVp9(input: string, output: string, options: TranscodeOptions, onProgress?: ProgressListener): Promise<TranscodeResult> {
  return transcodeWithCodec(vp9Codec, input, output, options, onProgress);
}

/** Transcodes with any codec config; transcodeToVp9 is this with VP9. */
export async function transcodeWithCodec(
  codec: CodecConfig,
  input: string,
  output: string,
  options: TranscodeOptions,
  onProgress?: ProgressListener,
): Promise<TranscodeResult> {
  const { runner } = options;
  const source = options.source ?? (await probeMedia(input, runner));
  assertPlayableVideo(source, input);
  const size = fitShortSide(source.video, options.maxHeight);
  const command = buildTranscodeCommand({
    input,
    output,
    source,
    size,
    threads: options.threads,
    maxFps: options.maxFps ?? DEFAULT_MAX_FPS,
    audioBitrateKbps: options.audioBitrateKbps ?? DEFAULT_AUDIO_KBPS,
    codec,
    ...(options.videoBitrateKbps === undefined ? {} : { videoBitrateKbps: options.videoBitrateKbps }),
    ...(options.speed ? { speed: options.speed } : {}),
  });

  const report = onProgress ? monotonic(onProgress) : undefined;
  const { run, produced } = await writeAtomically(output, async (partPath) => {
    const run = await runner.run({
      ...command,
      output: partPath,
      ...(report ? { onProgress: (p) => report(p.percent) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}),
    });
    const produced = await probeMedia(partPath, runner);
    assertWholeInputEncoded(source, produced, run, input);
    return { run, produced };
  });
  // ffmpeg's last stats line can stop short of the duration; done is done.
  report?.(100);

  return {
    outputBytes: await fileSize(output),
    durationSeconds: produced.durationSeconds,
    width: produced.video?.width ?? size.width,
    height: produced.video?.height ?? size.height,
    fps: run.wallSeconds > 0 ? Math.round((run.frames / run.wallSeconds) * 10) / 10 : 0,
    wallSeconds: Math.round(run.wallSeconds * 1000) / 1000,
  };
}

// Containers round durations and audio may outlast video by a frame or two: allow this much missing.
const DURATION_SLACK_SECONDS = 0.5;
const DURATION_SLACK_FRACTION = 0.05;

/**
 * ffmpeg exits 0 on an upload that was cut short (it warns and encodes what is there), so a
 * transcode is only done when the output covers the duration the source's headers promised.
 */
export function assertWholeInputEncoded(source: MediaInfo, produced: MediaInfo, run: Pick<FfmpegRunResult, 'inputTruncated'>, path: string): void {
  if (!produced.video || produced.durationSeconds <= 0) {
    throw new MediaError('undecodable', 'no frame of the video could be decoded', { path });
  }
  const missing = source.durationSeconds - produced.durationSeconds;
  const slack = Math.max(DURATION_SLACK_SECONDS, source.durationSeconds * DURATION_SLACK_FRACTION);
  if (run.inputTruncated || missing > slack) {
    throw new MediaError(
      'truncated',
      `file is truncated or damaged: only ${produced.durationSeconds.toFixed(1)} s of its ${source.durationSeconds.toFixed(1)} s could be read`,
      { path },
    );
  }
}

function monotonic(listener: ProgressListener): ProgressListener {
  let last = -1;
  return (percent) => {
    if (percent <= last) return;
    last = percent;
    listener(percent);
  };
}
