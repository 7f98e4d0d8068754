import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CreateBucketCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

export interface StorageConfig {
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  /** Path-style URLs (MinIO, local servers); AWS uses virtual-hosted style. */
  forcePathStyle: boolean;
  /** Multipart part size in bytes (>= 5 MiB). */
  partSizeBytes: number;
  /** Parts uploaded at once. */
  queueSize: number;
}

/** Where an object lives and what it is. */
export interface StoredObject {
  key: string;
  bytes: number;
  etag?: string | undefined;
}

/** The S3 adapter: every object-storage call of the project goes through here. */
export class ObjectStorage {
  readonly client: S3Client;

  constructor(readonly config: StorageConfig) {
    this.client = new S3Client({
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      // Only checksum when the operation requires it: S3-compatible servers that do not know the
      // SDK's default streaming checksums would store the framing as part of the object.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.accessKeyId && config.secretAccessKey
        ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } }
        : {}),
    });
  }

  /**
   * Streams a local file to `key` (multipart when large) and checks the stored size matches, so
   * a silently truncated upload fails the stage instead of reaching the database.
   */
  async putFile(key: string, path: string, contentType: string, cacheControl = 'public, max-age=31536000, immutable'): Promise<StoredObject> {
    const { size } = await stat(path);
    const upload = new Upload({
      client: this.client,
      partSize: this.config.partSizeBytes,
      queueSize: this.config.queueSize,
      leavePartsOnError: false,
      params: { Bucket: this.config.bucket, Key: key, Body: createReadStream(path), ContentType: contentType, CacheControl: cacheControl, ContentLength: size },
    });
    const result = await upload.done();
    const head = await this.head(key);
    if (!head || head.bytes !== size) {
      throw new Error(`stored ${key} has ${head?.bytes ?? 'no'} bytes, expected ${size}`);
    }
    return { key, bytes: size, etag: result.ETag };
  }

  /** Size and ETag of an object, or undefined if it does not exist. */
  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return { key, bytes: Number(head.ContentLength ?? 0), etag: head.ETag };
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
  }

  /** Reads a whole object (tests, small files). */
  async getBytes(key: string): Promise<Buffer> {
    const result = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
    if (!result.Body) throw new Error(`object ${key} has no body`);
    return Buffer.from(await result.Body.transformToByteArray());
  }

  /** Answers when the bucket is reachable (readiness). */
  async checkBucket(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
  }

  /** Creates the bucket if it is missing (local development and tests). */
  async ensureBucket(): Promise<void> {
    try {
      await this.checkBucket();
    } catch {
      await this.client.send(new CreateBucketCommand({ Bucket: this.config.bucket }));
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/** The object keys of a listing, derived from its upload id so a retried upload overwrites, never duplicates. */
export function listingKeys(uploadId: string) {
  return {
    video: `listings/${uploadId}/video.webm`,
    preview: `listings/${uploadId}/preview.webm`,
    poster: `listings/${uploadId}/poster.webp`,
    logo: `listings/${uploadId}/logo.webp`,
  };
}
