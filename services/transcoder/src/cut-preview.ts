import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type PreviewEarly, stagedPaths } from '@reelboard/contracts';
import type { MediaAdapter, MediaInfo } from '@reelboard/media';

export interface PreviewSettings {
  STAGING_DIR: string;
  /** Length of the preview loop. */
  PREVIEW_SECONDS: number;
  /** The preview's short side is at most this. */
  PREVIEW_MAX_HEIGHT: number;
  FFMPEG_THREADS: number;
}

export interface CutPreviewResult {
  preview: PreviewEarly['preview'];
  poster: PreviewEarly['poster'];
  /** Wall seconds spent cutting (0 when a previous attempt's files were reused). */
  wallSeconds: number;
  /** True when both files were already staged by a previous attempt. */
  reused: boolean;
  /** The poster came from a later candidate because the first one was dark (false when reused). */
  posterFallback: boolean;
}

/**
 * Cuts the preview loop and the poster from the source, before the full transcode, so the listing
 * is playable in seconds. Files a previous attempt finished are kept (both are written atomically),
 * so a retried transcode does not cut them again.
 */
export async function cutPreviewFromSource(
  media: MediaAdapter,
  settings: PreviewSettings,
  uploadId: string,
  input: string,
  source: MediaInfo,
  signal?: AbortSignal,
  /** Where to stage both (relative to STAGING_DIR): the upload's own files unless told otherwise (the speculative cut's). */
  paths: { preview: string; poster: string } = stagedPaths(uploadId),
): Promise<CutPreviewResult> {
  const previewFile = join(settings.STAGING_DIR, paths.preview);
  const posterFile = join(settings.STAGING_DIR, paths.poster);
  const [previewStat, posterStat] = await Promise.all([statOrUndefined(previewFile), statOrUndefined(posterFile)]);
  if (previewStat && posterStat && previewStat.size > 0 && posterStat.size > 0) {
    const staged = await media.probe(previewFile);
    return {
      preview: { path: paths.preview, bytes: previewStat.size, durationSeconds: staged.durationSeconds },
      poster: { path: paths.poster, bytes: posterStat.size },
      wallSeconds: 0,
      reused: true,
      posterFallback: false,
    };
  }
  const started = performance.now();
  // One ffmpeg run for both: the source's first seconds are decoded once (the dearest part, for a
  // 1080p H.264 source) and feed the preview and the poster's first candidate, whose luma is measured
  // in the same run; only a dark first frame costs more runs. On 2 cores and the 60 s 1080p benchmark
  // clip this takes about as long as the preview alone (docs/benchmarks/reports/2026-12-02-first-playable.md).
  const { preview, poster, posterFallback } = await media.extractPreviewAndPoster(input, previewFile, posterFile, {
    seconds: settings.PREVIEW_SECONDS,
    maxHeight: settings.PREVIEW_MAX_HEIGHT,
    threads: settings.FFMPEG_THREADS,
    source,
    ...(signal ? { signal } : {}),
  });
  return {
    preview: { path: paths.preview, bytes: preview.outputBytes, durationSeconds: preview.durationSeconds },
    poster: { path: paths.poster, bytes: poster.outputBytes },
    wallSeconds: (performance.now() - started) / 1000,
    reused: false,
    posterFallback,
  };
}

async function statOrUndefined(path: string) {
  return stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}
