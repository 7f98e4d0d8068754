/**
 * A failure that retrying cannot fix (a video ffmpeg cannot decode, a payload that breaks its
 * contract). The stage gives up at once and the upload ends `failed` with this message as reason.
 */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  constructor(
    message: string,
    /** A stable machine-readable code, e.g. `no_video_stream`. */
    readonly code: string = 'permanent',
  ) {
    super(message);
  }
}

/**
 * Not a failure: the job must run again later (e.g. a payment still waiting for confirmations).
 * It does not use up an attempt.
 */
export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
  constructor(
    readonly delayMs: number,
    message = 'not ready yet',
    /** The payload the job carries from now on (checked against its queue's contract), e.g. its own retry count. */
    readonly nextPayload?: unknown,
  ) {
    super(message);
  }
}
