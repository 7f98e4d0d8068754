import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PermanentError, type StageContext } from '@reelboard/bus';
import { type PaymentConfirmed, stagedDashPaths, stagedPaths } from '@reelboard/contracts';
import { assertPlayableVideo, fitShortSide, isMediaError, type MediaAdapter, type MediaInfo, outputFps, type VideoStreamInfo } from '@reelboard/media';
import { encodeFps, encodeSeconds, mediaBytes } from '@reelboard/runtime';
import { planChunks } from './chunk-plan.js';
import type { TranscoderConfig } from './config.js';
import { type CutPreviewResult, cutPreviewFromSource } from './cut-preview.js';
import { encodeTimeoutSeconds } from './encode-timeout.js';
import { startLadderEncode } from './ladder-flow.js';
import { startProgressReporter } from './progress-reporter.js';
import { readSpeculativeCut } from './speculative-cut.js';
import { adoptSpeculativeRung } from './speculative-rung.js';

export type TranscodeSettings = Pick<
  TranscoderConfig,
  | 'STAGING_DIR'
  | 'FFMPEG_THREADS'
  | 'MAX_OUTPUT_HEIGHT'
  | 'MAX_DURATION_SECONDS'
  | 'MAX_SOURCE_SIDE'
  | 'PROGRESS_INTERVAL_MS'
  | 'PREVIEW_SECONDS'
  | 'PREVIEW_MAX_HEIGHT'
  | 'FFMPEG_TIMEOUT_SECONDS'
  | 'ENCODE_MIN_MEGAPIXELS_PER_SECOND'
  | 'CHUNK_THRESHOLD_SECONDS'
  | 'CHUNK_SECONDS'
> &
  // Optional so settings built before the ladder (tests of the single-rendition flow) keep that flow.
  Partial<Pick<TranscoderConfig, 'STREAM_LADDER'>>;

/**
 * A paid upload's video becomes VP9/Opus WebM. First the preview loop and poster are cut from the
 * source and handed to the uploader (`preview.early`), so the listing is playable in seconds; then
 * the full transcode runs: in one piece, or, for a video longer than CHUNK_THRESHOLD_SECONDS, as a
 * BullMQ flow of chunks that every free replica shares (video.chunk) and a join (video.assemble),
 * which emits video.transcoded in its place. What ffmpeg cannot or should not handle (not a video, audio only, too
 * long, too large, undecodable, truncated) fails for good with a reason; anything else (ffmpeg
 * killed, disk full) is retried.
 */
export async function handlePaymentConfirmed(media: MediaAdapter, settings: TranscodeSettings, upload: PaymentConfirmed, context: StageContext): Promise<void> {
  const input = join(settings.STAGING_DIR, upload.staged.source);
  const outputPath = stagedPaths(upload.uploadId).video;
  const output = join(settings.STAGING_DIR, outputPath);
  // Milliseconds from the job's start to each step, logged with the plan: where the paid path's time goes.
  const started = performance.now();
  const steps: Record<string, number> = {};
  const mark = (step: string) => {
    steps[step] = Math.round(performance.now() - started);
  };
  try {
    // Cut while the person paid (handlePreviewSpeculative): published first, before the probe, so
    // the listing is playable in the time a copy inside S3 takes. Missing: cut here as before.
    const speculative = await readSpeculativeCut(settings.STAGING_DIR, upload.uploadId);
    if (speculative) {
      await context.emit('preview.early', { ...upload, preview: speculative.preview, poster: speculative.poster, speculative: speculative.keys });
      context.log.info('preview and poster cut while the payment was pending: published by copy', { cutAt: speculative.cutAt });
    }
    const source = await media.probe(input);
    mark('probed');
    assertWithinLimits(source, settings, input);
    // The upload's folder normally holds the source already; a source staged elsewhere must not fail the encode.
    await mkdir(dirname(output), { recursive: true });

    // A video that may be chunked needs its keyframe times for the plan: read them (a demux of the
    // whole file, no decode) while the preview is cut, not after, so the chunks start as soon as the
    // listing is playable. A failure surfaces where the plan awaits it.
    const ladder = settings.STREAM_LADDER === true && context.emitFlow !== undefined;
    const keyframes = source.durationSeconds > settings.CHUNK_THRESHOLD_SECONDS && context.emitFlow ? media.probePackets(input) : undefined;
    keyframes?.catch(() => {});
    // Nothing was cut while the person paid (paid at once): the ladder's audio track is encoded
    // beside the preview cut, on the core the cut leaves idle, so the flow's audio job finds it
    // whole and the lowest rung's chunks start at once. A failure here only logs: that job encodes it.
    const audioBeside =
      ladder && !speculative && source.audio
        ? encodeAudioBeside(media, settings, upload, input, source, context).catch((error: unknown) => {
            if (context.signal?.aborted) return;
            context.log.warn('audio track not encoded beside the preview; its chunk job will', { error: String(error) });
          })
        : undefined;
    const early: CutPreviewResult = speculative
      ? { preview: speculative.preview, poster: speculative.poster, wallSeconds: 0, reused: true, posterFallback: false }
      : await cutPreviewFromSource(media, settings, upload.uploadId, input, source, context.signal);
    if (!speculative) {
      context.log.info('preview and poster cut from the source', {
        previewBytes: early.preview.bytes,
        posterBytes: early.poster.bytes,
        wallSeconds: Number(early.wallSeconds.toFixed(2)),
        reused: early.reused,
        posterFallback: early.posterFallback,
      });
      if (!early.reused) encodeSeconds.observe({ stage: 'transcoder', kind: 'preview' }, early.wallSeconds);
      await context.emit('preview.early', { ...upload, preview: early.preview, poster: early.poster });
    }

    mark('previewDone');
    if (audioBeside) await audioBeside.then(() => mark('audioDone'));
    if (ladder && context.emitFlow) {
      if (keyframes) await keyframes.then(() => mark('keyframesRead'));
      const planned = await startLadderEncode(
        settings,
        upload,
        keyframes ? (await keyframes).keyframeSeconds : [],
        source,
        early,
        { ...context, emitFlow: context.emitFlow },
        (plan, withAudio) => adoptSpeculativeRung(settings.STAGING_DIR, upload.uploadId, plan, withAudio),
      );
      mark('flowAdded');
      await context.status('progress', { progress: 0, message: `transcoding ${planned.rungs.length} renditions, lowest first` });
      context.log.info('rendition ladder planned', {
        rungs: planned.rungs.map((rung) => `${rung.width}x${rung.height}@${rung.bitrateKbps}k`),
        chunks: planned.chunks,
        lowestRungEncodedWhilePaying: planned.speculative?.reused ? 'reused' : (planned.speculative?.reason ?? 'none'),
        speculativePartsOffered: planned.speculative?.reused === false && planned.speculative.partial !== undefined,
        msSinceStart: steps,
      });
      return;
    }
    if (keyframes) {
      const chunked = await startChunkedEncode(settings, upload, (await keyframes).keyframeSeconds, source, early, context);
      if (chunked) return;
    }

    const progress = startProgressReporter((percent) => {
      context.status('progress', { progress: percent, message: 'transcoding' }).catch((error: unknown) => {
        context.log.warn('progress not reported', { error: String(error) });
      });
    }, settings.PROGRESS_INTERVAL_MS);
    const timeoutSeconds = encodeTimeoutSeconds(source, fitShortSide(source.video, settings.MAX_OUTPUT_HEIGHT), settings);
    const result = await media
      .transcodeToVp9(
        input,
        output,
        {
          maxHeight: settings.MAX_OUTPUT_HEIGHT,
          threads: settings.FFMPEG_THREADS,
          source,
          timeoutSeconds,
          ...(context.signal ? { signal: context.signal } : {}),
        },
        progress.update,
      )
      .finally(progress.stop);

    const inputBytes = (await stat(input)).size;
    context.log.info('transcoded', {
      inputBytes,
      outputBytes: result.outputBytes,
      ratio: Number((result.outputBytes / inputBytes).toFixed(3)),
      durationSeconds: result.durationSeconds,
      inputResolution: `${source.video.width}x${source.video.height}`,
      outputResolution: `${result.width}x${result.height}`,
      fps: Number(result.fps.toFixed(1)),
      wallSeconds: Number(result.wallSeconds.toFixed(2)),
    });
    mediaBytes.inc({ stage: 'transcoder', direction: 'in' }, inputBytes);
    mediaBytes.inc({ stage: 'transcoder', direction: 'out' }, result.outputBytes);
    encodeSeconds.observe({ stage: 'transcoder', kind: 'transcode' }, result.wallSeconds);
    encodeFps.observe({ stage: 'transcoder' }, result.fps);
    await context.emit('video.transcoded', {
      ...upload,
      preview: early.preview,
      poster: early.poster,
      video: { path: outputPath, bytes: result.outputBytes, durationSeconds: result.durationSeconds, width: result.width, height: result.height },
    });
  } catch (error) {
    if (isMediaError(error) && error.permanent) throw new PermanentError(error.message, error.code);
    throw error;
  }
}

/** The ladder's DASH audio track, where the flow's audio job looks first (kept when whole). */
async function encodeAudioBeside(
  media: MediaAdapter,
  settings: TranscodeSettings,
  upload: PaymentConfirmed,
  input: string,
  source: MediaInfo,
  context: StageContext,
): Promise<void> {
  const output = join(settings.STAGING_DIR, stagedDashPaths.audio(upload.uploadId));
  if (await media.findAudioTrack(output, source)) return;
  await mkdir(dirname(output), { recursive: true });
  const track = await media.encodeAudioTrack(input, output, {
    source,
    threads: 1,
    timeoutSeconds: settings.FFMPEG_TIMEOUT_SECONDS,
    ...(context.signal ? { signal: context.signal } : {}),
  });
  context.log.info('audio track encoded beside the preview', { bytes: track.outputBytes, wallSeconds: track.wallSeconds });
}

/**
 * Plans the chunks and adds the flow (one child per chunk and one for the audio, the join as parent).
 * False when the plan says one piece after all (too few chunks once aligned on keyframes).
 */
async function startChunkedEncode(
  settings: TranscodeSettings,
  upload: PaymentConfirmed,
  keyframeSeconds: readonly number[],
  source: MediaInfo & { video: VideoStreamInfo },
  early: CutPreviewResult,
  context: StageContext,
): Promise<boolean> {
  const fps = outputFps(source);
  const plan = planChunks({
    durationSeconds: source.durationSeconds,
    fps,
    keyframeSeconds,
    chunkSeconds: settings.CHUNK_SECONDS,
    thresholdSeconds: settings.CHUNK_THRESHOLD_SECONDS,
  });
  if (plan.kind === 'single' || !context.emitFlow) return false;
  const size = fitShortSide(source.video, settings.MAX_OUTPUT_HEIGHT);
  const longest = Math.max(...plan.chunks.map((chunk) => chunk.frames ?? plan.totalFrames - chunk.startFrame)) / fps;
  const chunked = {
    fps,
    chunks: plan.chunks.length,
    totalFrames: plan.totalFrames,
    starts: plan.chunks.map((chunk) => chunk.startFrame),
    width: size.width,
    height: size.height,
    chunkTimeoutSeconds: encodeTimeoutSeconds({ durationSeconds: longest, video: { fps } }, size, settings),
  };
  // Replicas take the children in this order: the audio track (as long to encode as a chunk or
  // two on a long video) first, so it never lands in the last round beside the short pieces.
  const parts = [
    ...(source.audio ? [{ kind: 'audio' as const }] : []),
    ...plan.chunks.map((chunk) => ({
      kind: 'video' as const,
      index: chunk.index,
      startFrame: chunk.startFrame,
      ...(chunk.frames === undefined ? {} : { frames: chunk.frames }),
    })),
  ];
  await context.emitFlow(
    { channel: 'video.assemble', payload: { ...upload, chunked, preview: early.preview, poster: early.poster } },
    parts.map((part) => ({ channel: 'video.chunk' as const, payload: { ...upload, chunked, part } })),
  );
  await context.status('progress', { progress: 0, message: `transcoding in ${plan.chunks.length} chunks` });
  context.log.info('chunked encode planned', {
    chunks: plan.chunks.length,
    fps,
    totalFrames: plan.totalFrames,
    boundaries: plan.chunks.map((chunk) => Number((chunk.startFrame / fps).toFixed(3))),
    audio: source.audio !== undefined,
  });
  return true;
}

/** Refuses, for good, a source that is not a playable video or exceeds the configured limits. */
export function assertWithinLimits(
  source: MediaInfo,
  settings: Pick<TranscodeSettings, 'MAX_DURATION_SECONDS' | 'MAX_SOURCE_SIDE'>,
  input: string,
): asserts source is MediaInfo & { video: NonNullable<MediaInfo['video']> } {
  assertPlayableVideo(source, input);
  if (source.durationSeconds > settings.MAX_DURATION_SECONDS) {
    throw new PermanentError(`video is ${Math.round(source.durationSeconds)} s long; the limit is ${settings.MAX_DURATION_SECONDS} s`, 'too_long');
  }
  const longSide = Math.max(source.video.width, source.video.height);
  if (longSide > settings.MAX_SOURCE_SIDE) {
    throw new PermanentError(`video is ${source.video.width}x${source.video.height}; at most ${settings.MAX_SOURCE_SIDE} px on its long side`, 'too_large');
  }
}
