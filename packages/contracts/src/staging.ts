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
} as const;

export type StagedFile = keyof typeof STAGED_FILES;

/** An upload's staged files as paths relative to the staging directory (what payloads carry). */
export function stagedPaths(uploadId: string): Record<StagedFile, string> & { dir: string } {
  const paths = { dir: uploadId } as Record<StagedFile, string> & { dir: string };
  for (const [name, file] of Object.entries(STAGED_FILES)) paths[name as StagedFile] = `${uploadId}/${file}`;
  return paths;
}
