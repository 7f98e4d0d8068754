import { env, z } from '@reelboard/config';

/** The media variables, shared by every service that runs ffmpeg (transcoder, preview-extractor). */
export const mediaEnvSchema = z.object({
  /** ffmpeg threads per encode. */
  FFMPEG_THREADS: env.positiveInt(2),
  /** Niceness of ffmpeg, so the service's own event loop (progress, lock renewal) stays responsive. */
  FFMPEG_NICENESS: env.nonNegativeInt(5),
  /** Length of the muted, looping preview clip. */
  PREVIEW_SECONDS: z.coerce.number().positive().max(60).default(5),
  /** The preview's short side is at most this. */
  PREVIEW_MAX_HEIGHT: env.positiveInt(480),
});

export type MediaEnv = z.infer<typeof mediaEnvSchema>;
