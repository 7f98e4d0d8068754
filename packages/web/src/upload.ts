import { type AcceptedUpload, ApiError } from './api.js';

/**
 * Posts the listing form as multipart (with the video, or naming a finished resumable upload) with XMLHttpRequest, because fetch() cannot report upload
 * progress; `onProgress` gets the percent of bytes sent.
 */
export function postListingForm(form: FormData, token: string, onProgress: (percent: number) => void, videoUpload?: string): Promise<AcceptedUpload> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', videoUpload ? `/v1/uploads?videoUpload=${encodeURIComponent(videoUpload)}` : '/v1/uploads');
    xhr.setRequestHeader('authorization', `Bearer ${token}`);
    xhr.setRequestHeader('accept', 'application/json');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress((event.loaded / event.total) * 100);
    });
    xhr.addEventListener('load', () => {
      const body = (xhr.response ?? {}) as Partial<AcceptedUpload> & { error?: string; message?: string; fields?: Record<string, string> };
      if (xhr.status === 202 && body.uploadId && body.payment) resolve(body as AcceptedUpload);
      else reject(new ApiError(xhr.status, body.error ?? `http_${xhr.status}`, body.message ?? `upload refused (${xhr.status})`, body.fields ?? {}));
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'The upload failed: the connection to the server was lost.')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.')));
    xhr.send(form);
  });
}
