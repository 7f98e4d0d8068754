import type { ErrorRequestHandler } from 'express';
import multer from 'multer';
import { answerFor } from '@reelboard/api';
import { errorFields, type Logger, scrubSecrets } from '@reelboard/logger';

/** An error a client caused, with the status and stable code it is answered with. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    /** Stable, machine-readable: clients switch on it. */
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const multerCodes: Record<string, [number, string]> = {
  LIMIT_FILE_SIZE: [413, 'file_too_large'],
  LIMIT_FIELD_VALUE: [413, 'field_too_large'],
  LIMIT_PART_COUNT: [413, 'too_many_parts'],
  LIMIT_FILE_COUNT: [413, 'too_many_files'],
  LIMIT_FIELD_COUNT: [413, 'too_many_fields'],
  LIMIT_FIELD_KEY: [400, 'field_name_too_long'],
  LIMIT_UNEXPECTED_FILE: [400, 'unexpected_file'],
};

/**
 * Every error becomes JSON `{error, message, ...}`: an HttpError as it says, a domain error (a refusal of the
 * route table, the database's not-found and conflicts) as the API's domain-error table says; only unexpected
 * ones are 500 and logged as errors.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const answer = error instanceof HttpError ? error : answerFor(error);
    if (answer) {
      res.status(answer.status).json({ error: answer.code, message: scrubSecrets(answer.message), ...answer.extra });
      return;
    }
    if (error instanceof multer.MulterError) {
      const [status, code] = multerCodes[error.code] ?? [400, 'bad_multipart'];
      res.status(status).json({ error: code, message: scrubSecrets(`${error.message}${error.field ? ` (${error.field})` : ''}`) });
      return;
    }
    const status = (error as { status?: number; statusCode?: number }).status ?? (error as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // Body-parser and multipart parser errors: malformed JSON, bad boundaries, aborted requests.
      res.status(status).json({ error: 'bad_request', message: scrubSecrets((error as Error).message) });
      return;
    }
    log.error('request failed', { method: req.method, path: req.path, ...errorFields(error) });
    res.status(500).json({ error: 'internal', message: 'internal error' });
  };
}
