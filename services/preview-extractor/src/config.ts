import { commonSchema, env, loadConfig, z } from '@reelboard/config';

export const previewSchema = commonSchema.extend({
  PORT: env.port(8083),
  /** Length of the muted, looping preview clip. */
  PREVIEW_SECONDS: z.coerce.number().positive().max(60).default(5),
  /** The preview's short side is at most this. */
  PREVIEW_MAX_HEIGHT: env.positiveInt(480),
  /** Previews this replica cuts at once. */
  PREVIEW_CONCURRENCY: env.positiveInt(2),
  FFMPEG_THREADS: env.positiveInt(2),
  FFMPEG_NICENESS: env.nonNegativeInt(5),
  FFMPEG_TIMEOUT_SECONDS: env.positiveInt(600),
});

export type PreviewConfig = z.infer<typeof previewSchema>;
export const loadPreviewConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(previewSchema, source);
