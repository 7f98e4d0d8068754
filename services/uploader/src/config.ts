import { commonSchema, env, loadConfig, z } from '@reelboard/config';
import { s3EnvSchema } from '@reelboard/storage';

export const uploaderSchema = commonSchema.extend(s3EnvSchema.shape).extend({
  PORT: env.port(8084),
  UPLOAD_CONCURRENCY: env.positiveInt(4),
});

export type UploaderConfig = z.infer<typeof uploaderSchema>;
export const loadUploaderConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(uploaderSchema, source);
