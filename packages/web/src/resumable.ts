import { Upload } from 'tus-js-client';
import { ApiError } from './api.js';

/** Bytes per PATCH when the page names no other: what a dropped connection can cost again, at most. */
export const CHUNK_BYTES = 8 * 1024 * 1024;

/** The gateway's chunk size (WEB_UPLOAD_CHUNK_BYTES), from the page's `<meta name="upload-chunk-bytes">`. */
function chunkBytes(): number {
  const named = Number(document.querySelector('meta[name="upload-chunk-bytes"]')?.getAttribute('content'));
  return Number.isInteger(named) && named > 0 ? named : CHUNK_BYTES;
}
/** Waits before each retry after a dropped connection; then it gives up and says so. */
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10_000, 20_000, 30_000, 60_000];

/**
 * Uploads the video with the tus protocol (tus-js-client): in chunks, resuming from the server's
 * offset after a dropped connection, and after a page reload when the same file is picked again
 * (tus-js-client remembers the upload's URL by the file's name, size and date in localStorage).
 * Resolves with the finished upload's id, which the listing form then names.
 */
export function uploadVideoResumably(file: File, token: string, onProgress: (percent: number) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload: Upload = new Upload(file, {
      endpoint: '/v1/resumable-uploads',
      headers: { authorization: `Bearer ${token}` },
      chunkSize: chunkBytes(),
      retryDelays: RETRY_DELAYS_MS,
      metadata: { filename: file.name, filetype: file.type },
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => onProgress(total ? (sent / total) * 100 : 0),
      onSuccess: () => resolve(String(upload.url).split('/').pop() ?? ''),
      onError: (error) => {
        const response = (error as { originalResponse?: { getStatus(): number; getBody(): string } | null }).originalResponse;
        let body: { error?: string; message?: string } = {};
        try {
          body = JSON.parse(response?.getBody() ?? '{}') as typeof body;
        } catch {
          // Not an answer of the gateway's (a proxy's page, or no answer at all).
        }
        reject(new ApiError(response?.getStatus() ?? 0, body.error ?? 'network', body.message ?? `The upload stopped: ${error.message}`));
      },
    });
    // The same file picked again (after a reload, or a failure) continues where it stopped.
    void upload.findPreviousUploads().then((previous) => {
      const latest = previous.sort((a, b) => b.creationTime.localeCompare(a.creationTime))[0];
      if (latest) upload.resumeFromPreviousUpload(latest);
      upload.start();
    }, reject);
  });
}
