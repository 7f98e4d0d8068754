import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { StageContext } from '@reelboard/bus';
import { z } from '@reelboard/config';
import { ladderRungSchema, stagedDashPaths, stagedPathSchema, stagedSpeculativePaths } from '@reelboard/contracts';
import { DASH_AUDIO_FILE, DASH_MANIFEST_FILE, type MediaAdapter, type MediaInfo, rungFileName, type VideoStreamInfo } from '@reelboard/media';
import { encodeSeconds, mediaBytes } from '@reelboard/runtime';
import { type ObjectStorage, speculativeRungKeys } from '@reelboard/storage';
import {
  type AdoptedRung,
  chunkWork,
  type LadderEncodePlan,
  type LadderSettings,
  planLadderEncode,
  rungEncodeOptions,
  type SpeculativeParts,
  sideBySide,
} from './ladder-flow.js';

/**
 * Bumped whenever the encode of a rung changes in a way the plan does not show (the encoder's
 * command, the DASH muxing): a lowest rung encoded by an older release is then never published.
 */
const SPECULATIVE_RUNG_FORMAT = 1;

/** What the lowest rung's speculative encode reads of the transcoder's settings. */
export type SpeculativeRungSettings = LadderSettings & { STAGING_DIR: string; FFMPEG_THREADS: number };

/** The record of a finished speculative rung: written last, so it only names files that are whole and stored. */
export const speculativeRungSchema = z.object({
  /** The hash of the plan it was encoded for (planHash): reused only by a paid path planning the same. */
  planHash: z.string().regex(/^[0-9a-f]{64}$/),
  rung: ladderRungSchema,
  /** Staged DASH files, named as they are stored, beside the manifest of this rung alone. */
  video: stagedPathSchema,
  audio: stagedPathSchema.optional(),
  manifest: stagedPathSchema,
  /** The private object keys the rung and audio are stored at until the payment confirms. */
  keys: z.object({ video: z.string().min(1), audio: z.string().min(1).optional() }),
  /** Wall seconds ffmpeg ran for it, and the bytes stored privately: what the speculation cost. */
  wallSeconds: z.number().nonnegative(),
  bytes: z.number().int().nonnegative(),
  encodedAt: z.iso.datetime(),
});
export type SpeculativeRung = z.infer<typeof speculativeRungSchema>;

/** What one speculative rung encode did (part of the speculative job's value). */
export type SpeculativeRungOutcome =
  | { outcome: 'stored'; planHash: string; rung: number; wallSeconds: number; bytes: number }
  | { outcome: 'already-stored'; planHash: string }
  | { outcome: 'stopped-paid' };

/**
 * The lowest rung's identity: everything that decides its bytes (its size, bitrate and encoder
 * effort, the frame rate, the chunk boundaries, the audio) and the format version. A setting that
 * changes any of them changes the hash, so a stale encode is never published.
 */
export function planHash(plan: LadderEncodePlan, withAudio: boolean): string {
  const identity = {
    format: SPECULATIVE_RUNG_FORMAT,
    rung: plan.rungs[0],
    fps: plan.chunked.fps,
    totalFrames: plan.chunked.totalFrames,
    chunks: plan.chunks.map((chunk) => [chunk.startFrame, chunk.frames ?? null]),
    withAudio,
  };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}

/**
 * The folder of one plan's speculative encode: a folder per plan, so a retry after a settings change
 * never mixes chunks of two plans, and a file found in it was encoded for that plan.
 */
function speculativeRungDir(uploadId: string, hash: string): string {
  return join(stagedSpeculativePaths(uploadId).rungDir, hash.slice(0, 16));
}

const speculativeChunkPath = (dir: string, index: number): string => join(dir, `chunk-${String(index).padStart(4, '0')}.webm`);
const speculativeAudioPath = (dir: string): string => join(dir, 'dash', DASH_AUDIO_FILE);

/** The upload's finished speculative rung, or undefined (none, unfinished, or of an older shape). */
export async function readSpeculativeRung(stagingDir: string, uploadId: string): Promise<SpeculativeRung | undefined> {
  const text = await readFile(join(stagingDir, stagedSpeculativePaths(uploadId).rung), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  const parsed = speculativeRungSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : undefined;
}

async function writeSpeculativeRung(stagingDir: string, uploadId: string, record: SpeculativeRung): Promise<void> {
  const path = join(stagingDir, stagedSpeculativePaths(uploadId).rung);
  await writeFile(`${path}.tmp`, JSON.stringify(record));
  await rename(`${path}.tmp`, path);
}

export interface SpeculativeRungDeps {
  media: MediaAdapter;
  storage: ObjectStorage;
}

/**
 * Encodes the ladder's lowest rung (and the audio) of an upload still awaiting payment, as the paid
 * path would (the same plan, chunk by chunk, joined into its DASH file with the manifest of that
 * rung alone), stores both under private keys, and records the plan's hash last. The caller's
 * `signal` stops ffmpeg when the payment confirms: a paid job never waits for this; the paid
 * path takes the chunks (and audio) already finished for its plan and encodes the rest.
 */
export async function encodeSpeculativeRung(
  deps: SpeculativeRungDeps,
  settings: SpeculativeRungSettings,
  uploadId: string,
  input: string,
  source: MediaInfo & { video: VideoStreamInfo },
  signal: AbortSignal,
  log: StageContext['log'],
): Promise<SpeculativeRungOutcome> {
  const { media, storage } = deps;
  // The paid path reads the keyframes for a source it may chunk; the same read gives the same plan.
  const keyframes = source.durationSeconds > settings.CHUNK_THRESHOLD_SECONDS ? (await media.probePackets(input)).keyframeSeconds : [];
  const plan = planLadderEncode(settings, keyframes, source);
  const hash = planHash(plan, source.audio !== undefined);
  const found = await readSpeculativeRung(settings.STAGING_DIR, uploadId);
  if (found?.planHash === hash) return { outcome: 'already-stored', planHash: hash };

  const lowest = plan.rungs[0];
  if (!lowest) throw new Error('the ladder has no rung');
  const dir = speculativeRungDir(uploadId, hash);
  const staged = (path: string) => join(settings.STAGING_DIR, path);
  await mkdir(staged(join(dir, 'dash')), { recursive: true });
  const run = { signal, timeoutSeconds: plan.chunked.chunkTimeoutSeconds };
  let wallSeconds = 0;

  // The audio first: a payment that lands mid-way finds it done (the paid path takes it, see
  // speculativeParts), and it is a fraction of one chunk's work.
  const audio = source.audio ? speculativeAudioPath(dir) : undefined;
  if (audio && !(await media.findAudioTrack(staged(audio), source))) {
    const track = await media.encodeAudioTrack(input, staged(audio), { source, threads: settings.FFMPEG_THREADS, ...run });
    wallSeconds += track.wallSeconds;
  }
  // Side by side as the paid path runs them (sideBySide): chunks at once, one thread each.
  const width = Math.max(1, settings.FFMPEG_THREADS);
  const threads = Math.max(1, Math.floor(settings.FFMPEG_THREADS / width));
  const chunkFiles: Array<{ file: string; frames: number }> = [];
  for (const group of sideBySide(plan.chunks, width, (chunk) => chunkWork(chunk, plan.chunked.totalFrames, plan.chunked.fps, keyframes))) {
    if (signal.aborted) return { outcome: 'stopped-paid' };
    const encodedGroup = await Promise.all(
      group.map(async (chunk) => {
        const file = speculativeChunkPath(dir, chunk.index);
        const kept = await media.findVideoChunk(staged(file), chunk.frames, plan.chunked.fps);
        const encoded =
          kept ??
          (await media.encodeVideoChunk(input, staged(file), {
            source,
            ...rungEncodeOptions(lowest),
            threads,
            fps: plan.chunked.fps,
            startFrame: chunk.startFrame,
            ...(chunk.frames === undefined ? {} : { frames: chunk.frames }),
            ...run,
          }));
        return { file, frames: encoded.frames, wallSeconds: encoded.wallSeconds };
      }),
    );
    for (const chunk of encodedGroup) {
      wallSeconds += chunk.wallSeconds;
      chunkFiles.push({ file: chunk.file, frames: chunk.frames });
    }
  }
  const video = join(dir, 'dash', rungFileName(lowest));
  const joined = await media.joinRung(staged(video), {
    source,
    list: staged(join(dir, 'chunks.ffconcat')),
    chunks: chunkFiles.map((chunk, index) => ({
      file: basename(chunk.file),
      ...(index < chunkFiles.length - 1 ? { durationSeconds: chunk.frames / plan.chunked.fps } : {}),
    })),
    signal,
  });
  const manifest = join(dir, 'dash', DASH_MANIFEST_FILE);
  await media.writeDashManifest(staged(manifest), { videos: [staged(video)], ...(audio ? { audio: staged(audio) } : {}), signal });
  wallSeconds += joined.wallSeconds;
  // Paid while it was joined: the paid path encodes its own; nothing more is stored for this one.
  if (signal.aborted) return { outcome: 'stopped-paid' };

  const keys = speculativeRungKeys(uploadId);
  const stored = await Promise.all([
    storage.putFile(keys.video, staged(video), 'video/webm'),
    ...(audio ? [storage.putFile(keys.audio, staged(audio), 'audio/webm')] : []),
  ]);
  const bytes = stored.reduce((sum, object) => sum + object.bytes, 0);
  await writeSpeculativeRung(settings.STAGING_DIR, uploadId, {
    planHash: hash,
    rung: lowest,
    video,
    ...(audio ? { audio } : {}),
    manifest,
    keys: { video: keys.video, ...(audio ? { audio: keys.audio } : {}) },
    wallSeconds,
    bytes,
    encodedAt: new Date().toISOString(),
  });
  encodeSeconds.observe({ stage: 'transcoder', kind: 'speculative-rung' }, wallSeconds);
  mediaBytes.inc({ stage: 'transcoder', direction: 'out' }, bytes);
  log.info('lowest rung encoded while the payment is pending, stored privately', {
    rung: lowest.name,
    chunks: plan.chunks.length,
    wallSeconds: Number(wallSeconds.toFixed(2)),
    bytes,
    planHash: hash.slice(0, 16),
  });
  return { outcome: 'stored', planHash: hash, rung: lowest.name, wallSeconds, bytes };
}

/**
 * On payment: the speculative lowest rung, if one was encoded for exactly this plan, is staged
 * where the ladder's own files go (the next rung's join lists it in its manifest, the progressive
 * fallback may remux it), so the flow stores it by copy at once instead of encoding it.
 */
export async function adoptSpeculativeRung(stagingDir: string, uploadId: string, plan: LadderEncodePlan, withAudio: boolean): Promise<AdoptedRung> {
  const record = await readSpeculativeRung(stagingDir, uploadId);
  const parts = await speculativeParts(stagingDir, uploadId, plan, withAudio);
  if (!record) return { reused: false, reason: 'none', ...parts };
  const lowest = plan.rungs[0];
  if (!lowest || record.planHash !== planHash(plan, withAudio)) return { reused: false, reason: 'plan-changed', ...parts };
  const staged = (path: string) => join(stagingDir, path);
  const copies: Array<[string, string]> = [
    [record.video, stagedDashPaths.rung(uploadId, lowest.name)],
    [record.manifest, stagedDashPaths.manifest(uploadId, lowest.name)],
    ...(record.audio ? [[record.audio, stagedDashPaths.audio(uploadId)] as [string, string]] : []),
  ];
  try {
    for (const [from] of copies) await stat(staged(from));
  } catch {
    return { reused: false, reason: 'files-missing', ...parts };
  }
  for (const [from, to] of copies) {
    await mkdir(dirname(staged(to)), { recursive: true });
    await copyFile(staged(from), staged(to));
  }
  return { reused: true, keys: record.keys };
}

/**
 * Where the speculative encode of exactly this plan writes each of the lowest rung's chunks and the
 * audio, when it got as far as starting (its folder exists): the paid path's chunk jobs take every
 * part it finished (take-speculative-part.ts) and encode only the rest. Empty when it never started
 * for this plan (none, or encoded for another plan: that folder is another hash's).
 */
export async function speculativeParts(
  stagingDir: string,
  uploadId: string,
  plan: LadderEncodePlan,
  withAudio: boolean,
): Promise<{ partial?: SpeculativeParts }> {
  const dir = speculativeRungDir(uploadId, planHash(plan, withAudio));
  const started = await stat(join(stagingDir, dir)).then(
    (found) => found.isDirectory(),
    () => false,
  );
  if (!started) return {};
  return {
    partial: { chunks: plan.chunks.map((chunk) => speculativeChunkPath(dir, chunk.index)), ...(withAudio ? { audio: speculativeAudioPath(dir) } : {}) },
  };
}
