/** Why a media operation failed; callers branch on this, never on message text. */
export type MediaErrorCode =
  | 'not_media'
  | 'no_video_stream'
  | 'audio_only'
  | 'zero_duration'
  | 'undecodable'
  | 'truncated'
  | 'ffmpeg_unavailable'
  | 'ffmpeg_failed'
  | 'timeout'
  /** The watchdog stopped an ffmpeg whose progress had stopped moving (retried). */
  | 'stalled'
  /** The staged file could not be read (ENOENT, EIO on a flaky mount): retried, never a verdict on the file. */
  | 'io_error'
  | 'aborted';

/** Extra context for logs and failed-status reasons. */
export interface MediaErrorDetails {
  /** Input or output file the operation was working on. */
  path?: string;
  /** Last lines ffmpeg/ffprobe wrote to stderr: usually the only real explanation. */
  stderrTail?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

// Codes a retry cannot fix: the file itself is the problem.
const PERMANENT_CODES: ReadonlySet<MediaErrorCode> = new Set(['not_media', 'no_video_stream', 'audio_only', 'zero_duration', 'undecodable', 'truncated']);

/** A typed failure from the media adapter; `permanent` says whether retrying can help. */
export class MediaError extends Error {
  override readonly name = 'MediaError';
  /** Machine-readable reason. */
  readonly code: MediaErrorCode;
  /** True when retrying the same input will fail the same way. */
  readonly permanent: boolean;
  /** Context for logs. */
  readonly details: MediaErrorDetails;

  constructor(code: MediaErrorCode, message: string, details: MediaErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.permanent = PERMANENT_CODES.has(code);
    this.details = details;
  }
}

/** Narrows an unknown thrown value to a MediaError. */
export function isMediaError(value: unknown): value is MediaError {
  return value instanceof MediaError;
}
