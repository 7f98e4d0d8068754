import { env, z } from '@reelboard/config';
import { ObjectStorage } from './object-storage.js';

/** The S3 variables, shared by every service that touches object storage. */
export const s3EnvSchema = z.object({
  S3_ENDPOINT: env.url(['http', 'https']).optional().describe('Empty for AWS itself; the URL of MinIO or another S3-compatible server otherwise.'),
  S3_REGION: z.string().min(1).default('us-east-1').describe('Region of the bucket (any value for MinIO and local servers).'),
  S3_BUCKET: z.string().min(3).describe('Bucket the listing media are stored in.'),
  S3_ACCESS_KEY_ID: z.string().optional().describe("Access key; leave empty to use the SDK's default credential chain (instance roles, env, profiles)."),
  S3_SECRET_ACCESS_KEY: z.string().optional().describe('Secret key matching S3_ACCESS_KEY_ID.'),
  S3_FORCE_PATH_STYLE: env.boolean(false).describe('Path-style URLs (bucket in the path), needed by MinIO and local S3 servers.'),
  S3_PART_SIZE_BYTES: z.coerce
    .number()
    .int()
    .min(5 * 1024 * 1024)
    .default(16 * 1024 * 1024)
    .describe("Multipart part size; S3's minimum is 5 MiB."),
  S3_QUEUE_SIZE: env.positiveInt(4).describe('Parts of one file uploaded at once.'),
  S3_MAX_ATTEMPTS: env.positiveInt(4).describe('Tries of each S3 request (5xx, throttling and timeouts are retried with backoff).'),
  S3_FILE_ATTEMPTS: env.positiveInt(3).describe('Tries of a whole file, re-read from disk, after its requests ran out of tries or it arrived corrupted.'),
  S3_REQUEST_TIMEOUT_MS: env.positiveInt(120_000).describe('A single S3 request idle longer than this is aborted and retried.'),
  S3_CONNECT_TIMEOUT_MS: env.positiveInt(5_000).describe('Time allowed to open a connection to S3.'),
  S3_VERIFY_CHECKSUM: env.boolean(true).describe("Compare ETags with the files' MD5 (turn off for AWS SSE-KMS buckets, whose ETags are not MD5s)."),
  S3_PUBLIC_BASE_URL: env
    .url(['http', 'https'])
    .optional()
    .describe('Public or CDN base URL of the bucket; when set, the API returns plain URLs instead of presigned ones.'),
  S3_PRESIGN_ENDPOINT: env
    .url(['http', 'https'])
    .optional()
    .describe('The S3 endpoint as clients reach it, for presigned URLs (when it differs from S3_ENDPOINT).'),
  S3_URL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(3600)
    .describe('How long a presigned GET URL works.'),
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
    maxAttempts: config.S3_MAX_ATTEMPTS,
    fileAttempts: config.S3_FILE_ATTEMPTS,
    requestTimeoutMs: config.S3_REQUEST_TIMEOUT_MS,
    connectTimeoutMs: config.S3_CONNECT_TIMEOUT_MS,
    verifyChecksum: config.S3_VERIFY_CHECKSUM,
    publicBaseUrl: config.S3_PUBLIC_BASE_URL,
    presignEndpoint: config.S3_PRESIGN_ENDPOINT,
    presignTtlSeconds: config.S3_URL_TTL_SECONDS,
  });
}
