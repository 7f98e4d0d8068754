import { rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PermanentError, type StageContext } from '@reelboard/bus';
import { stagedChunkPaths, stagedDashPaths, stagedPaths, type VideoAssemble } from '@reelboard/contracts';
import { isMediaError, type MediaAdapter } from '@reelboard/media';
import { encodeFps, encodeSeconds, mediaBytes } from '@reelboard/runtime';
import type { TranscodeSettings } from './handle-payment-confirmed.js';
import type { ChunkOutcome } from './handle-video-chunk.js';

/**
 * The parent of a chunked encode, run once every part is done: joins the video chunks without
 * re-encoding, muxes the audio track encoded once, checks the result as a single encode is checked
 * (covers the source's duration, cues at the front) and passes it on as `video.transcoded`.
 */
export async function handleVideoAssemble(media: MediaAdapter, settings: TranscodeSettings, job: VideoAssemble, context: StageContext): Promise<void> {
  const input = join(settings.STAGING_DIR, job.staged.source);
  const outputPath = stagedPaths(job.uploadId).video;
  const output = join(settings.STAGING_DIR, outputPath);
  // An operator's retry puts a failed chunk and this parent back together: wait for the chunk first.
  await context.waitForChildren?.();
  if (job.chunked.ladder) return finishLadder(media, settings, job, context);
  try {
    if (!context.childrenValues) throw new Error('video.assemble runs only as the parent of a flow');
    const outcomes = Object.values(await context.childrenValues()) as ChunkOutcome[];
    const source = await media.probe(input);
    const videos = outcomes.filter((o) => o.kind === 'video').sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    const missing = [...Array(job.chunked.chunks).keys()].filter((index) => !videos.some((v) => v.index === index));
    if (missing.length > 0) throw new Error(`chunks ${missing.join(', ')} of ${job.chunked.chunks} have no result`);
    const audio = outcomes.find((o) => o.kind === 'audio');
    if (source.audio && !audio) throw new Error('the audio track has no result');

    const result = await media.joinChunks(output, {
      source,
      list: join(settings.STAGING_DIR, stagedChunkPaths.list(job.uploadId)),
      chunks: videos.map((video, position) => ({
        file: basename(video.path),
        // Every chunk but the last has exactly its planned frames: its length puts the next one right after it.
        ...(position < videos.length - 1 && video.frames ? { durationSeconds: video.frames / job.chunked.fps } : {}),
      })),
      ...(audio ? { audio: join(settings.STAGING_DIR, audio.path) } : {}),
      ...(context.signal ? { signal: context.signal } : {}),
    });

    const inputBytes = (await stat(input)).size;
    const encodeWall = outcomes.reduce((sum, o) => sum + o.wallSeconds, 0);
    const replicas = [...new Set(outcomes.map((o) => o.replica))];
    context.log.info('transcoded', {
      chunked: true,
      chunks: videos.length,
      frames: videos.reduce((sum, v) => sum + (v.frames ?? 0), 0),
      replicas,
      encodeWallSeconds: Number(encodeWall.toFixed(2)),
      joinWallSeconds: result.wallSeconds,
      inputBytes,
      outputBytes: result.outputBytes,
      ratio: Number((result.outputBytes / inputBytes).toFixed(3)),
      durationSeconds: result.durationSeconds,
      outputResolution: `${result.width}x${result.height}`,
    });
    mediaBytes.inc({ stage: 'transcoder', direction: 'in' }, inputBytes);
    mediaBytes.inc({ stage: 'transcoder', direction: 'out' }, result.outputBytes);
    encodeSeconds.observe({ stage: 'transcoder', kind: 'join' }, result.wallSeconds);
    const frames = videos.reduce((sum, v) => sum + (v.frames ?? 0), 0);
    if (encodeWall > 0) encodeFps.observe({ stage: 'transcoder' }, frames / encodeWall);
    await context.status('progress', { progress: 100, message: `joined ${videos.length} chunks` });
    const { chunked: _plan, ...upload } = job;
    await context.emit('video.transcoded', {
      ...upload,
      video: { path: outputPath, bytes: result.outputBytes, durationSeconds: result.durationSeconds, width: result.width, height: result.height },
    });
    // The parts are not needed once the joined file is passed on (the daily sweep would take them too).
    await rm(join(settings.STAGING_DIR, stagedPaths(job.uploadId).chunks), { recursive: true, force: true });
  } catch (error) {
    if (isMediaError(error) && error.permanent) throw new PermanentError(error.message, error.code);
    throw error;
  }
}

/**
 * The root of a ladder's flow, once every rung is stored: the progressive WebM (the fallback for
 * players without Media Source Extensions) remuxed from the highest rung up to 1080p and the audio,
 * no encode; then the chain goes on with the ladder's manifest and rungs for the listing.
 */
async function finishLadder(media: MediaAdapter, settings: TranscodeSettings, job: VideoAssemble, context: StageContext): Promise<void> {
  const ladder = job.chunked.ladder ?? [];
  const outputPath = stagedPaths(job.uploadId).video;
  try {
    if (!context.childrenValues) throw new Error('video.assemble runs only as the parent of a flow');
    const stored = Object.values(await context.childrenValues()) as Array<{ manifestKey?: string; rung?: number }>;
    const top = stored.find((outcome) => outcome.rung === ladder.at(-1)?.name);
    if (!top?.manifestKey) throw new Error(`the top rung ${ladder.at(-1)?.name}p has no stored manifest`);
    const input = join(settings.STAGING_DIR, job.staged.source);
    const source = await media.probe(input);
    // A 4K rung is too heavy for a player that cannot switch down: the fallback stops at 1080p.
    const fallback = [...ladder].reverse().find((rung) => rung.name <= PROGRESSIVE_MAX_SHORT_SIDE) ?? ladder[0];
    if (!fallback) throw new Error('the ladder has no rung');
    const result = await media.remuxProgressive(join(settings.STAGING_DIR, outputPath), {
      source,
      video: join(settings.STAGING_DIR, stagedDashPaths.rung(job.uploadId, fallback.name)),
      ...(source.audio ? { audio: join(settings.STAGING_DIR, stagedDashPaths.audio(job.uploadId)) } : {}),
      ...(context.signal ? { signal: context.signal } : {}),
    });
    const inputBytes = (await stat(input)).size;
    context.log.info('transcoded', {
      ladder: ladder.map((rung) => `${rung.width}x${rung.height}`),
      chunks: job.chunked.chunks,
      progressive: `${result.width}x${result.height}`,
      remuxWallSeconds: result.wallSeconds,
      inputBytes,
      outputBytes: result.outputBytes,
    });
    mediaBytes.inc({ stage: 'transcoder', direction: 'in' }, inputBytes);
    mediaBytes.inc({ stage: 'transcoder', direction: 'out' }, result.outputBytes);
    await context.status('progress', { progress: 100, message: `${ladder.length} renditions stored` });
    const { chunked: _plan, ...upload } = job;
    await context.emit('video.transcoded', {
      ...upload,
      video: { path: outputPath, bytes: result.outputBytes, durationSeconds: result.durationSeconds, width: result.width, height: result.height },
      stream: { manifestKey: top.manifestKey, renditions: ladder.map(({ width, height, bitrateKbps }) => ({ width, height, bitrateKbps })) },
    });
    // Every rung is in object storage and the fallback is staged: the parts can go.
    const dir = stagedPaths(job.uploadId);
    await Promise.all([
      rm(join(settings.STAGING_DIR, dir.chunks), { recursive: true, force: true }),
      rm(join(settings.STAGING_DIR, dir.dash), { recursive: true, force: true }),
    ]);
  } catch (error) {
    if (isMediaError(error) && error.permanent) throw new PermanentError(error.message, error.code);
    throw error;
  }
}

/** The progressive fallback's short side at most (the ladder's highest rung up to this). */
const PROGRESSIVE_MAX_SHORT_SIDE = 1080;
