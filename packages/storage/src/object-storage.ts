import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { IntegrityError, isTransientStorageError } from './errors.js';
import { DigestingStream, etagMatches } from './integrity.js';

export interface StorageConfig {
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  /** Path-style URLs (MinIO, local servers); AWS uses virtual-hosted style. */
  forcePathStyle: boolean;
  /** Multipart part size in bytes (>= 5 MiB); smaller files go in one PUT. */
  partSizeBytes: number;
  /** Parts uploaded at once. */
  queueSize: number;
  /** Tries of each S3 request by the SDK (5xx, throttling, timeouts retried with backoff and jitter). */
  maxAttempts?: number | undefined;
  /** Tries of a whole file (re-read from disk) when its requests ran out of tries or it arrived corrupted. */
  fileAttempts?: number | undefined;
  /** First delay between whole-file tries; doubled each time. */
  retryBaseDelayMs?: number | undefined;
  /** A request without any response for this long is abandoned (and retried). */
  requestTimeoutMs?: number | undefined;
  connectTimeoutMs?: number | undefined;
  /**
   * Compare the ETag with the file's MD5 after upload. Turn off only for stores whose ETags are
   * not MD5s (AWS SSE-KMS); the size is checked regardless.
   */
  verifyChecksum?: boolean | undefined;
  /** Public or CDN origin (plus optional path) serving the bucket's keys; presigned URLs otherwise. */
  publicBaseUrl?: string | undefined;
  /** The endpoint clients reach for presigned URLs when it differs from the one services use. */
  presignEndpoint?: string | undefined;
  /** Lifetime of a presigned GET URL. */
  presignTtlSeconds?: number | undefined;
}

/** Where an object lives and what it is. */
export interface StoredObject {
  key: string;
  bytes: number;
  etag?: string | undefined;
  /** Hex SHA-256 of the content, when the uploader computed it. */
  sha256?: string | undefined;
  /** How many whole-file tries it took (1 when the first worked). */
  attempts?: number | undefined;
}

/** Caching for objects whose key never gets other content (keys are per upload). */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';

function clientConfig(config: StorageConfig, endpoint: string | undefined): S3ClientConfig {
  return {
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    maxAttempts: config.maxAttempts ?? 4,
    retryMode: 'standard',
    requestHandler: { requestTimeout: config.requestTimeoutMs ?? 120_000, connectionTimeout: config.connectTimeoutMs ?? 5_000 },
    // Only checksum when the operation requires it: S3-compatible servers that do not know the
    // SDK's default streaming checksums would store the framing as part of the object.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(endpoint ? { endpoint } : {}),
    ...(config.accessKeyId && config.secretAccessKey ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } } : {}),
  };
}

/** The S3 adapter: every object-storage call of the project goes through here. */
export class ObjectStorage {
  readonly client: S3Client;
  private readonly presigner: S3Client;

  constructor(readonly config: StorageConfig) {
    this.client = new S3Client(clientConfig(config, config.endpoint));
    this.presigner = config.presignEndpoint ? new S3Client(clientConfig(config, config.presignEndpoint)) : this.client;
  }

  /**
   * Streams a local file to `key` (multipart when larger than a part), then checks the stored
   * size and checksum, so a truncated or corrupted upload fails instead of reaching the database.
   * Transient failures are retried with backoff, re-reading the file; the same key is overwritten.
   */
  async putFile(key: string, path: string, contentType: string, cacheControl = IMMUTABLE_CACHE_CONTROL): Promise<StoredObject> {
    const attempts = this.config.fileAttempts ?? 3;
    const baseDelay = this.config.retryBaseDelayMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      try {
        return { ...(await this.putFileOnce(key, path, contentType, cacheControl)), attempts: attempt };
      } catch (error) {
        if (attempt >= attempts || !isTransientStorageError(error)) throw error;
        await sleep(baseDelay * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      }
    }
  }

  private async putFileOnce(key: string, path: string, contentType: string, cacheControl: string): Promise<StoredObject> {
    const { size } = await stat(path);
    const digesting = new DigestingStream(this.config.partSizeBytes);
    const reading = pipeline(createReadStream(path), digesting);
    const upload = new Upload({
      client: this.client,
      partSize: this.config.partSizeBytes,
      queueSize: this.config.queueSize,
      leavePartsOnError: false,
      params: { Bucket: this.config.bucket, Key: key, Body: digesting, ContentType: contentType, CacheControl: cacheControl, ContentLength: size },
    });
    const [result] = await Promise.all([upload.done(), reading]).catch((error: unknown) => {
      digesting.destroy();
      throw error;
    });
    const digests = digesting.digests();
    const head = await this.head(key);
    const etag = result.ETag ?? head?.etag;
    const checksumOk = this.config.verifyChecksum === false || etagMatches(etag, digests);
    if (!head || head.bytes !== size || digests.bytes !== size || !checksumOk) {
      throw new IntegrityError(key, { bytes: size, md5: digests.md5 }, { bytes: head?.bytes, etag });
    }
    return { key, bytes: size, etag, sha256: digests.sha256 };
  }

  /**
   * Copies an object inside the bucket (no bytes through this process), with the copy's own
   * Content-Type and Cache-Control, then checks the copy's size against the original's.
   */
  async copy(from: string, to: string, contentType: string, cacheControl = IMMUTABLE_CACHE_CONTROL): Promise<StoredObject> {
    const original = await this.head(from);
    if (!original) throw new Error(`cannot copy ${from}: no such object`);
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.config.bucket,
        Key: to,
        CopySource: `${this.config.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`,
        MetadataDirective: 'REPLACE',
        ContentType: contentType,
        CacheControl: cacheControl,
      }),
    );
    const copied = await this.head(to);
    if (!copied || copied.bytes !== original.bytes) throw new Error(`copy of ${from} to ${to} has ${copied?.bytes ?? 'no'} bytes, expected ${original.bytes}`);
    return { key: to, bytes: copied.bytes, etag: copied.etag };
  }

  /** Size and ETag of an object, or undefined if it does not exist. */
  async head(key: string): Promise<(StoredObject & { contentType?: string | undefined; cacheControl?: string | undefined }) | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return { key, bytes: Number(head.ContentLength ?? 0), etag: head.ETag, contentType: head.ContentType, cacheControl: head.CacheControl };
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

  /** Removes an object; removing a missing one is not an error. */
  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: key }));
  }

  /**
   * The URL a client fetches an object at: under the public/CDN base URL when one is configured,
   * else a presigned GET valid for the configured time.
   */
  async urlFor(key: string): Promise<string> {
    if (this.config.publicBaseUrl) {
      const base = this.config.publicBaseUrl.replace(/\/+$/, '');
      return `${base}/${key.split('/').map(encodeURIComponent).join('/')}`;
    }
    return getSignedUrl(this.presigner, new GetObjectCommand({ Bucket: this.config.bucket, Key: key }), {
      expiresIn: this.config.presignTtlSeconds ?? 3600,
    });
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
    if (this.presigner !== this.client) this.presigner.destroy();
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

/** A listing's DASH objects: the manifest and, beside it under the names it gives them, each rung and the audio. */
export function dashKeys(uploadId: string) {
  const folder = `listings/${uploadId}/dash`;
  return {
    folder,
    manifest: `${folder}/manifest.mpd`,
    audio: `${folder}/audio.webm`,
    rung: (name: number) => `${folder}/video-${name}p.webm`,
  };
}
/**
 * Where the preview and poster cut while the person pays are kept until the payment confirms: outside
 * `listings/`, the only prefix a public or CDN origin may serve, so nothing of an unpaid upload is public.
 */
export function speculativeKeys(uploadId: string) {
  return {
    preview: `private/speculative/${uploadId}/preview.webm`,
    poster: `private/speculative/${uploadId}/poster.webp`,
  };
}

/**
 * Where the lowest rung (and its audio) encoded while the person pays are kept until the payment
 * confirms: beside the speculative preview, fixed names so the staging cleanup deletes them knowing
 * only the upload id. Which plan they were encoded for is in the staged record, not the key.
 */
export function speculativeRungKeys(uploadId: string) {
  return {
    video: `private/speculative/${uploadId}/lowest-rung.webm`,
    audio: `private/speculative/${uploadId}/lowest-rung-audio.webm`,
  };
}

/** The storyboard of a listing: its WebVTT index and, beside it, the sprite sheets its cues name. */
export function storyboardKeys(uploadId: string) {
  const dir = `listings/${uploadId}/storyboard`;
  return { dir, vtt: `${dir}/storyboard.vtt`, file: (name: string) => `${dir}/${name}` };
}
