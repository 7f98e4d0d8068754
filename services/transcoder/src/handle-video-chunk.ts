import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PermanentError, type StageContext } from '@reelboard/bus';
import { stagedChunkPaths, stagedDashPaths, type VideoChunk } from '@reelboard/contracts';
import { isMediaError, type MediaAdapter } from '@reelboard/media';
import { encodeSeconds } from '@reelboard/runtime';
import type { ChunkOutcome } from './chunk-outcome.js';
import { shareChunkProgress } from './chunk-progress.js';
import { handleLadderChunk } from './handle-ladder-chunk.js';
import type { TranscodeSettings } from './handle-payment-confirmed.js';
import { rungEncodeOptions } from './ladder-flow.js';
import { startProgressReporter } from './progress-reporter.js';
import { takeSpeculativeAudio, takeSpeculativeChunk } from './take-speculative-part.js';

export type { ChunkOutcome, RungChunkOutcome } from './chunk-outcome.js';

/** One chunk of a video part: the job's own, or one it encodes beside it. */
interface ChunkSlot {
  index: number;
  startFrame: number;
  frames?: number | undefined;
  takeFrom?: string | undefined;
}

/**
 * Encodes one part of a long video's chunked encode: a run of frames (video only, the full
 * transcode's settings) or the whole audio track. Idempotent: a part whose output a previous run
 * finished (complete, written atomically) returns at once, so only a part whose replica died is
 * encoded again. Progress covers every part of the upload, whichever replica runs them. A part of
 * the lowest rung may carry more chunks (`alongside`): they run at once, the threads shared out.
 */
export async function handleVideoChunk(
  media: MediaAdapter,
  settings: TranscodeSettings,
  job: VideoChunk,
  context: StageContext,
  replica: string,
): Promise<ChunkOutcome> {
  const { part, chunked } = job;
  // The rungs above the lowest: one job per chunk for all of them (one decode).
  if (part.kind === 'video' && part.rungs) return handleLadderChunk(media, settings, { ...job, part: { ...part, rungs: part.rungs } }, context, replica);
  const input = join(settings.STAGING_DIR, job.staged.source);
  // A ladder's audio is its DASH audio file: written where the manifest names it.
  const path =
    part.kind === 'audio'
      ? chunked.ladder
        ? stagedDashPaths.audio(job.uploadId)
        : stagedChunkPaths.audio(job.uploadId)
      : stagedChunkPaths.video(job.uploadId, part.index, part.rung);
  const rung = part.kind === 'video' && part.rung ? chunked.ladder?.find((step) => step.name === part.rung) : undefined;
  if (part.kind === 'video' && part.rung && !rung) throw new PermanentError(`rung ${part.rung}p is not in the encode's ladder`, 'bad_plan');
  const output = join(settings.STAGING_DIR, path);
  const done = (bytes: number, encoded: boolean, wallSeconds: number, frames?: number): ChunkOutcome => ({
    kind: part.kind,
    ...(part.kind === 'video' ? { index: part.index, ...(part.rung ? { rung: part.rung } : {}) } : {}),
    path,
    bytes,
    ...(frames === undefined ? {} : { frames }),
    encoded,
    wallSeconds,
    replica,
    attempt: context.attempt,
  });
  try {
    const source = await media.probe(input);
    const withAudio = source.audio !== undefined;
    const share = shareChunkProgress(context, job.uploadId, chunked, part, withAudio);

    if (part.kind === 'audio') {
      const found = await media.findAudioTrack(output, source);
      if (found) {
        context.log.info('audio track already encoded; kept', { path });
        return done(found.outputBytes, false, 0);
      }
      const taken = part.takeFrom ? await takeSpeculativeAudio(media, settings.STAGING_DIR, part.takeFrom, output, source) : undefined;
      if (taken) {
        await share(100);
        context.log.info('audio track taken from the speculative encode', { path, from: part.takeFrom });
        return { ...done(taken.outputBytes, false, 0), taken: true };
      }
      await mkdir(dirname(output), { recursive: true });
      const audio = await media.encodeAudioTrack(input, output, {
        source,
        threads: settings.FFMPEG_THREADS,
        timeoutSeconds: chunked.chunkTimeoutSeconds,
        ...(context.signal ? { signal: context.signal } : {}),
      });
      await share(100);
      context.log.info('audio track encoded', { path, bytes: audio.outputBytes, wallSeconds: audio.wallSeconds, replica });
      return done(audio.outputBytes, true, audio.wallSeconds);
    }

    const encodeSlot = async (slot: ChunkSlot, threads: number, signal: AbortSignal): Promise<ChunkOutcome> => {
      const path = stagedChunkPaths.video(job.uploadId, slot.index, rung?.name);
      const output = join(settings.STAGING_DIR, path);
      const finished = (bytes: number, encoded: boolean, wallSeconds: number, frames: number): ChunkOutcome => ({
        ...done(bytes, encoded, wallSeconds, frames),
        index: slot.index,
        path,
      });
      const share = shareChunkProgress(
        context,
        job.uploadId,
        chunked,
        { kind: 'video', index: slot.index, startFrame: slot.startFrame, ...(rung ? { rung: rung.name } : {}) },
        withAudio,
      );
      const found = await media.findVideoChunk(output, slot.frames, chunked.fps);
      if (found) {
        context.log.info('chunk already encoded; kept', { index: slot.index, path, frames: found.frames });
        return finished(found.outputBytes, false, 0, found.frames);
      }
      const taken = slot.takeFrom ? await takeSpeculativeChunk(media, settings.STAGING_DIR, slot.takeFrom, output, slot.frames, chunked.fps) : undefined;
      if (taken) {
        await share(100);
        context.log.info('chunk taken from the speculative encode', { index: slot.index, rung: rung?.name, from: slot.takeFrom, frames: taken.frames });
        return { ...finished(taken.outputBytes, false, 0, taken.frames ?? 0), taken: true };
      }
      await mkdir(dirname(output), { recursive: true });
      const progress = startProgressReporter((percent) => {
        share(percent).catch((error: unknown) => context.log.warn('progress not reported', { error: String(error) }));
      }, settings.PROGRESS_INTERVAL_MS);
      const chunk = await media
        .encodeVideoChunk(
          input,
          output,
          {
            source,
            // A rung: its size, bitrate, encoder effort and decoding shortcut; otherwise the single rendition's.
            ...(rung ? rungEncodeOptions(rung) : { maxHeight: settings.MAX_OUTPUT_HEIGHT }),
            threads,
            fps: chunked.fps,
            startFrame: slot.startFrame,
            ...(slot.frames === undefined ? {} : { frames: slot.frames }),
            timeoutSeconds: chunked.chunkTimeoutSeconds,
            signal,
          },
          progress.update,
        )
        .finally(progress.stop);
      await share(100);
      encodeSeconds.observe({ stage: 'transcoder', kind: 'chunk' }, chunk.wallSeconds);
      context.log.info('chunk encoded', {
        index: slot.index,
        ...(rung ? { rung: rung.name } : {}),
        of: chunked.chunks,
        frames: chunk.frames,
        bytes: chunk.outputBytes,
        wallSeconds: chunk.wallSeconds,
        threads,
        ...(part.alongside ? { sideBySide: [part.index, ...part.alongside.map((other) => other.index)] } : {}),
        replica,
        attempt: context.attempt,
      });
      return finished(chunk.outputBytes, true, chunk.wallSeconds, chunk.frames);
    };

    // This job's chunk and any beside it (the lowest rung's, sideBySide in ladder-flow.ts), each
    // its own ffmpeg with an equal share of the threads; one failing stops the others (each output
    // is written whole or not at all, so a retry keeps the finished ones).
    const slots = [{ index: part.index, startFrame: part.startFrame, frames: part.frames, takeFrom: part.takeFrom }, ...(part.alongside ?? [])];
    const threads = Math.max(1, Math.floor(settings.FFMPEG_THREADS / slots.length));
    const stop = new AbortController();
    const signal = context.signal ? AbortSignal.any([context.signal, stop.signal]) : stop.signal;
    let firstError: unknown;
    const settled = await Promise.allSettled(
      slots.map((slot) =>
        encodeSlot(slot, threads, signal).catch((error: unknown) => {
          firstError ??= error;
          stop.abort();
          throw error;
        }),
      ),
    );
    // Every ffmpeg has stopped before the job fails: a retry never meets one still writing.
    if (firstError !== undefined) throw firstError;
    const outcomes = settled.map((result) => (result as PromiseFulfilledResult<ChunkOutcome>).value);
    const [first, ...rest] = outcomes as [ChunkOutcome, ...ChunkOutcome[]];
    return rest.length > 0 ? { ...first, alongside: rest } : first;
  } catch (error) {
    if (isMediaError(error) && error.permanent) throw new PermanentError(error.message, error.code);
    throw error;
  }
}
