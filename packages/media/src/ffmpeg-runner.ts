import ffmpeg from 'fluent-ffmpeg';
import type { FfprobeData } from 'fluent-ffmpeg';
import { MediaError, type MediaErrorCode } from './errors.js';

/** How every ffmpeg/ffprobe process of this adapter is started. */
export interface FfmpegRunnerOptions {
  /** ffmpeg binary; default: FFMPEG_PATH resolution of fluent-ffmpeg, then PATH. */
  ffmpegPath?: string;
  /** ffprobe binary; default: FFPROBE_PATH resolution of fluent-ffmpeg, then PATH. */
  ffprobePath?: string;
  /** Process niceness 0..19, so encodes yield the CPU to the service's own event loop. */
  niceness?: number;
  /** Kill ffmpeg after this many seconds; default none. */
  timeoutSeconds?: number;
  /** How many stderr lines to keep for error details; default 40. */
  stderrTailLines?: number;
}

/** A progress report, percent already clamped to 0-100. */
export interface FfmpegProgress {
  /** 0-100, from the output time against the known duration. */
  percent: number;
  /** Output position in seconds. */
  outTimeSeconds: number;
  /** Frames written so far. */
  frames: number;
}

/** One ffmpeg invocation: a single input file to a single output file. */
export interface FfmpegJob {
  /** Input file. */
  input: string;
  /** Options placed before `-i` (e.g. `-ss` for a fast seek). */
  inputOptions?: readonly string[];
  /** Output file. */
  output: string;
  /** Options placed before the output file; each flag and value its own element. */
  outputOptions: readonly string[];
  /** Duration the output is expected to have, to turn out_time into a percent. */
  expectedDurationSeconds?: number;
  /** Called as ffmpeg reports progress. */
  onProgress?: (progress: FfmpegProgress) => void;
  /** Called with every stderr line (for filters that print measurements). */
  onStderrLine?: (line: string) => void;
  /** Aborting kills ffmpeg and rejects with code 'aborted'. */
  signal?: AbortSignal;
}

/** What a finished ffmpeg run reports. */
export interface FfmpegRunResult {
  /** Wall-clock seconds the process ran. */
  wallSeconds: number;
  /** Frames ffmpeg reported written (0 for audio-only or unknown). */
  frames: number;
  /** ffmpeg hit the end of the input's data before the end its headers promised. */
  inputTruncated: boolean;
}

const DEFAULT_STDERR_TAIL_LINES = 40;

// Substrings of ffmpeg's stderr meaning the input stops before its headers say it ends (an upload
// cut short). ffmpeg only warns and exits 0, so a run watches for them.
const TRUNCATED_MARKERS = ['moov atom not found', ': partial file', 'File ended prematurely'];

// Substrings of ffmpeg's stderr meaning the input itself is broken; retrying cannot help.
const UNDECODABLE_MARKERS = [
  'Invalid data found when processing input',
  'could not find codec parameters',
  'Decoder (codec',
  'corrupt input packet',
];

/** Owns how ffmpeg and ffprobe run: binaries, niceness, timeout, progress, stderr tail on errors. */
export class FfmpegRunner {
  readonly options: Readonly<FfmpegRunnerOptions>;

  constructor(options: FfmpegRunnerOptions = {}) {
    if (options.niceness !== undefined && (options.niceness < 0 || options.niceness > 19)) {
      // Negative niceness needs root and fluent-ffmpeg would silently fail to apply it.
      throw new RangeError(`niceness must be 0..19, got ${options.niceness}`);
    }
    this.options = { ...options };
  }

  /** Runs ffprobe and returns its raw stream/format data. */
  probe(path: string): Promise<FfprobeData> {
    return new Promise((resolve, reject) => {
      const command = this.createCommand(path);
      // -v error keeps stderr to the actual complaint, which becomes the error's stderrTail.
      command.ffprobe(['-hide_banner', '-v', 'error'], (err: Error | null, data: FfprobeData) => {
        if (err) {
          reject(this.toProbeError(path, err));
          return;
        }
        resolve(data);
      });
    });
  }

  /** Runs one ffmpeg job to completion; rejects with a MediaError carrying the stderr tail. */
  run(job: FfmpegJob): Promise<FfmpegRunResult> {
    return new Promise((resolve, reject) => {
      if (job.signal?.aborted) {
        reject(new MediaError('aborted', 'ffmpeg run aborted before start', { path: job.input }));
        return;
      }
      const command = this.createCommand(job.input, true);
      if (job.inputOptions && job.inputOptions.length > 0) {
        // Spread form: fluent-ffmpeg splits a single array argument on spaces, which breaks filter strings.
        command.inputOptions(...(job.inputOptions as string[]));
      }
      command.output(job.output);
      if (job.outputOptions.length > 0) command.outputOptions(...(job.outputOptions as string[]));

      const started = process.hrtime.bigint();
      const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
      let frames = 0;
      let lastPercent = -1;
      let aborted = false;
      let inputTruncated = false;

      const onAbort = (): void => {
        aborted = true;
        command.kill('SIGKILL');
      };
      job.signal?.addEventListener('abort', onAbort, { once: true });

      command.on('stderr', (line: string) => {
        job.onStderrLine?.(line);
        if (!inputTruncated && isTruncationLine(line)) inputTruncated = true;
        const report = parseProgressLine(line);
        if (!report) return;
        frames = report.frames ?? frames;
        if (job.onProgress && job.expectedDurationSeconds && report.outTimeSeconds !== undefined) {
          const percent = clampPercent((report.outTimeSeconds / job.expectedDurationSeconds) * 100);
          // Never report backwards: ffmpeg's time can jitter at stream ends.
          if (percent <= lastPercent) return;
          lastPercent = percent;
          job.onProgress({ percent, outTimeSeconds: report.outTimeSeconds, frames });
        }
      });
      command.on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
        job.signal?.removeEventListener('abort', onAbort);
        reject(this.toRunError(job, err, stderr ?? '', aborted));
      });
      command.on('end', () => {
        job.signal?.removeEventListener('abort', onAbort);
        resolve({ wallSeconds: elapsed(), frames, inputTruncated });
      });
      command.run();
    });
  }

  private createCommand(input: string, forRun = false): ffmpeg.FfmpegCommand {
    const command = ffmpeg({
      source: input,
      stdoutLines: this.options.stderrTailLines ?? DEFAULT_STDERR_TAIL_LINES,
      ...(forRun && this.options.niceness ? { niceness: this.options.niceness } : {}),
      ...(forRun && this.options.timeoutSeconds ? { timeout: this.options.timeoutSeconds } : {}),
    });
    if (this.options.ffmpegPath) command.setFfmpegPath(this.options.ffmpegPath);
    if (this.options.ffprobePath) command.setFfprobePath(this.options.ffprobePath);
    return command;
  }

  private toProbeError(path: string, err: Error): MediaError {
    const stderrTail = tailLines(err.message, this.options.stderrTailLines ?? DEFAULT_STDERR_TAIL_LINES);
    if (isSpawnFailure(err)) {
      return new MediaError('ffmpeg_unavailable', 'ffprobe could not be started', { path, stderrTail, cause: err });
    }
    if (isTruncationLine(err.message)) {
      return new MediaError('truncated', 'file is truncated: its index is missing (upload cut short?)', { path, stderrTail, cause: err });
    }
    return new MediaError('not_media', 'file is not a readable media file', { path, stderrTail, cause: err });
  }

  private toRunError(job: FfmpegJob, err: Error, stderr: string, aborted: boolean): MediaError {
    const stderrTail = tailLines(stderr, this.options.stderrTailLines ?? DEFAULT_STDERR_TAIL_LINES);
    const details = { path: job.input, stderrTail, cause: err };
    let code: MediaErrorCode = 'ffmpeg_failed';
    if (aborted) code = 'aborted';
    else if (isSpawnFailure(err)) code = 'ffmpeg_unavailable';
    else if (err.message.includes('timeout')) code = 'timeout';
    else if (isTruncationLine(stderr)) code = 'truncated';
    else if (UNDECODABLE_MARKERS.some((marker) => stderr.includes(marker))) code = 'undecodable';
    const summary = lastMeaningfulLine(stderrTail) ?? err.message;
    return new MediaError(code, `ffmpeg failed (${code}): ${summary}`, details);
  }
}

interface ProgressLine {
  frames?: number;
  outTimeSeconds?: number;
}

/** Parses ffmpeg's `frame=... time=HH:MM:SS.xx ...` stats line. */
export function parseProgressLine(line: string): ProgressLine | undefined {
  const time = /time=\s*(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(line);
  const frame = /frame=\s*(\d+)/.exec(line);
  if (!time && !frame) return undefined;
  const result: ProgressLine = {};
  if (frame?.[1] !== undefined) result.frames = Number(frame[1]);
  if (time) {
    const seconds = Number(time[2]) * 3600 + Number(time[3]) * 60 + Number(time[4]);
    // A negative time happens with leading negative timestamps; it means "nothing yet".
    result.outTimeSeconds = time[1] === '-' ? 0 : seconds;
  }
  return result;
}

/** Clamps a percent to 0-100 with one decimal. */
export function clampPercent(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.round(Math.min(100, Math.max(0, value)) * 10) / 10;
}

function isTruncationLine(text: string): boolean {
  return TRUNCATED_MARKERS.some((marker) => text.includes(marker));
}

function isSpawnFailure(err: Error): boolean {
  return /ENOENT|Cannot find ff(mpeg|probe)|spawn/.test(err.message);
}

function tailLines(text: string, count: number): string {
  return text.split(/\r\n|\r|\n/).filter((line) => line.trim() !== '').slice(-count).join('\n');
}

function lastMeaningfulLine(text: string): string | undefined {
  const lines = text.split('\n').filter((line) => !/^\s*(frame=|size=|video:|Conversion failed!)/.test(line));
  return lines.at(-1);
}
