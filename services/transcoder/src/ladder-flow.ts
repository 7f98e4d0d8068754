import type { FlowStep, StageContext } from '@reelboard/bus';
import { type Channel, type ChunkedEncode, type LadderRung, type PaymentConfirmed, type PreviewEarly, stagedDashPaths } from '@reelboard/contracts';
import { type MediaInfo, outputFps, planLadder, type VideoStreamInfo } from '@reelboard/media';
import { planChunks } from './chunk-plan.js';
import type { TranscoderConfig } from './config.js';
import { encodeTimeoutSeconds } from './encode-timeout.js';

/** What the ladder's plan reads of the transcoder's settings. */
export type LadderSettings = Pick<
  TranscoderConfig,
  'MAX_OUTPUT_HEIGHT' | 'CHUNK_SECONDS' | 'CHUNK_THRESHOLD_SECONDS' | 'FFMPEG_TIMEOUT_SECONDS' | 'ENCODE_MIN_MEGAPIXELS_PER_SECOND'
>;

/**
 * Plans a paid upload's rendition ladder and adds it as one BullMQ flow, every (rung, chunk) a job
 * any free replica takes. The chunks are the chunked encode's (one piece for a short source), the
 * same for every rung, so the rungs' keyframes fall at the same times. The flow nests so that the
 * ladder is published lowest rung first:
 *
 *   video.assemble (the progressive fallback, then video.transcoded)
 *     └ rendition.store top (uploader: the rung, the manifest listing every rung)
 *         └ rendition.join top (its chunks joined, the manifest of the rungs up to it)
 *             └ rendition.store below … down to the second rung's join, whose children are
 *                 ├ video.chunk rungs-above-the-lowest × chunks (one decode, one file per rung)
 *                 └ rendition.store lowest
 *                     └ rendition.join lowest ← video.chunk lowest × chunks, and the audio
 *
 * A rung's join waits for the store below it, so the stored manifest only grows, one rung at a
 * time; a join above the second reads its chunk files from their staged paths. The lowest rung's
 * chunks and the audio carry BullMQ priority 1, the upper rungs' 2, so every replica encodes the
 * lowest rung first and the full video plays as soon as it is stored. The upper rungs share one
 * decode of each chunk (docs/codecs.md: the decode was paid once per rung).
 * A lowest rung already encoded while the person paid (speculative-rung.ts) has no join and no
 * chunks: its store is a leaf, so the full video plays as soon as the flow is added.
 */
export async function startLadderEncode(
  settings: LadderSettings & Partial<Pick<TranscoderConfig, 'FFMPEG_THREADS'>>,
  upload: PaymentConfirmed,
  keyframeSeconds: readonly number[],
  source: MediaInfo & { video: VideoStreamInfo },
  early: Pick<PreviewEarly, 'preview' | 'poster'>,
  context: StageContext & Required<Pick<StageContext, 'emitFlow'>>,
  /** Stages the lowest rung encoded while the person paid, if it was for this very plan: it is then stored by copy at once, not encoded. */
  adoptSpeculative?: (plan: LadderEncodePlan, withAudio: boolean) => Promise<AdoptedRung>,
): Promise<{ rungs: LadderRung[]; chunks: number; speculative?: AdoptedRung }> {
  const plan = planLadderEncode(settings, keyframeSeconds, source);
  const { rungs, chunks, chunked } = plan;
  const withAudio = source.audio !== undefined;
  const adopted = adoptSpeculative ? await adoptSpeculative(plan, withAudio) : undefined;
  const speculative = adopted?.reused ? adopted : undefined;
  // Parts the speculative encode finished before the payment: the lowest rung's jobs take them instead of encoding.
  const partial = adopted?.reused === false ? adopted.partial : undefined;

  const upper = rungs.slice(1).map((rung) => rung.name);
  let below: FlowStep<Channel> | undefined;
  for (const [position, rung] of rungs.entries()) {
    const lowest = position === 0;
    // The lowest rung's chunks alone (first, and published first); every rung above it in one job
    // per chunk (one decode of the source for all), under the first upper rung's join.
    const target = lowest ? { rung: rung.name } : position === 1 ? { rungs: upper } : undefined;
    const slot = (chunk: (typeof chunks)[number]) => ({
      index: chunk.index,
      startFrame: chunk.startFrame,
      ...(chunk.frames === undefined ? {} : { frames: chunk.frames }),
      ...(lowest && partial?.chunks[chunk.index] ? { takeFrom: partial.chunks[chunk.index] } : {}),
    });
    // The lowest rung's chunks side by side, as many to a job as a replica has ffmpeg threads.
    const jobs = lowest
      ? sideBySide(chunks, settings.FFMPEG_THREADS ?? 1, (chunk) => chunkWork(chunk, chunked.totalFrames, chunked.fps, keyframeSeconds))
      : chunks.map((chunk) => [chunk]);
    const chunkJobs: FlowStep<Channel>[] = target
      ? jobs.map(([first, ...rest]) => ({
          channel: 'video.chunk',
          payload: {
            ...upload,
            chunked,
            part: {
              kind: 'video',
              ...slot(first as (typeof chunks)[number]),
              ...target,
              ...(rest.length > 0 ? { alongside: rest.map(slot) } : {}),
            },
          },
          priority: position + 1,
        }))
      : [];
    const join: FlowStep<'rendition.join'> = {
      channel: 'rendition.join',
      payload: { ...upload, chunked, rung: rung.name },
      children: [
        // The audio beside the lowest rung: the first manifest needs it.
        ...(lowest && withAudio
          ? [
              {
                channel: 'video.chunk' as const,
                payload: { ...upload, chunked, part: { kind: 'audio' as const, ...(partial?.audio ? { takeFrom: partial.audio } : {}) } },
                priority: 1,
              },
            ]
          : []),
        ...chunkJobs,
        ...(below ? [below] : []),
      ],
    };
    const reused = lowest && speculative !== undefined;
    const store: FlowStep<'rendition.store'> = {
      channel: 'rendition.store',
      payload: {
        ...upload,
        rung,
        video: stagedDashPaths.rung(upload.uploadId, rung.name),
        ...(lowest && withAudio ? { audio: stagedDashPaths.audio(upload.uploadId) } : {}),
        manifest: stagedDashPaths.manifest(upload.uploadId, rung.name),
        ...(reused ? { copy: speculative.keys } : {}),
      },
      // Encoded while the person paid: nothing to wait for, stored (by copy) the moment the flow is added.
      children: reused ? [] : [join],
    };
    below = store;
  }
  await context.emitFlow({ channel: 'video.assemble', payload: { ...upload, chunked, preview: early.preview, poster: early.poster } }, below ? [below] : []);
  return { rungs, chunks: chunks.length, ...(adopted ? { speculative: adopted } : {}) };
}

/**
 * The lowest rung's chunks cut in jobs of `width` chunks (a replica's FFMPEG_THREADS), run
 * side by side in one job, one ffmpeg thread each. Measured on 2 cores (docs/codecs.md): a 240p
 * chunk's ffmpeg with 2 threads keeps them 1.5 busy (libvpx has one tile column below 512 px, and
 * ffmpeg 5.1 decodes, scales and encodes in turn); two chunks at once with one thread each finish
 * the lowest rung in 0.78 of the time. The rungs above keep a job per chunk: their encoder's tiles
 * use the threads.
 */
export function sideBySide<T extends { index: number }>(chunks: readonly T[], width: number, work: (chunk: T) => number): T[][] {
  const size = Math.max(1, Math.floor(width));
  // Chunks of like work together, most first: a job lasts as long as its longest chunk, so a short
  // one beside a long one would leave its thread idle.
  const ordered = [...chunks].sort((a, b) => work(b) - work(a) || a.index - b.index);
  const jobs: T[][] = [];
  for (let start = 0; start < ordered.length; start += size) jobs.push(ordered.slice(start, start + size).sort((a, b) => a.index - b.index));
  return jobs;
}

/**
 * A chunk's decoding work in source frames: its own, plus those from the source keyframe before its
 * start, which ffmpeg decodes to reach it (a boundary the plan could not put on a keyframe). A
 * phone's 1 s GOPs give equal chunks; the benchmark's grain clip (GOPs up to 8.3 s) had chunks of
 * 5.3 to 12.3 s of decoding, and paired adjacently a 4.8 s encode ran beside an 11.3 s one.
 */
export function chunkWork(
  chunk: { startFrame: number; frames?: number | undefined },
  totalFrames: number,
  fps: number,
  keyframeSeconds: readonly number[],
): number {
  const frames = chunk.frames ?? totalFrames - chunk.startFrame;
  const start = chunk.startFrame / fps;
  // Keyframes not read (a source planned as one piece): no lead-in known.
  const keyframe = keyframeSeconds.filter((at) => at <= start + 1e-6).at(-1) ?? start;
  return frames + Math.max(0, Math.round((start - keyframe) * fps));
}

/**
 * How a chunk of one rung is encoded: its size, bitrate, encoder effort and decoding shortcut. The
 * paid path's chunk jobs and the speculative encode both take it, so the rung they write is the same.
 */
export function rungEncodeOptions(rung: LadderRung): { maxHeight: number; videoBitrateKbps: number; speed?: LadderRung['speed']; skipLoopFilter?: true } {
  return {
    maxHeight: rung.name,
    videoBitrateKbps: rung.bitrateKbps,
    ...(rung.speed ? { speed: rung.speed } : {}),
    ...(rung.skipLoopFilter ? { skipLoopFilter: true as const } : {}),
  };
}

/** Why the paid path did not reuse a lowest rung encoded while the person paid (for its log), or the private keys it publishes by copy. */
export type AdoptedRung =
  | { reused: true; keys: { video: string; audio?: string | undefined } }
  | { reused: false; reason: 'none' | 'plan-changed' | 'files-missing'; partial?: SpeculativeParts | undefined };

/** Staged paths of a speculative encode of the same plan, cut short by the payment: the lowest rung's chunks (by index) and the audio. */
export interface SpeculativeParts {
  chunks: string[];
  audio?: string | undefined;
}

/** A ladder's plan: its rungs (lowest first), its chunks and what every job of its flow carries. */
export interface LadderEncodePlan {
  rungs: LadderRung[];
  chunks: Array<{ index: number; startFrame: number; frames?: number }>;
  chunked: ChunkedEncode & { ladder: LadderRung[] };
}

/**
 * The ladder's rungs and chunks for a source, the same whoever plans it: the paid path, and the
 * speculative encode of the lowest rung while the person pays (whose files are reused only when
 * this plan has not changed since, see speculative-rung.ts).
 */
export function planLadderEncode(
  settings: LadderSettings,
  keyframeSeconds: readonly number[],
  source: MediaInfo & { video: VideoStreamInfo },
): LadderEncodePlan {
  const fps = outputFps(source);
  const plan = planChunks({
    durationSeconds: source.durationSeconds,
    fps,
    keyframeSeconds,
    chunkSeconds: settings.CHUNK_SECONDS,
    thresholdSeconds: settings.CHUNK_THRESHOLD_SECONDS,
  });
  const totalFrames = plan.kind === 'chunked' ? plan.totalFrames : Math.max(1, Math.round(source.durationSeconds * fps));
  const chunks = plan.kind === 'chunked' ? plan.chunks : [{ index: 0, startFrame: 0 }];
  const rungs: LadderRung[] = planLadder(source.video, settings.MAX_OUTPUT_HEIGHT).map((rung) => ({
    name: rung.name,
    width: rung.width,
    height: rung.height,
    bitrateKbps: rung.bitrateKbps,
    speed: {
      ...(rung.speed.deadline ? { deadline: rung.speed.deadline } : {}),
      ...(rung.speed.cpuUsed === undefined ? {} : { cpuUsed: rung.speed.cpuUsed }),
    },
  }));
  // The lowest rung is the paid path's critical work (the full video plays when it is whole): at a
  // third of the source's size or less its chunks skip the source's deblocking when decoding.
  const lowest = rungs[0];
  if (lowest && rungs.length > 1 && 3 * Math.min(lowest.width, lowest.height) <= Math.min(source.video.width, source.video.height))
    lowest.skipLoopFilter = true;
  const top = rungs.at(-1) as LadderRung;
  const longest = Math.max(...chunks.map((chunk) => chunk.frames ?? totalFrames - chunk.startFrame)) / fps;
  // The longest work is a chunk of every rung above the lowest (one ffmpeg): their pixels together.
  const upperPixels = rungs.slice(rungs.length > 1 ? 1 : 0).reduce((sum, rung) => sum + rung.width * rung.height, 0);
  const chunked = {
    fps,
    chunks: chunks.length,
    totalFrames,
    starts: chunks.map((chunk) => chunk.startFrame),
    width: top.width,
    height: top.height,
    chunkTimeoutSeconds: encodeTimeoutSeconds(
      { durationSeconds: longest, video: { fps } },
      { width: top.width, height: Math.ceil(upperPixels / top.width) },
      settings,
    ),
    ladder: rungs,
  };
  return { rungs, chunks, chunked };
}
