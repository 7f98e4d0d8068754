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
import { startProgressReporter } from './progress-reporter.js';
import { takeSpeculativeAudio, takeSpeculativeChunk } from './take-speculative-part.js';

export type { ChunkOutcome, RungChunkOutcome } from './chunk-outcome.js';

/**
 * Encodes one part of a long video's chunked encode: a run of frames (video only, the full
 * transcode's settings) or the whole audio track. Idempotent: a part whose output a previous run
 * finished (complete, written atomically) returns at once, so only a part whose replica died is
 * encoded again. Progress covers every part of the upload, whichever replica runs them.
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
    const share = shareChunkProgress(context, job.uploadId, chunked, part, source.audio !== undefined);

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

    const found = await media.findVideoChunk(output, part.frames, chunked.fps);
    if (found) {
      context.log.info('chunk already encoded; kept', { index: part.index, path, frames: found.frames });
      return done(found.outputBytes, false, 0, found.frames);
    }
    const taken = part.takeFrom ? await takeSpeculativeChunk(media, settings.STAGING_DIR, part.takeFrom, output, part.frames, chunked.fps) : undefined;
    if (taken) {
      await share(100);
      context.log.info('chunk taken from the speculative encode', { index: part.index, rung: part.rung, from: part.takeFrom, frames: taken.frames });
      return { ...done(taken.outputBytes, false, 0, taken.frames), taken: true };
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
          // A rung: its size, bitrate and encoder effort; otherwise the single rendition's.
          maxHeight: rung ? rung.name : settings.MAX_OUTPUT_HEIGHT,
          ...(rung ? { videoBitrateKbps: rung.bitrateKbps, ...(rung.speed ? { speed: rung.speed } : {}) } : {}),
          threads: settings.FFMPEG_THREADS,
          fps: chunked.fps,
          startFrame: part.startFrame,
          ...(part.frames === undefined ? {} : { frames: part.frames }),
          timeoutSeconds: chunked.chunkTimeoutSeconds,
          ...(context.signal ? { signal: context.signal } : {}),
        },
        progress.update,
      )
      .finally(progress.stop);
    await share(100);
    encodeSeconds.observe({ stage: 'transcoder', kind: 'chunk' }, chunk.wallSeconds);
    context.log.info('chunk encoded', {
      index: part.index,
      ...(rung ? { rung: rung.name } : {}),
      of: chunked.chunks,
      frames: chunk.frames,
      bytes: chunk.outputBytes,
      wallSeconds: chunk.wallSeconds,
      replica,
      attempt: context.attempt,
    });
    return done(chunk.outputBytes, true, chunk.wallSeconds, chunk.frames);
  } catch (error) {
    if (isMediaError(error) && error.permanent) throw new PermanentError(error.message, error.code);
    throw error;
  }
}
