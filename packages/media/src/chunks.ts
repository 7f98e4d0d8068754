import { rename, rm, writeFile } from 'node:fs/promises';
import { type CodecConfig, type EncoderSpeed, vp9Codec } from './codecs.js';
import {
  buildAudioTrackCommand,
  buildConcatList,
  buildJoinCommand,
  buildLadderChunkCommand,
  buildVideoChunkCommand,
  type ConcatEntry,
  type FfmpegCommand,
  type PacketSummary,
} from './commands.js';
import { MediaError } from './errors.js';
import type { FfmpegRunner } from './ffmpeg-runner.js';
import { fitShortSide } from './geometry.js';
import { fileSize, writeAtomically } from './output-file.js';
import { assertPlayableVideo, probeMedia } from './probe.js';
import { assertWholeInputEncoded, type ProgressListener, type TranscodeResult } from './transcode.js';
import type { MediaInfo } from './types.js';

// The parts of a chunked encode: video chunks with the full transcode's exact video settings, the
// audio track once, and a join by stream copy. The service decides the plan; this file knows how.

const DEFAULT_AUDIO_KBPS = 128;
const DEFAULT_MAX_FPS = 60;

/** Settings of one video chunk. */
export interface VideoChunkOptions {
  /** The source's probe. */
  source: MediaInfo;
  /** Cap on the output's short side, as for the full transcode. */
  maxHeight: number;
  threads: number;
  /** Output frame rate the frame numbers count in. */
  fps: number;
  /** First output frame. */
  startFrame: number;
  /** Frames to encode; absent: to the end. */
  frames?: number;
  videoBitrateKbps?: number;
  speed?: Partial<EncoderSpeed>;
  /** Decode the source without its deblocking filter (buildVideoChunkCommand): for an output a third of its size or less. */
  skipLoopFilter?: boolean;
  maxFps?: number;
  codec?: CodecConfig;
  signal?: AbortSignal;
  timeoutSeconds?: number;
  /** The runner that starts ffmpeg (the adapter passes its own). */
  runner: FfmpegRunner;
}

/** What an encoded (or found) video chunk is. */
export interface VideoChunkResult {
  outputBytes: number;
  /** Frames (video packets) in the chunk. */
  frames: number;
  /** Wall-clock seconds ffmpeg ran (0 when nothing was encoded). */
  wallSeconds: number;
}

/** The output frame rate of a source: its own, capped (what the full transcode's rate cap gives). */
export function outputFps(source: MediaInfo, maxFps = DEFAULT_MAX_FPS): number {
  const fps = source.video?.fps ?? 0;
  return fps > 0 ? Math.min(fps, maxFps) : maxFps;
}

/** Encodes frames [startFrame, startFrame + frames) of the source, video only, written atomically. */
export async function encodeVideoChunk(input: string, output: string, options: VideoChunkOptions, onProgress?: ProgressListener): Promise<VideoChunkResult> {
  const { runner } = options;
  const { source } = options;
  assertPlayableVideo(source, input);
  const command = buildVideoChunkCommand({
    input,
    output,
    source,
    size: fitShortSide(source.video, options.maxHeight),
    threads: options.threads,
    maxFps: options.maxFps ?? DEFAULT_MAX_FPS,
    fps: options.fps,
    startFrame: options.startFrame,
    codec: options.codec ?? vp9Codec,
    ...(options.frames === undefined ? {} : { frames: options.frames }),
    ...(options.videoBitrateKbps === undefined ? {} : { videoBitrateKbps: options.videoBitrateKbps }),
    ...(options.speed ? { speed: options.speed } : {}),
    ...(options.skipLoopFilter ? { skipLoopFilter: true } : {}),
  });
  const { run, packets } = await writeAtomically(output, async (partPath) => {
    const run = await runner.run({
      ...command,
      output: partPath,
      ...(onProgress ? { onProgress: (p) => onProgress(p.percent) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}),
    });
    const packets = await runner.probePackets(partPath);
    assertChunkComplete(packets, options.frames, options.fps, input);
    if (run.inputTruncated) throw new MediaError('truncated', 'file is truncated or damaged: a chunk ended before its frames', { path: input });
    return { run, packets };
  });
  onProgress?.(100);
  return { outputBytes: await fileSize(output), frames: packets.packets, wallSeconds: Math.round(run.wallSeconds * 1000) / 1000 };
}

/** One rung's output of a ladder chunk. */
export interface LadderChunkRung {
  output: string;
  /** Cap on the rung's short side (its name). */
  maxHeight: number;
  videoBitrateKbps: number;
  speed?: Partial<EncoderSpeed>;
}

/** Settings of one chunk encoded for several rungs from one decode. */
export interface LadderChunkOptions extends Omit<VideoChunkOptions, 'maxHeight' | 'videoBitrateKbps' | 'speed'> {
  /** The rungs to encode; at least one. */
  rungs: readonly LadderChunkRung[];
}

/**
 * Encodes frames [startFrame, startFrame + frames) of the source once per rung in ONE ffmpeg run
 * (one decode, `split`, a scale and an encoder per rung), each rung's chunk checked whole and
 * renamed into place only when every rung's is: a run that fails leaves no output of its own.
 */
export async function encodeLadderChunk(
  input: string,
  options: LadderChunkOptions,
  onProgress?: ProgressListener,
): Promise<Array<VideoChunkResult & { output: string }>> {
  const { runner, source } = options;
  assertPlayableVideo(source, input);
  if (options.rungs.length === 0) throw new RangeError('a ladder chunk needs at least one rung');
  const parts = options.rungs.map((rung) => ({ ...rung, part: `${rung.output}.part` }));
  const command = buildLadderChunkCommand({
    input,
    source,
    threads: options.threads,
    maxFps: options.maxFps ?? DEFAULT_MAX_FPS,
    fps: options.fps,
    startFrame: options.startFrame,
    codec: options.codec ?? vp9Codec,
    ...(options.frames === undefined ? {} : { frames: options.frames }),
    outputs: parts.map((rung) => ({
      output: rung.part,
      size: fitShortSide(source.video, rung.maxHeight),
      videoBitrateKbps: rung.videoBitrateKbps,
      ...(rung.speed ? { speed: rung.speed } : {}),
    })),
  });
  try {
    const run = await runner.run({
      ...command,
      ...(onProgress ? { onProgress: (p) => onProgress(p.percent) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}),
    });
    if (run.inputTruncated) throw new MediaError('truncated', 'file is truncated or damaged: a chunk ended before its frames', { path: input });
    const results = [];
    for (const rung of parts) {
      const packets = await runner.probePackets(rung.part);
      assertChunkComplete(packets, options.frames, options.fps, input);
      results.push({ output: rung.output, frames: packets.packets });
    }
    const written = [];
    for (const rung of parts) {
      await rename(rung.part, rung.output);
      const result = results.find((r) => r.output === rung.output) as { output: string; frames: number };
      written.push({ ...result, outputBytes: await fileSize(rung.output), wallSeconds: Math.round(run.wallSeconds * 1000) / 1000 });
    }
    onProgress?.(100);
    return written;
  } finally {
    await Promise.all(parts.map((rung) => rm(rung.part, { force: true })));
  }
}

/**
 * A chunk a previous run already encoded, if it is whole; undefined when there is none or it is not
 * whole (then it is encoded again).
 */
export async function findVideoChunk(path: string, frames: number | undefined, fps: number, runner: FfmpegRunner): Promise<VideoChunkResult | undefined> {
  const size = await fileSize(path).catch(() => 0);
  if (size === 0) return undefined;
  const packets = await runner.probePackets(path).catch(() => undefined);
  if (!packets || !isWholeChunk(packets, frames, fps)) return undefined;
  return { outputBytes: size, frames: packets.packets, wallSeconds: 0 };
}

// A variable-frame-rate source has fewer frames than its slot's length x the output rate; a chunk
// cut short misses its end. Half a second or a tenth of the slot, whichever is more, is the slack.
const CHUNK_SLACK_SECONDS = 0.5;
const CHUNK_SLACK_FRACTION = 0.1;

/**
 * A chunk is whole when it starts on a keyframe and its frames reach to the end of its slot but not
 * past it. (Frames are counted by time: a variable-frame-rate source has more or fewer frames in a
 * slot than its length x the average rate.)
 */
function isWholeChunk(packets: PacketSummary, frames: number | undefined, fps: number): boolean {
  if (packets.packets === 0 || packets.keyframeSeconds[0] === undefined || packets.keyframeSeconds[0] !== packets.firstSeconds) return false;
  if (frames === undefined) return true;
  const span = (packets.lastSeconds ?? 0) - (packets.firstSeconds ?? 0);
  const slot = frames / fps;
  return span < slot && slot - (span + 1 / fps) <= Math.max(CHUNK_SLACK_SECONDS, slot * CHUNK_SLACK_FRACTION);
}

function assertChunkComplete(packets: PacketSummary, frames: number | undefined, fps: number, input: string): void {
  if (packets.packets === 0) throw new MediaError('undecodable', 'no frame of the chunk could be decoded', { path: input });
  if (packets.keyframeSeconds[0] === undefined || packets.keyframeSeconds[0] !== packets.firstSeconds) {
    throw new MediaError('ffmpeg_failed', 'a chunk does not start with a keyframe', { path: input });
  }
  if (!isWholeChunk(packets, frames, fps)) {
    throw new MediaError(
      'truncated',
      `file is truncated or damaged: a chunk has ${packets.packets} frames over ${((packets.lastSeconds ?? 0) - (packets.firstSeconds ?? 0)).toFixed(2)} s of its ${frames} planned`,
      { path: input },
    );
  }
}

/** Settings of the audio track. */
export interface AudioTrackOptions {
  source: MediaInfo;
  threads: number;
  audioBitrateKbps?: number;
  codec?: CodecConfig;
  signal?: AbortSignal;
  timeoutSeconds?: number;
  /** The runner that starts ffmpeg (the adapter passes its own). */
  runner: FfmpegRunner;
}

/** The whole audio track, encoded once; its output is written atomically. */
export async function encodeAudioTrack(
  input: string,
  output: string,
  options: AudioTrackOptions,
): Promise<{ outputBytes: number; durationSeconds: number; wallSeconds: number }> {
  const { runner } = options;
  const { source } = options;
  if (!source.audio) throw new MediaError('not_media', 'the source has no audio track', { path: input });
  const command = buildAudioTrackCommand({
    input,
    output,
    source: { ...source, audio: source.audio },
    threads: options.threads,
    audioBitrateKbps: options.audioBitrateKbps ?? DEFAULT_AUDIO_KBPS,
    codec: options.codec ?? vp9Codec,
  });
  const { run, produced } = await writeAtomically(output, async (partPath) => {
    const run = await runner.run({
      ...command,
      output: partPath,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}),
    });
    return { run, produced: await probeMedia(partPath, runner) };
  });
  return { outputBytes: await fileSize(output), durationSeconds: produced.durationSeconds, wallSeconds: Math.round(run.wallSeconds * 1000) / 1000 };
}

/** An audio track a previous run already encoded, if it covers the source. */
export async function findAudioTrack(
  path: string,
  source: MediaInfo,
  runner: FfmpegRunner,
): Promise<{ outputBytes: number; durationSeconds: number; wallSeconds: number } | undefined> {
  const size = await fileSize(path).catch(() => 0);
  if (size === 0) return undefined;
  const produced = await probeMedia(path, runner).catch(() => undefined);
  if (!produced?.audio || source.durationSeconds - produced.durationSeconds > 0.5) return undefined;
  return { outputBytes: size, durationSeconds: produced.durationSeconds, wallSeconds: 0 };
}

/** The join: which chunks, in order, and the audio track. */
export interface JoinOptions {
  /** The source's probe: the joined file must cover its duration. */
  source: MediaInfo;
  /** The chunk files, in order, beside `list`. */
  chunks: readonly ConcatEntry[];
  /** Where the list is written (the chunks' folder). */
  list: string;
  /** The audio track, when the source has audio. */
  audio?: string;
  codec?: CodecConfig;
  signal?: AbortSignal;
  timeoutSeconds?: number;
  /** The runner that starts ffmpeg (the adapter passes its own). */
  runner: FfmpegRunner;
}

/** Joins the chunks without re-encoding and muxes the audio track; checked like a full transcode. */
export async function joinChunks(output: string, options: JoinOptions): Promise<TranscodeResult> {
  const { runner } = options;
  const { source } = options;
  assertPlayableVideo(source, output);
  await writeFile(options.list, buildConcatList(options.chunks));
  const command = buildJoinCommand({
    list: options.list,
    output,
    durationSeconds: source.durationSeconds,
    codec: options.codec ?? vp9Codec,
    ...(options.audio ? { audio: options.audio } : {}),
  });
  return copyChecked(output, command, { source, runner, signal: options.signal, timeoutSeconds: options.timeoutSeconds });
}

/**
 * Runs a stream-copy command (a join or a remux: no encode) into `output` atomically and checks the
 * result like a full transcode: it decodes and covers the source from start to end. The one path for
 * the chunk join, a rung's join and the progressive remux.
 */
export async function copyChecked(
  output: string,
  command: FfmpegCommand,
  options: { source: MediaInfo; runner: FfmpegRunner; signal?: AbortSignal | undefined; timeoutSeconds?: number | undefined },
): Promise<TranscodeResult> {
  const { run, produced } = await writeAtomically(output, async (partPath) => {
    const run = await options.runner.run({
      ...command,
      output: partPath,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}),
    });
    const produced = await probeMedia(partPath, options.runner);
    assertWholeInputEncoded(options.source, produced, run, output);
    return { run, produced };
  });
  return {
    outputBytes: await fileSize(output),
    durationSeconds: produced.durationSeconds,
    width: produced.video?.width ?? 0,
    height: produced.video?.height ?? 0,
    fps: run.wallSeconds > 0 ? Math.round((run.frames / run.wallSeconds) * 10) / 10 : 0,
    wallSeconds: Math.round(run.wallSeconds * 1000) / 1000,
  };
}
