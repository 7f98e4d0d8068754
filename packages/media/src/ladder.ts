import { writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { copyChecked } from './chunks.js';
import { bitrateForHeight, type EncoderSpeed, vp9Codec } from './codecs.js';
import { buildConcatList, type ConcatEntry, type FfmpegCommand, OWN_CONCAT_DEMUXERS, OWN_WEBM_DEMUXERS, restrictedInputOptions } from './commands.js';
import { MediaError } from './errors.js';
import type { FfmpegRunner } from './ffmpeg-runner.js';
import { type FrameSize, fitShortSide } from './geometry.js';
import { fileSize, writeAtomically } from './output-file.js';
import { assertPlayableVideo } from './probe.js';
import type { TranscodeResult } from './transcode.js';
import type { MediaInfo } from './types.js';

/** One row of the ladder's table: a rung's size (short side), its VP9 bitrate and how hard its encoder works. */
export interface LadderStep {
  /** The rung's name and the cap on its short side: 240 means "240p" (a portrait video keeps its long side). */
  shortSide: number;
  /** Target average video bitrate. */
  kbps: number;
  /** Encoder speed overrides of the codec's default profile. */
  speed: Partial<EncoderSpeed>;
}

/**
 * libvpx realtime mode (cpu-used 6) loses 0.010-0.020 SSIM against good mode at the same bitrate
 * (0.011-0.015 below 720p); 15 % more bits win back about half of it. Low rungs are cheap in bytes.
 */
export const REALTIME_BITRATE_FACTOR = 1.15;

/** A rung below the top: realtime cpu-used 6, its bitrate raised by REALTIME_BITRATE_FACTOR. */
const realtimeRung = (shortSide: number, kbps: number): LadderStep => ({
  shortSide,
  kbps: Math.round(kbps * REALTIME_BITRATE_FACTOR),
  speed: { deadline: 'realtime', cpuUsed: 6 },
});

/**
 * The VP9 ladder, at ~30 fps (docs/codecs.md says why each number): the 360p to 2160p bitrates are
 * the measured single-encode table (DEFAULT_VP9_BITRATES: 2160p at 5 Mbit/s, where the measured
 * curve flattens and the prototype's author's 4-5 Mbit/s); 240p is the rung a 0.5 Mbit/s link still
 * plays with the audio. 1080p and 2160p keep the single encode's settings (good, cpu-used 5: a
 * 1080p source's top rung is the single encode). The rungs below are encoded in libvpx's realtime
 * mode: good mode's cpu-used stops at 5 on libvpx 1.12 (higher values are clamped), and at cpu-used 5
 * the 240p-720p rungs cost 1.3x the 1080p encode on their own; realtime cpu-used 6 costs a fifth of
 * that, and the lowest rung's encode is what stands between the payment and the full video playing.
 */
export const VP9_LADDER: readonly LadderStep[] = [
  realtimeRung(240, 350),
  realtimeRung(360, 700),
  realtimeRung(480, 1000),
  realtimeRung(720, 1800),
  { shortSide: 1080, kbps: 2500, speed: { deadline: 'good', cpuUsed: 5 } },
  { shortSide: 2160, kbps: 5000, speed: { deadline: 'good', cpuUsed: 5 } },
];

/** The top rung's libvpx settings: the single encode's (vp9Codec.defaultSpeed). */
export const TOP_RUNG_SPEED: Partial<EncoderSpeed> = { deadline: vp9Codec.defaultSpeed.deadline, cpuUsed: vp9Codec.defaultSpeed.cpuUsed };

/** A rung of one source's ladder. */
export interface Rung {
  /** The rung's name (its short side cap, or the source's own short side for a top rung between the table's): names its file. */
  name: number;
  /** Output frame size (display orientation, even sides). */
  width: number;
  height: number;
  bitrateKbps: number;
  speed: Partial<EncoderSpeed>;
}

/**
 * A source's ladder, lowest rung first: every rung of the table below the source's short side and
 * the cap, then a top rung at the source's own size (or the cap) encoded as the single encode
 * would (its bitrate for that size, good mode, cpu-used 5). Never upscaled: a 200p source has one rung, its own size. A portrait or rotated
 * source is measured by its short side (display size, after rotation), as the single encode is.
 */
export function planLadder(source: FrameSize, maxShortSide: number, table: readonly LadderStep[] = VP9_LADDER): Rung[] {
  if (table.length === 0) throw new RangeError('the ladder table is empty');
  const sorted = [...table].sort((a, b) => a.shortSide - b.shortSide);
  const sourceShort = Math.min(source.width, source.height);
  const top = Math.min(sourceShort, maxShortSide);
  const rungs: Rung[] = [];
  const rung = (name: number, step: LadderStep): Rung => {
    const size = fitShortSide(source, name);
    return { name, width: size.width, height: size.height, bitrateKbps: step.kbps, speed: step.speed };
  };
  for (const step of sorted) if (step.shortSide < top) rungs.push(rung(step.shortSide, step));
  // The top is the single encode at the source's size: its bitrate (a 1440p source's top rung gets
  // 1440p's, not 2160p's) and its libvpx settings, whatever the table's row of that size says.
  const topStep = { shortSide: top, kbps: bitrateForHeight(top), speed: TOP_RUNG_SPEED };
  // A source a few pixels over a rung (a 1088-line 1080p) makes no rung of its own: its size is the rung's.
  const below = rungs.at(-1);
  if (below && top - below.name < below.name * 0.05) rungs.pop();
  rungs.push(rung(top, { ...topStep, shortSide: top }));
  return rungs;
}

/** The staged and stored file name of a rung's DASH file (the contract's `video-<height>p.webm`). */
export function rungFileName(rung: Pick<Rung, 'name'>): string {
  return `video-${rung.name}p.webm`;
}

/** The DASH audio file's name, beside the rungs. */
export const DASH_AUDIO_FILE = 'audio.webm';
/** The DASH manifest's name, beside the rungs. */
export const DASH_MANIFEST_FILE = 'manifest.mpd';

/** Demuxer of the manifest's inputs: it reads a DASH WebM's headers and cues (files this package wrote). */
export const OWN_DASH_MANIFEST_DEMUXERS: readonly string[] = ['webm_dash_manifest'];

/**
 * A rung's chunks joined without re-encoding into one DASH WebM (video only): `-dash 1` starts a
 * cluster on every keyframe and indexes each in the Cues, so a player fetches the index, then
 * ranges that start on a keyframe. Cues stay at the end: the manifest muxer cannot read them at
 * the front (ffmpeg 5.1: "Error parsing Cues"), and a DASH player reads them by range anyway.
 */
export function buildRungJoinCommand(settings: { list: string; output: string; durationSeconds: number }): FfmpegCommand {
  return {
    input: settings.list,
    inputOptions: ['-f', 'concat', '-safe', '1', ...restrictedInputOptions({ demuxers: OWN_CONCAT_DEMUXERS })],
    output: settings.output,
    outputOptions: ['-map', '0:v:0', '-c', 'copy', '-map_metadata', '-1', '-f', 'webm', '-dash', '1'],
    expectedDurationSeconds: settings.durationSeconds,
  };
}

/**
 * The static DASH manifest (WebM on-demand profile) of the given rungs and the audio file, as
 * ffmpeg's webm_dash_manifest muxer writes it: one adaptation set of the rungs (aligned keyframes
 * make it `subsegmentAlignment="true"`), one of the audio. The muxer names each file by its base
 * name, so every BaseURL is relative to the manifest's folder.
 */
export function buildDashManifestCommand(settings: { videos: readonly string[]; audio?: string; output: string }): FfmpegCommand {
  const files = [...settings.videos, ...(settings.audio ? [settings.audio] : [])];
  const [first, ...rest] = files;
  if (!first || settings.videos.length === 0) throw new RangeError('a manifest needs at least one video rung');
  const inputOptions = ['-f', 'webm_dash_manifest', ...restrictedInputOptions({ demuxers: OWN_DASH_MANIFEST_DEMUXERS })];
  const videoStreams = settings.videos.map((_, index) => index).join(',');
  const sets = [`id=0,streams=${videoStreams}`, ...(settings.audio ? [`id=1,streams=${settings.videos.length}`] : [])].join(' ');
  return {
    input: first,
    inputOptions,
    extraInputs: rest.map((input) => ({ input, inputOptions })),
    output: settings.output,
    outputOptions: [...files.flatMap((_, index) => ['-map', String(index)]), '-c', 'copy', '-f', 'webm_dash_manifest', '-adaptation_sets', sets],
  };
}

/**
 * The progressive single WebM (the fallback for players without Media Source Extensions): a rung's
 * video and the audio muxed together by stream copy, cues at the front so a browser seeks before
 * the whole file is in. No second encode.
 */
export function buildProgressiveRemuxCommand(settings: { video: string; audio?: string; output: string; durationSeconds: number }): FfmpegCommand {
  return {
    input: settings.video,
    inputOptions: restrictedInputOptions({ demuxers: OWN_WEBM_DEMUXERS }),
    ...(settings.audio ? { extraInputs: [{ input: settings.audio, inputOptions: restrictedInputOptions({ demuxers: OWN_WEBM_DEMUXERS }) }] } : {}),
    output: settings.output,
    outputOptions: ['-map', '0:v:0', ...(settings.audio ? ['-map', '1:a:0'] : []), '-c', 'copy', '-map_metadata', '-1', '-f', 'webm', '-cues_to_front', '1'],
    expectedDurationSeconds: settings.durationSeconds,
  };
}

/** What a rung's join is asked for. */
export interface RungJoinOptions {
  /** The source's probe: the rung must cover its duration. */
  source: MediaInfo;
  /** The rung's chunk files, in order, beside `list`. */
  chunks: readonly ConcatEntry[];
  /** Where the concat list is written (the chunks' folder). */
  list: string;
  signal?: AbortSignal;
  timeoutSeconds?: number;
  runner: FfmpegRunner;
}

/** Joins a rung's chunks into its DASH file, checked like a full transcode (covers the source, decodable). */
export async function joinRung(output: string, options: RungJoinOptions): Promise<TranscodeResult> {
  const { runner, source } = options;
  assertPlayableVideo(source, output);
  await writeFile(options.list, buildConcatList(options.chunks));
  const command = buildRungJoinCommand({ list: options.list, output, durationSeconds: source.durationSeconds });
  // A video-only rung has no audio to cover the end: the check compares with the source's video alone.
  return copyChecked(output, command, { source, runner, signal: options.signal, timeoutSeconds: options.timeoutSeconds });
}

/** Writes the DASH manifest of the rungs (lowest first) and the audio, all in the manifest's folder. */
export async function writeDashManifest(
  output: string,
  options: { videos: readonly string[]; audio?: string; signal?: AbortSignal; runner: FfmpegRunner },
): Promise<{ outputBytes: number }> {
  for (const file of [...options.videos, ...(options.audio ? [options.audio] : [])]) {
    // The muxer writes each input's base name: only files beside the manifest resolve from it.
    if (dirname(file) !== dirname(output)) throw new MediaError('ffmpeg_failed', `${basename(file)} is not in the manifest's folder`, { path: file });
  }
  const command = buildDashManifestCommand({ videos: options.videos, output, ...(options.audio ? { audio: options.audio } : {}) });
  await writeAtomically(output, (partPath) => options.runner.run({ ...command, output: partPath, ...runLimits(options) }));
  return { outputBytes: await fileSize(output) };
}

/** Muxes a rung and the audio into the progressive WebM by stream copy; checked to cover the source. */
export async function remuxProgressive(
  output: string,
  options: { source: MediaInfo; video: string; audio?: string; signal?: AbortSignal; runner: FfmpegRunner },
): Promise<TranscodeResult> {
  const { runner, source } = options;
  const command = buildProgressiveRemuxCommand({
    video: options.video,
    output,
    durationSeconds: source.durationSeconds,
    ...(options.audio ? { audio: options.audio } : {}),
  });
  return copyChecked(output, command, { source, runner, signal: options.signal });
}

function runLimits(options: { signal?: AbortSignal; timeoutSeconds?: number }) {
  return { ...(options.signal ? { signal: options.signal } : {}), ...(options.timeoutSeconds ? { timeoutSeconds: options.timeoutSeconds } : {}) };
}
