import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PermanentError, type StageContext } from '@reelboard/bus';
import { type LadderRung, stagedChunkPaths, type VideoChunk } from '@reelboard/contracts';
import { isMediaError, type MediaAdapter } from '@reelboard/media';
import { encodeSeconds } from '@reelboard/runtime';
import type { ChunkOutcome, RungChunkOutcome } from './chunk-outcome.js';
import { shareChunkProgress } from './chunk-progress.js';
import type { TranscodeSettings } from './handle-payment-confirmed.js';
import { startProgressReporter } from './progress-reporter.js';

/** A video chunk job for several rungs at once (`part.rungs`). */
export type LadderChunkJob = VideoChunk & { part: Extract<VideoChunk['part'], { kind: 'video' }> & { rungs: number[] } };

/**
 * One chunk of every rung above the lowest, from one decode of the source (one ffmpeg, a scale and
 * an encoder per rung), each rung's chunk at its own staged path, where its join finds it.
 * Idempotent per rung: a rung whose chunk a previous run left whole is kept, only the missing ones
 * are encoded (a run that died wrote no rung's file: they are renamed into place together).
 */
export async function handleLadderChunk(
  media: MediaAdapter,
  settings: TranscodeSettings,
  job: LadderChunkJob,
  context: StageContext,
  replica: string,
): Promise<ChunkOutcome> {
  const { part, chunked } = job;
  if (part.rung !== undefined) throw new PermanentError(`chunk ${part.index} names both a rung and rungs`, 'bad_plan');
  const rungs = part.rungs.map((name) => {
    const rung = chunked.ladder?.find((step) => step.name === name);
    if (!rung) throw new PermanentError(`rung ${name}p is not in the encode's ladder`, 'bad_plan');
    return rung;
  });
  const input = join(settings.STAGING_DIR, job.staged.source);
  const staged = (rung: LadderRung) => stagedChunkPaths.video(job.uploadId, part.index, rung.name);
  try {
    const source = await media.probe(input);
    const kept: RungChunkOutcome[] = [];
    const missing: LadderRung[] = [];
    for (const rung of rungs) {
      const found = await media.findVideoChunk(join(settings.STAGING_DIR, staged(rung)), part.frames, chunked.fps);
      if (found) kept.push({ rung: rung.name, path: staged(rung), bytes: found.outputBytes, frames: found.frames, encoded: false });
      else missing.push(rung);
    }
    if (kept.length > 0) context.log.info('rung chunks already encoded; kept', { index: part.index, rungs: kept.map((chunk) => chunk.rung) });

    let wallSeconds = 0;
    const encoded: RungChunkOutcome[] = [];
    if (missing.length > 0) {
      const share = shareChunkProgress(context, job.uploadId, chunked, part, source.audio !== undefined);
      await mkdir(dirname(join(settings.STAGING_DIR, staged(missing[0] as LadderRung))), { recursive: true });
      const progress = startProgressReporter((percent) => {
        share(percent).catch((error: unknown) => context.log.warn('progress not reported', { error: String(error) }));
      }, settings.PROGRESS_INTERVAL_MS);
      const results = await media
        .encodeLadderChunk(
          input,
          {
            source,
            rungs: missing.map((rung) => ({
              output: join(settings.STAGING_DIR, staged(rung)),
              maxHeight: rung.name,
              videoBitrateKbps: rung.bitrateKbps,
              ...(rung.speed ? { speed: rung.speed } : {}),
            })),
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
      for (const [position, rung] of missing.entries()) {
        const result = results[position];
        if (!result) throw new Error(`no output for rung ${rung.name}p of chunk ${part.index}`);
        encoded.push({ rung: rung.name, path: staged(rung), bytes: result.outputBytes, frames: result.frames, encoded: true });
        wallSeconds = result.wallSeconds;
      }
      encodeSeconds.observe({ stage: 'transcoder', kind: 'chunk' }, wallSeconds);
      context.log.info('rung chunks encoded from one decode', {
        index: part.index,
        of: chunked.chunks,
        rungs: encoded.map((chunk) => ({ rung: chunk.rung, frames: chunk.frames, bytes: chunk.bytes })),
        wallSeconds,
        replica,
        attempt: context.attempt,
      });
    }
    const outputs = rungs.map((rung) => [...kept, ...encoded].find((chunk) => chunk.rung === rung.name) as RungChunkOutcome);
    const first = outputs[0] as RungChunkOutcome;
    return {
      kind: 'video',
      index: part.index,
      path: first.path,
      bytes: outputs.reduce((sum, chunk) => sum + chunk.bytes, 0),
      frames: first.frames,
      outputs,
      encoded: encoded.length > 0,
      wallSeconds,
      replica,
      attempt: context.attempt,
    };
  } catch (error) {
    if (isMediaError(error) && error.permanent) throw new PermanentError(error.message, error.code);
    throw error;
  }
}
