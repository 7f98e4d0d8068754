import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PermanentError, type StageContext } from '@reelboard/bus';
import { type PreviewExtracted, stagedPaths, type VideoTranscoded } from '@reelboard/contracts';
import { DEFAULT_STORYBOARD, isMediaError, type MediaAdapter } from '@reelboard/media';
import { encodeSeconds, mediaBytes } from '@reelboard/runtime';
import type { PreviewConfig } from './config.js';

export type PreviewSettings = Pick<PreviewConfig, 'STAGING_DIR' | 'PREVIEW_SECONDS' | 'PREVIEW_MAX_HEIGHT' | 'FFMPEG_THREADS' | 'STORYBOARD_INTERVAL_SECONDS'>;

/**
 * Ensures the upload has a short muted preview clip and a poster image. The transcoder normally cut
 * both from the source already (and the uploader stored them early); they are cut here, from the
 * transcoded video, only when they are missing (a job from before that change, a lost staging file).
 * Then the storyboard (makeStoryboard).
 */
export async function handleVideoTranscoded(media: MediaAdapter, settings: PreviewSettings, upload: VideoTranscoded, context: StageContext): Promise<void> {
  try {
    const assets = (await stagedEarly(settings.STAGING_DIR, upload)) ?? (await cutFromTranscode(media, settings, upload, context));
    const storyboard = await makeStoryboard(media, settings, upload, context);
    await context.emit('preview.extracted', { ...upload, ...assets, ...(storyboard ? { storyboard } : {}) });
  } catch (error) {
    if (isMediaError(error) && error.permanent) throw new PermanentError(error.message, error.code);
    throw error;
  }
}

type Assets = Pick<PreviewExtracted, 'preview' | 'poster'>;

/** The preview and poster the transcoder cut, if the payload names them and both are still staged. */
async function stagedEarly(stagingDir: string, upload: VideoTranscoded): Promise<Assets | undefined> {
  if (!upload.preview || !upload.poster) return undefined;
  const sizes = await Promise.all(
    [upload.preview.path, upload.poster.path].map((path) =>
      stat(join(stagingDir, path)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  if (sizes.some((size) => size === 0)) return undefined;
  return { preview: upload.preview, poster: upload.poster };
}

async function cutFromTranscode(media: MediaAdapter, settings: PreviewSettings, upload: VideoTranscoded, context: StageContext): Promise<Assets> {
  const input = join(settings.STAGING_DIR, upload.video.path);
  const paths = stagedPaths(upload.uploadId);
  const source = await media.probe(input);
  // One ffmpeg run for both, as the transcoder cuts them from the source.
  const { preview, poster } = await media.extractPreviewAndPoster(input, join(settings.STAGING_DIR, paths.preview), join(settings.STAGING_DIR, paths.poster), {
    seconds: settings.PREVIEW_SECONDS,
    maxHeight: settings.PREVIEW_MAX_HEIGHT,
    threads: settings.FFMPEG_THREADS,
    source,
    ...(context.signal ? { signal: context.signal } : {}),
  });
  context.log.info('preview and poster extracted', {
    previewBytes: preview.outputBytes,
    previewSeconds: preview.durationSeconds,
    previewWallSeconds: Number(preview.wallSeconds.toFixed(2)),
    posterBytes: poster.outputBytes,
    posterAtSeconds: poster.atSeconds,
  });
  mediaBytes.inc({ stage: 'preview-extractor', direction: 'out' }, preview.outputBytes + poster.outputBytes);
  encodeSeconds.observe({ stage: 'preview-extractor', kind: 'preview' }, preview.wallSeconds);
  return {
    preview: { path: paths.preview, bytes: preview.outputBytes, durationSeconds: preview.durationSeconds },
    poster: { path: paths.poster, bytes: poster.outputBytes },
  };
}

/**
 * Thumbnails every STORYBOARD_INTERVAL_SECONDS tiled into sprite sheets, with their WebVTT index, for
 * scrubbing in the player. Made from the source (decoded once, only the kept frames scaled): the
 * source is there for every upload, the ladder's lowest rung not yet (the seam for it is the input).
 */
async function makeStoryboard(
  media: MediaAdapter,
  settings: PreviewSettings,
  upload: VideoTranscoded,
  context: StageContext,
): Promise<PreviewExtracted['storyboard']> {
  const interval = settings.STORYBOARD_INTERVAL_SECONDS;
  if (interval === 0) return undefined;
  const dir = `${upload.uploadId}/storyboard`;
  const result = await media.extractStoryboard(join(settings.STAGING_DIR, upload.staged.source), join(settings.STAGING_DIR, dir), {
    settings: { ...DEFAULT_STORYBOARD, intervalSeconds: interval },
    threads: settings.FFMPEG_THREADS,
    ...(context.signal ? { signal: context.signal } : {}),
  });
  context.log.info('storyboard made', {
    thumbnails: result.plan.cues.length,
    intervalSeconds: result.plan.intervalSeconds,
    sprites: result.plan.sprites,
    bytes: result.bytes,
    wallSeconds: Number(result.wallSeconds.toFixed(2)),
  });
  mediaBytes.inc({ stage: 'preview-extractor', direction: 'out' }, result.bytes);
  encodeSeconds.observe({ stage: 'preview-extractor', kind: 'storyboard' }, result.wallSeconds);
  return { dir, files: result.files };
}
