import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** The checksums of a file as S3 reports them: the whole file's MD5 and the multipart ETag. */
export interface FileDigests {
  bytes: number;
  /** Hex MD5 of the whole content: the ETag of a single-part upload. */
  md5: string;
  /** Hex SHA-256 of the whole content, kept as object metadata for later audits. */
  sha256: string;
  /** `md5(concat(partMd5s))-N`: the ETag AWS S3 and MinIO give a multipart upload of this part size. */
  multipartEtag: string;
}

/**
 * A pass-through stream that hashes what flows through it, part by part, the way the object
 * store will see it, so the file is read once for both the upload and its checksums.
 */
export class DigestingStream extends Transform {
  private readonly whole = createHash('md5');
  private readonly sha = createHash('sha256');
  private readonly partDigests: Buffer[] = [];
  private part: Hash = createHash('md5');
  private partFill = 0;
  private total = 0;

  constructor(private readonly partSize: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.whole.update(chunk);
    this.sha.update(chunk);
    this.total += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.partSize - this.partFill, chunk.length - offset);
      this.part.update(chunk.subarray(offset, offset + take));
      this.partFill += take;
      offset += take;
      if (this.partFill === this.partSize) this.closePart();
    }
    done(null, chunk);
  }

  private closePart(): void {
    this.partDigests.push(this.part.digest());
    this.part = createHash('md5');
    this.partFill = 0;
  }

  /** The digests; valid once the stream has ended. */
  digests(): FileDigests {
    if (this.partFill > 0 || this.partDigests.length === 0) this.closePart();
    const multipart = createHash('md5').update(Buffer.concat(this.partDigests)).digest('hex');
    return {
      bytes: this.total,
      md5: this.whole.digest('hex'),
      sha256: this.sha.digest('hex'),
      multipartEtag: `${multipart}-${this.partDigests.length}`,
    };
  }
}

/**
 * Whether an ETag vouches for the content: a plain ETag is the MD5 of the whole object (AWS,
 * MinIO, and s3rver even for multipart), a `-N` one is the multipart form.
 */
export function etagMatches(etag: string | undefined, digests: FileDigests): boolean {
  if (!etag) return false;
  const bare = etag.replace(/"/g, '').toLowerCase();
  return bare.includes('-') ? bare === digests.multipartEtag : bare === digests.md5;
}
