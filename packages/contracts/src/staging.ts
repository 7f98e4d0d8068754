/** The file names inside an upload's staging folder (`<STAGING_DIR>/<uploadId>/`); every service names them from here. */
export const STAGED_FILES = {
  /** The video as the person sent it. */
  source: 'source',
  /** The logo as sent, before the gateway normalises it. */
  logoOriginal: 'logo-original',
  /** The logo, a square WebP. */
  logo: 'logo.webp',
  /** The full VP9/Opus transcode. */
  video: 'video.webm',
  /** The short muted loop. */
  preview: 'preview.webm',
  /** The poster image. */
  poster: 'poster.webp',
  /** A chunked encode's parts (video chunks, the audio track, the join list), kept until the join is done. */
  chunks: 'chunks',
  /** A ladder's DASH files (each rung, the audio, the manifests), kept until they are stored. */
  dash: 'dash',
} as const;

export type StagedFile = keyof typeof STAGED_FILES;

/** An upload's staged files as paths relative to the staging directory (what payloads carry). */
export function stagedPaths(uploadId: string): Record<StagedFile, string> & { dir: string } {
  const paths = { dir: uploadId } as Record<StagedFile, string> & { dir: string };
  for (const [name, file] of Object.entries(STAGED_FILES)) paths[name as StagedFile] = `${uploadId}/${file}`;
  return paths;
}

/** The staged parts of a chunked encode, relative to the staging directory: keyed by upload and chunk index, so a re-run part finds its own output. */
export const stagedChunkPaths = {
  /** One video chunk (VP9 video only), of a ladder's rung when given. */
  video: (uploadId: string, index: number, rung?: number): string =>
    `${uploadId}/${STAGED_FILES.chunks}/video-${rung ? `${rung}p-` : ''}${String(index).padStart(4, '0')}.webm`,
  /** The whole audio track, encoded once. */
  audio: (uploadId: string): string => `${uploadId}/${STAGED_FILES.chunks}/audio.webm`,
  /** The concat list the join reads (written by the transcoder, never by a user). */
  list: (uploadId: string): string => `${uploadId}/${STAGED_FILES.chunks}/chunks.ffconcat`,
};

/** A ladder's staged DASH files, relative to the staging directory, named as they are stored (the manifest's relative names). */
export const stagedDashPaths = {
  /** A rung's DASH WebM (video only). */
  rung: (uploadId: string, rung: number): string => `${uploadId}/${STAGED_FILES.dash}/video-${rung}p.webm`,
  /** The Opus DASH WebM. */
  audio: (uploadId: string): string => `${uploadId}/${STAGED_FILES.dash}/audio.webm`,
  /** The manifest listing the rungs up to this one (stored as manifest.mpd). */
  manifest: (uploadId: string, rung: number): string => `${uploadId}/${STAGED_FILES.dash}/manifest-${rung}p.mpd`,
  /** A rung's concat list (written by the transcoder from its own plan). */
  list: (uploadId: string, rung: number): string => `${uploadId}/${STAGED_FILES.chunks}/chunks-${rung}p.ffconcat`,
};
/**
 * The preview and poster cut while the person pays (the speculative cut), apart from the paid path's
 * own files so the two never write one file; `cut` records that both are staged and stored privately.
 */
export function stagedSpeculativePaths(uploadId: string) {
  const dir = `${uploadId}/speculative`;
  return {
    dir,
    preview: `${dir}/${STAGED_FILES.preview}`,
    poster: `${dir}/${STAGED_FILES.poster}`,
    cut: `${dir}/cut.json`,
    /** The lowest rung encoded while the person pays: its chunks, its DASH files (named as stored) and its record. */
    rungDir: `${dir}/rung`,
    rung: `${dir}/rung.json`,
  };
}
