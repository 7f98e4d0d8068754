/** The stored object does not match the local file (size or checksum): the upload is not trusted. */
export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
  constructor(
    readonly key: string,
    readonly expected: { bytes: number; md5: string },
    readonly actual: { bytes: number | undefined; etag: string | undefined },
  ) {
    super(
      `stored ${key} does not match the file: ${actual.bytes ?? 'no'} bytes with ETag ${actual.etag ?? 'none'}, expected ${expected.bytes} bytes with MD5 ${expected.md5}`,
    );
  }
}

const TRANSIENT_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeoutException',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
]);

/**
 * Whether an S3 failure may pass if tried again: 5xx, throttling (429/503 SlowDown), timeouts,
 * dropped connections, and a stored object that did not match (a corrupted transfer).
 */
export function isTransientStorageError(error: unknown): boolean {
  if (error instanceof IntegrityError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: string; code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  if (e.$retryable) return true;
  return TRANSIENT_CODES.has(e.name ?? '') || TRANSIENT_CODES.has(e.code ?? '');
}
