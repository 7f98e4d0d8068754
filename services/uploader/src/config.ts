import { commonSchema, env, internalPort, loadConfig, z } from '@reelboard/config';
import { s3EnvSchema } from '@reelboard/storage';

export const uploaderSchema = commonSchema.extend(s3EnvSchema.shape).extend({
  INTERNAL_PORT: internalPort(9084),
  UPLOAD_CONCURRENCY: env.positiveInt(4).describe('Uploads this replica stores at once.'),
  STAGING_MAX_AGE_HOURS: z.coerce.number().positive().default(48).describe('Staged files older than this are swept (unless their upload is still in flight).'),
  CLEANUP_CRON: z.string().min(9).default('0 0 * * *').describe('When the sweep runs (cron, read in CLEANUP_TIME_ZONE); once per slot across all replicas.'),
  CLEANUP_TIME_ZONE: z
    .string()
    .default('UTC')
    .refine(
      (zone) => {
        try {
          new Intl.DateTimeFormat('en', { timeZone: zone });
          return true;
        } catch {
          return false;
        }
      },
      { error: 'must be an IANA time zone such as UTC or Europe/Berlin' },
    )
    .describe('Time zone of CLEANUP_CRON (IANA name, e.g. Europe/Berlin).'),
});

export type UploaderConfig = z.infer<typeof uploaderSchema>;
export const loadUploaderConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(uploaderSchema, source);
