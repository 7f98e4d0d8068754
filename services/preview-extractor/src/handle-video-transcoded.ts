import { join } from 'node:path';
import { PermanentError, type StageContext } from '@reelboard/bus';
import type { VideoTranscoded } from '@reelboard/contracts';
import { isMediaError, type MediaAdapter } from '@reelboard/media';
import { encodeSeconds, mediaBytes } from '@reelboard/runtime';
import type { PreviewConfig } from './config.js';

export type PreviewSettings = Pick<PreviewConfig, 'STAGING_DIR' | 'PREVIEW_SECONDS' | 'PREVIEW_MAX_HEIGHT' | 'FFMPEG_THREADS'>;

/** A short muted preview clip and a poster image, cut from the transcoded video. */
export async function handleVideoTranscoded(media: MediaAdapter, settings: PreviewSettings, upload: VideoTranscoded, context: StageContext): Promise<void> {
  const input = join(settings.STAGING_DIR, upload.video.path);
  const previewPath = `${upload.uploadId}/preview.webm`;
  const posterPath = `${upload.uploadId}/poster.webp`;
  try {
    const source = await media.probe(input);
    const preview = await media.extractPreview(input, join(settings.STAGING_DIR, previewPath), {
      seconds: settings.PREVIEW_SECONDS,
      maxHeight: settings.PREVIEW_MAX_HEIGHT,
      threads: settings.FFMPEG_THREADS,
      source,
    });
    const poster = await media.extractPoster(input, join(settings.STAGING_DIR, posterPath), { source });
    context.log.info('preview and poster extracted', {
      previewBytes: preview.outputBytes,
      previewSeconds: preview.durationSeconds,
      previewWallSeconds: Number(preview.wallSeconds.toFixed(2)),
      posterBytes: poster.outputBytes,
      posterAtSeconds: poster.atSeconds,
    });
    mediaBytes.inc({ stage: 'preview-extractor', direction: 'out' }, preview.outputBytes + poster.outputBytes);
    encodeSeconds.observe({ stage: 'preview-extractor', kind: 'preview' }, preview.wallSeconds);
    await context.emit('preview.extracted', {
      ...upload,
      preview: { path: previewPath, bytes: preview.outputBytes, durationSeconds: preview.durationSeconds },
      poster: { path: posterPath, bytes: poster.outputBytes },
    });
  } catch (error) {
    if (isMediaError(error) && error.permanent) throw new PermanentError(error.message, error.code);
    throw error;
  }
}
