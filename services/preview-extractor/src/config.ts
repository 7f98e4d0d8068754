import { commonSchema, env, internalPort, loadConfig, type z } from '@reelboard/config';
import { mediaEnvSchema } from '@reelboard/media';

export const previewSchema = commonSchema.extend(mediaEnvSchema.shape).extend({
  INTERNAL_PORT: internalPort(9083),
  PREVIEW_CONCURRENCY: env.positiveInt(2).describe('Previews this replica cuts at once.'),
  STORYBOARD_INTERVAL_SECONDS: env
    .nonNegativeInt(2)
    .describe('Seconds between two storyboard thumbnails (scrubbing previews); longer videos get a longer interval (at most 200 thumbnails). 0 makes none.'),
});

export type PreviewConfig = z.infer<typeof previewSchema>;
export const loadPreviewConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(previewSchema, source);
