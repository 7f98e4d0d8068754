import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { FfprobeData } from 'fluent-ffmpeg';
import ffmpeg from 'fluent-ffmpeg';
import { buildPacketProbeArgs, buildProbeOptions, type FfmpegCommand, type PacketSummary, parsePacketProbe } from './commands.js';
import { MediaError, type MediaErrorCode } from './errors.js';

const execFileAsync = promisify(execFile);

/** How every ffmpeg/ffprobe process of this adapter is started and watched. */
export interface FfmpegRunnerOptions {
  /** ffmpeg binary (FFMPEG_PATH in the media configuration); default `ffmpeg` from PATH. */
  ffmpegPath?: string;
  /** ffprobe binary (FFPROBE_PATH in the media configuration); default `ffprobe` from PATH. */
  ffprobePath?: string;
  /** Process niceness 0..19, so encodes yield the CPU to the service's own event loop. */
  niceness?: number;
  /** Kill ffmpeg after this many seconds unless a job sets its own; default none. */
  timeoutSeconds?: number;
  /** Kill ffmpeg when its progress (frames, output time) has not moved for this long; default 60. */
  stallSeconds?: number;
  /** Runs of one command ended by the stall watchdog before it fails with `stalled`; default 2. */
  stallAttempts?: number;
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

/** One ffmpeg run: a built command plus how to follow it. */
export interface FfmpegJob extends Omit<FfmpegCommand, 'inputOptions'> {
  /** Options placed before `-i`. */
  inputOptions?: readonly string[];
  /** Called as ffmpeg reports progress. */
  onProgress?: (progress: FfmpegProgress) => void;
  /** Called with every stderr line (for filters that print measurements). */
  onStderrLine?: (line: string) => void;
  /** Aborting kills ffmpeg and rejects with code 'aborted'. */
  signal?: AbortSignal;
  /** Kill ffmpeg after this many seconds (overrides the runner's); the caller scales it to the work. */
  timeoutSeconds?: number;
}

/** What a finished ffmpeg run reports. */
export interface FfmpegRunResult {
  /** Wall-clock seconds the process ran (the last attempt). */
  wallSeconds: number;
  /** Frames ffmpeg reported written (0 for audio-only or unknown). */
  frames: number;
  /** ffmpeg hit the end of the input's data before the end its headers promised. */
  inputTruncated: boolean;
  /** Runs it took: more than 1 when the stall watchdog killed a hung one. */
  attempts: number;
}

/** What ffmpeg can do on this host, for health checks. */
export interface FfmpegInfo {
  /** ffmpeg version string (e.g. "5.1.6-0+deb12u1"). */
  version: string;
  /** Names of the encoders this build has. */
  encoders: Set<string>;
}

const DEFAULT_STDERR_TAIL_LINES = 40;
const DEFAULT_STALL_SECONDS = 60;
const DEFAULT_STALL_ATTEMPTS = 2;
const INFO_TIMEOUT_MS = 10_000;

// Substrings of ffmpeg's stderr meaning the input stops before its headers say it ends (an upload
// cut short). ffmpeg only warns and exits 0, so a run watches for them.
const TRUNCATED_MARKERS = ['moov atom not found', ': partial file', 'File ended prematurely'];

// Substrings of ffmpeg's stderr meaning the input itself is broken; retrying cannot help.
const UNDECODABLE_MARKERS = ['Invalid data found when processing input', 'could not find codec parameters', 'Decoder (codec', 'corrupt input packet'];

// The staging volume failed to give the file (a flaky network mount, a file not visible yet on this
// node): worth another try, never a verdict on the upload.
const IO_ERROR_MARKERS = ['No such file or directory', 'Input/output error', 'Stale file handle', 'Resource temporarily unavailable'];

// ffmpeg names the demuxer it refused: "[hls @ 0x55...] Format not on whitelist 'mov,...'".
const NOT_ALLOWED = /\[(\w+) @ [^\]]+\] Format not on whitelist/;
// ffmpeg 7.1 and later no longer take a file named other than .m3u8 for an HLS playlist by its
// content: they say so, and the mp4 demuxer then fails on the text ("moov atom not found"), which
// would otherwise read as an upload cut short.
const HLS_NOT_DETECTED = 'Not detecting m3u8/hls with non standard extension';

/** The playlist or reference format ffmpeg's stderr says it refused, if any. */
function refusedFormat(stderr: string): string | undefined {
  return NOT_ALLOWED.exec(stderr)?.[1] ?? (stderr.includes(HLS_NOT_DETECTED) ? 'hls' : undefined);
}

/**
 * The one place ffmpeg and ffprobe run: binaries, niceness, time limits, a watchdog that ends a run
 * whose progress stopped (and runs it again), progress, and the stderr tail on errors.
 */
export class FfmpegRunner {
  readonly options: Readonly<FfmpegRunnerOptions>;

  constructor(options: FfmpegRunnerOptions = {}) {
    if (options.niceness !== undefined && (options.niceness < 0 || options.niceness > 19)) {
      // Negative niceness needs root and fluent-ffmpeg would silently fail to apply it.
      throw new RangeError(`niceness must be 0..19, got ${options.niceness}`);
    }
    if (options.stallSeconds !== undefined && !(options.stallSeconds > 0)) throw new RangeError(`stallSeconds must be > 0, got ${options.stallSeconds}`);
    if (options.stallAttempts !== undefined && !(options.stallAttempts >= 1)) throw new RangeError(`stallAttempts must be >= 1, got ${options.stallAttempts}`);
    this.options = { ...options };
  }

  /**
   * Runs ffprobe (file protocol, allowed demuxers only) and returns its raw stream/format data.
   * A probe that has not answered within `stallSeconds` is killed (`stalled`, retryable): reading a
   * FIFO or a hung mount must not hold the job either.
   */
  async probe(path: string): Promise<FfprobeData> {
    const limitSeconds = this.options.stallSeconds ?? DEFAULT_STALL_SECONDS;
    try {
      const { stdout } = await execFileAsync(this.ffprobeBinary(), [...buildProbeOptions(), '-print_format', 'json', '-show_format', '-show_streams', path], {
        timeout: limitSeconds * 1000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      });
      return normaliseProbe(JSON.parse(stdout) as Partial<FfprobeData>);
    } catch (error) {
      const failure = error as Error & { stderr?: string; killed?: boolean; code?: unknown };
      if (failure.killed) {
        return Promise.reject(new MediaError('stalled', `ffprobe did not answer within ${limitSeconds} s and was stopped`, { path, cause: error }));
      }
      const message =
        failure.code === 'ENOENT'
          ? `spawn ${this.ffprobeBinary()} ENOENT`
          : failure.stderr
            ? `ffprobe exited with code ${String(failure.code)}\n${failure.stderr}`
            : failure.message;
      return Promise.reject(this.toProbeError(path, Object.assign(new Error(message), { cause: error })));
    }
  }

  /** A file's video packets and keyframe times (ffprobe reads packets only, nothing is decoded). */
  async probePackets(path: string): Promise<PacketSummary> {
    const limitSeconds = this.options.stallSeconds ?? DEFAULT_STALL_SECONDS;
    try {
      const { stdout } = await execFileAsync(this.ffprobeBinary(), buildPacketProbeArgs(path), {
        timeout: limitSeconds * 1000,
        killSignal: 'SIGKILL',
        maxBuffer: 256 * 1024 * 1024,
      });
      return parsePacketProbe(stdout);
    } catch (error) {
      const failure = error as Error & { stderr?: string; killed?: boolean; code?: unknown };
      if (failure.killed) throw new MediaError('stalled', `ffprobe did not answer within ${limitSeconds} s and was stopped`, { path, cause: error });
      const message = failure.stderr ? `ffprobe exited with code ${String(failure.code)}\n${failure.stderr}` : failure.message;
      throw this.toProbeError(path, Object.assign(new Error(message), { cause: error }));
    }
  }

  /**
   * ffmpeg's version and encoders (health checks go through the runner like everything else). It
   * also has fluent-ffmpeg list the formats and encoders it checks before a process's first command
   * (two more ffmpeg runs, 0.5-0.7 s here, kept for the process's life), so the start-up check pays
   * that instead of the first job: on a fresh replica that job is a listing's first-playable cut.
   */
  async info(): Promise<FfmpegInfo> {
    const ffmpegBinary = this.ffmpegBinary();
    const [{ stdout: versionText }, , { stdout: encoderText }] = await Promise.all([
      execFileAsync(ffmpegBinary, ['-hide_banner', '-version'], { timeout: INFO_TIMEOUT_MS }),
      execFileAsync(this.ffprobeBinary(), ['-hide_banner', '-version'], { timeout: INFO_TIMEOUT_MS }),
      execFileAsync(ffmpegBinary, ['-hide_banner', '-encoders'], { timeout: INFO_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }),
    ]);
    await this.loadCapabilities();
    const version = /ffmpeg version (\S+)/.exec(versionText)?.[1] ?? versionText.split('\n')[0] ?? 'unknown';
    return { version, encoders: parseEncoderList(encoderText) };
  }

  /** Has fluent-ffmpeg read (once per process; it keeps them) the formats and encoders it checks every command against. */
  private loadCapabilities(): Promise<void> {
    const command = this.createCommand('-');
    return new Promise((resolve, reject) => {
      command.availableFormats((formatsError) => {
        if (formatsError) return reject(formatsError);
        command.availableEncoders((encodersError) => (encodersError ? reject(encodersError) : resolve()));
      });
    });
  }

  /**
   * Runs one ffmpeg job to completion; rejects with a MediaError carrying the stderr tail. A run
   * whose progress stops for `stallSeconds` is killed and started again, up to `stallAttempts` runs.
   */
  async run(job: FfmpegJob): Promise<FfmpegRunResult> {
    const attempts = this.options.stallAttempts ?? DEFAULT_STALL_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      try {
        return { ...(await this.runOnce(job)), attempts: attempt };
      } catch (error) {
        if (!(error instanceof MediaError) || error.code !== 'stalled' || attempt >= attempts) throw error;
      }
    }
  }

  private runOnce(job: FfmpegJob): Promise<Omit<FfmpegRunResult, 'attempts'>> {
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
      for (const extra of job.extraInputs ?? []) {
        // fluent-ffmpeg applies input options to the input added last.
        command.input(extra.input);
        if (extra.inputOptions.length > 0) command.inputOptions(...extra.inputOptions);
      }
      command.output(job.output);
      if (job.outputOptions.length > 0) command.outputOptions(...(job.outputOptions as string[]));
      for (const extra of job.extraOutputs ?? []) {
        // Likewise, output options apply to the output added last.
        command.output(extra.output);
        if (extra.outputOptions.length > 0) command.outputOptions(...extra.outputOptions);
      }

      const started = process.hrtime.bigint();
      const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
      let frames = 0;
      let outTime = 0;
      let lastPercent = -1;
      let killedFor: 'aborted' | 'stalled' | 'timeout' | undefined;
      let inputTruncated = false;
      let lastMove = Date.now();

      const kill = (reason: 'aborted' | 'stalled' | 'timeout'): void => {
        killedFor ??= reason;
        command.kill('SIGKILL');
      };
      const onAbort = (): void => kill('aborted');
      job.signal?.addEventListener('abort', onAbort, { once: true });
      const stallMs = (this.options.stallSeconds ?? DEFAULT_STALL_SECONDS) * 1000;
      const watchdog = setInterval(
        () => {
          if (Date.now() - lastMove >= stallMs) kill('stalled');
        },
        Math.min(1000, Math.max(50, stallMs / 4)),
      );
      const timeoutSeconds = job.timeoutSeconds ?? this.options.timeoutSeconds;
      const deadline = timeoutSeconds ? setTimeout(() => kill('timeout'), timeoutSeconds * 1000) : undefined;
      const cleanUp = (): void => {
        clearInterval(watchdog);
        if (deadline) clearTimeout(deadline);
        job.signal?.removeEventListener('abort', onAbort);
      };

      command.on('stderr', (line: string) => {
        job.onStderrLine?.(line);
        if (!inputTruncated && isTruncationLine(line)) inputTruncated = true;
        const report = parseProgressLine(line);
        if (!report) return;
        // Progress is frames written or output time advancing; a stats line repeating the same numbers is a stall.
        if ((report.frames ?? 0) > frames || (report.outTimeSeconds ?? 0) > outTime) lastMove = Date.now();
        frames = Math.max(frames, report.frames ?? 0);
        outTime = Math.max(outTime, report.outTimeSeconds ?? 0);
        if (job.onProgress && job.expectedDurationSeconds && report.outTimeSeconds !== undefined) {
          const percent = clampPercent((report.outTimeSeconds / job.expectedDurationSeconds) * 100);
          // Never report backwards: ffmpeg's time can jitter at stream ends.
          if (percent <= lastPercent) return;
          lastPercent = percent;
          job.onProgress({ percent, outTimeSeconds: report.outTimeSeconds, frames });
        }
      });
      command.on('error', (err: Error, _stdout: string | null, stderr: string | null) => {
        cleanUp();
        reject(this.toRunError(job, err, stderr ?? '', killedFor, timeoutSeconds));
      });
      command.on('end', () => {
        cleanUp();
        resolve({ wallSeconds: elapsed(), frames, inputTruncated });
      });
      command.run();
    });
  }

  private ffmpegBinary(): string {
    return this.options.ffmpegPath ?? 'ffmpeg';
  }

  private ffprobeBinary(): string {
    return this.options.ffprobePath ?? 'ffprobe';
  }

  private createCommand(input: string, forRun = false): ffmpeg.FfmpegCommand {
    const command = ffmpeg({
      source: input,
      stdoutLines: this.options.stderrTailLines ?? DEFAULT_STDERR_TAIL_LINES,
      ...(forRun && this.options.niceness ? { niceness: this.options.niceness } : {}),
    });
    // fluent-ffmpeg keeps the binary paths process-wide (setFfmpegPath writes a shared cache), so every
    // command sets its runner's own right before it starts; otherwise one runner's binary leaks into
    // another's. Two runners with different binaries must not start commands at the same instant.
    command.setFfmpegPath(this.ffmpegBinary());
    command.setFfprobePath(this.ffprobeBinary());
    return command;
  }

  private toProbeError(path: string, err: Error): MediaError {
    // The first line is Node's "Command failed: ffprobe ...", not ffprobe's own words.
    const stderrTail = tailLines(err.message.split('\n').slice(1).join('\n') || err.message, this.options.stderrTailLines ?? DEFAULT_STDERR_TAIL_LINES);
    const details = { path, stderrTail, cause: err };
    const refused = refusedFormat(err.message);
    if (refused)
      return new MediaError(
        'not_media',
        `file is a ${refused} file, not a video this service accepts (playlists and references to other files are refused)`,
        details,
      );
    if (isIoError(err.message)) return new MediaError('io_error', 'the staged file could not be read (will retry)', details);
    if (isSpawnFailure(err)) return new MediaError('ffmpeg_unavailable', 'ffprobe could not be started', details);
    // With -v error and nothing else said, the input simply was not media.
    if (isTruncationLine(err.message)) return new MediaError('truncated', 'file is truncated: its index is missing (upload cut short?)', details);
    return new MediaError('not_media', 'file is not a readable media file', details);
  }

  private toRunError(
    job: FfmpegJob,
    err: Error,
    stderr: string,
    killedFor: 'aborted' | 'stalled' | 'timeout' | undefined,
    timeoutSeconds: number | undefined,
  ): MediaError {
    const stderrTail = tailLines(stderr, this.options.stderrTailLines ?? DEFAULT_STDERR_TAIL_LINES);
    const details = { path: job.input, stderrTail, cause: err };
    if (killedFor === 'stalled') {
      return new MediaError('stalled', `ffmpeg made no progress for ${this.options.stallSeconds ?? DEFAULT_STALL_SECONDS} s and was stopped`, details);
    }
    if (killedFor === 'timeout') return new MediaError('timeout', `ffmpeg ran longer than its ${timeoutSeconds} s limit and was stopped`, details);
    let code: MediaErrorCode = 'ffmpeg_failed';
    const refused = refusedFormat(stderr);
    if (killedFor === 'aborted') code = 'aborted';
    else if (refused)
      return new MediaError(
        'not_media',
        `file is a ${refused} file, not a video this service accepts (playlists and references to other files are refused)`,
        details,
      );
    else if (isSpawnFailure(err) && !isIoError(stderr)) code = 'ffmpeg_unavailable';
    else if (isIoError(stderr)) code = 'io_error';
    else if (isTruncationLine(stderr)) code = 'truncated';
    else if (UNDECODABLE_MARKERS.some((marker) => stderr.includes(marker))) code = 'undecodable';
    const summary = lastMeaningfulLine(stderrTail) ?? err.message;
    return new MediaError(code, `ffmpeg failed (${code}): ${summary}`, details);
  }
}

/**
 * ffprobe's JSON as the rest of the package reads it: streams and format always present, and the
 * Display Matrix rotation lifted onto the stream (where older files keep a `rotate` tag).
 */
export function normaliseProbe(raw: Partial<FfprobeData>): FfprobeData {
  const streams = (raw.streams ?? []).map((stream) => {
    const sideData = (stream as { side_data_list?: Array<Record<string, unknown>> }).side_data_list ?? [];
    const matrix = sideData.find((entry) => entry.rotation !== undefined);
    return matrix && stream.rotation === undefined ? { ...stream, rotation: matrix.rotation as number } : stream;
  });
  return { streams, format: raw.format ?? {}, chapters: raw.chapters ?? [] } as FfprobeData;
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

/** Encoder names from `ffmpeg -encoders` (lines like " V....D libvpx-vp9  libvpx VP9"). */
export function parseEncoderList(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^\s*[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
    if (match?.[1] && match[1] !== '=') names.add(match[1]);
  }
  return names;
}

/** Clamps a percent to 0-100 with one decimal. */
export function clampPercent(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.round(Math.min(100, Math.max(0, value)) * 10) / 10;
}

function isTruncationLine(text: string): boolean {
  return TRUNCATED_MARKERS.some((marker) => text.includes(marker));
}

function isIoError(text: string): boolean {
  return IO_ERROR_MARKERS.some((marker) => text.includes(marker));
}

function isSpawnFailure(err: Error): boolean {
  return /spawn \S+ ENOENT|Cannot find ff(mpeg|probe)|spawn/.test(err.message);
}

function tailLines(text: string, count: number): string {
  return text
    .split(/\r\n|\r|\n/)
    .filter((line) => line.trim() !== '')
    .slice(-count)
    .join('\n');
}

function lastMeaningfulLine(text: string): string | undefined {
  const lines = text.split('\n').filter((line) => !/^\s*(frame=|size=|video:|Conversion failed!)/.test(line));
  return lines.at(-1);
}
