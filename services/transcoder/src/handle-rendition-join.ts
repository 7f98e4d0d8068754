import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PermanentError, type StageContext } from '@reelboard/bus';
import { type RenditionJoin, stagedChunkPaths, stagedDashPaths } from '@reelboard/contracts';
import { isMediaError, type MediaAdapter } from '@reelboard/media';
import { encodeSeconds } from '@reelboard/runtime';
import type { TranscodeSettings } from './handle-payment-confirmed.js';
import type { ChunkOutcome } from './handle-video-chunk.js';

/** What a rung's join leaves (the job's value). */
export interface RenditionJoinOutcome {
  rung: number;
  bytes: number;
  durationSeconds: number;
}

/**
 * A rung of the ladder, once its chunks (and the rung below's store) are done: its chunks joined by
 * stream copy into the rung's DASH file, checked to cover the source, then the manifest of every
 * rung up to this one and the audio, which its store job puts in object storage. Idempotent: a
 * retry writes the same files again.
 */
export async function handleRenditionJoin(
  media: MediaAdapter,
  settings: TranscodeSettings,
  job: RenditionJoin,
  context: StageContext,
): Promise<RenditionJoinOutcome> {
  await context.waitForChildren?.();
  try {
    if (!context.childrenValues) throw new Error('rendition.join runs only as a node of the ladder flow');
    const ladder = job.chunked.ladder;
    const position = ladder?.findIndex((rung) => rung.name === job.rung) ?? -1;
    if (!ladder || position < 0) throw new PermanentError(`rung ${job.rung}p is not in the encode's ladder`, 'bad_plan');
    const outcomes = Object.values(await context.childrenValues()) as Array<Partial<ChunkOutcome>>;
    const chunks = await rungChunks(media, settings, job, outcomes);

    const input = join(settings.STAGING_DIR, job.staged.source);
    const source = await media.probe(input);
    const staged = (path: string) => join(settings.STAGING_DIR, path);
    const output = staged(stagedDashPaths.rung(job.uploadId, job.rung));
    await mkdir(dirname(output), { recursive: true });
    const joined = await media.joinRung(output, {
      source,
      list: staged(stagedDashPaths.list(job.uploadId, job.rung)),
      chunks: chunks.map((chunk, index) => ({
        file: basename(chunk.path ?? ''),
        // Every chunk but the last has exactly its planned frames: its length puts the next one right after it.
        ...(index < chunks.length - 1 && chunk.frames ? { durationSeconds: chunk.frames / job.chunked.fps } : {}),
      })),
      ...(context.signal ? { signal: context.signal } : {}),
    });
    const manifest = await media.writeDashManifest(staged(stagedDashPaths.manifest(job.uploadId, job.rung)), {
      videos: ladder.slice(0, position + 1).map((rung) => staged(stagedDashPaths.rung(job.uploadId, rung.name))),
      ...(source.audio ? { audio: staged(stagedDashPaths.audio(job.uploadId)) } : {}),
      ...(context.signal ? { signal: context.signal } : {}),
    });
    encodeSeconds.observe({ stage: 'transcoder', kind: 'join' }, joined.wallSeconds);
    context.log.info('rendition joined', {
      rung: job.rung,
      of: ladder.map((rung) => rung.name),
      chunks: chunks.length,
      bytes: joined.outputBytes,
      resolution: `${joined.width}x${joined.height}`,
      durationSeconds: joined.durationSeconds,
      manifestBytes: manifest.outputBytes,
      encodeWallSeconds: Number(chunks.reduce((sum, chunk) => sum + (chunk.wallSeconds ?? 0), 0).toFixed(2)),
    });
    return { rung: job.rung, bytes: joined.outputBytes, durationSeconds: joined.durationSeconds };
  } catch (error) {
    if (isMediaError(error) && error.permanent) throw new PermanentError(error.message, error.code);
    throw error;
  }
}

/**
 * The rung's chunks, in order: from its own children's values (the lowest rung's chunk jobs, or the
 * rungs-above-the-lowest jobs under the first upper rung's join), else from the staged chunk
 * files, checked whole: a join above the first upper rung has no chunk jobs of its own, the one job
 * per chunk that encoded every upper rung is a child of the join below it.
 */
async function rungChunks(
  media: MediaAdapter,
  settings: TranscodeSettings,
  job: RenditionJoin,
  outcomes: Array<Partial<ChunkOutcome>>,
): Promise<Array<{ index: number; path: string; frames?: number | undefined; wallSeconds?: number | undefined }>> {
  const { chunked } = job;
  const fromValues = outcomes
    .flatMap((outcome) => [outcome, ...(outcome.alongside ?? [])])
    .flatMap((outcome) => {
      if (outcome.kind !== 'video' || outcome.index === undefined) return [];
      if (outcome.outputs)
        return outcome.outputs.filter((o) => o.rung === job.rung).map((o) => ({ ...o, index: outcome.index as number, wallSeconds: outcome.wallSeconds }));
      return outcome.rung === job.rung && outcome.path
        ? [{ index: outcome.index, path: outcome.path, frames: outcome.frames, wallSeconds: outcome.wallSeconds }]
        : [];
    });
  const chunks = [];
  const missing = [];
  for (let index = 0; index < chunked.chunks; index++) {
    const known = fromValues.find((chunk) => chunk.index === index);
    if (known) {
      chunks.push(known);
      continue;
    }
    const path = stagedChunkPaths.video(job.uploadId, index, job.rung);
    const start = chunked.starts?.[index];
    const next = chunked.starts?.[index + 1];
    const frames = start !== undefined && next !== undefined ? next - start : undefined;
    const found = await media.findVideoChunk(join(settings.STAGING_DIR, path), frames, chunked.fps);
    if (found) chunks.push({ index, path, frames: found.frames });
    else missing.push(index);
  }
  if (missing.length > 0) throw new Error(`chunks ${missing.join(', ')} of rung ${job.rung}p have no result`);
  return chunks;
}
