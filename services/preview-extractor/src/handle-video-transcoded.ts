import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PermanentError, type StageContext } from '@reelboard/bus';
import { type PreviewExtracted, stagedPaths, type VideoTranscoded } from '@reelboard/contracts';
import { isMediaError, type MediaAdapter } from '@reelboard/media';
import { encodeSeconds, mediaBytes } from '@reelboard/runtime';
import type { PreviewConfig } from './config.js';

export type PreviewSettings = Pick<PreviewConfig, 'STAGING_DIR' | 'PREVIEW_SECONDS' | 'PREVIEW_MAX_HEIGHT' | 'FFMPEG_THREADS'>;

/**
 * Ensures the upload has a short muted preview clip and a poster image. The transcoder normally cut
 * both from the source already (and the uploader stored them early); they are cut here, from the
 * transcoded video, only when they are missing (a job from before that change, a lost staging file).
 */
export async function handleVideoTranscoded(media: MediaAdapter, settings: PreviewSettings, upload: VideoTranscoded, context: StageContext): Promise<void> {
  try {
    const assets = (await stagedEarly(settings.STAGING_DIR, upload)) ?? (await cutFromTranscode(media, settings, upload, context));
    await context.emit('preview.extracted', { ...upload, ...assets });
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
