import { env, z } from '@reelboard/config';
import { ObjectStorage } from './object-storage.js';

/** The S3 variables, shared by every service that touches object storage. */
export const s3EnvSchema = z.object({
  /** Empty for AWS itself; the URL of MinIO or another S3-compatible server otherwise. */
  S3_ENDPOINT: env.url(['http', 'https']).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_BUCKET: z.string().min(3),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: env.boolean(false),
  /** Multipart part size; S3's minimum is 5 MiB. */
  S3_PART_SIZE_BYTES: z.coerce.number().int().min(5 * 1024 * 1024).default(16 * 1024 * 1024),
  /** Parts of one file uploaded at once. */
  S3_QUEUE_SIZE: env.positiveInt(4),
});

export type S3Env = z.infer<typeof s3EnvSchema>;

/** The storage adapter configured from validated S3 variables. */
export function storageFromEnv(config: S3Env): ObjectStorage {
  return new ObjectStorage({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    bucket: config.S3_BUCKET,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    partSizeBytes: config.S3_PART_SIZE_BYTES,
    queueSize: config.S3_QUEUE_SIZE,
  });
}
