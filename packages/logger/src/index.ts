import winston from 'winston';

export type Logger = winston.Logger;

/**
 * JSON-lines logger for one service. Every line carries the service name; loggers made with
 * `forUpload` carry the upload id as well, so one upload can be followed across all services.
 */
export function createLogger(service: string, level = 'info'): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn'] })],
  });
}

/** A child logger whose every line names the upload it is about. */
export function forUpload(logger: Logger, uploadId: string): Logger {
  return logger.child({ uploadId });
}

/** Turns anything thrown into loggable fields without losing the stack. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    return { error: error.message, errorName: error.name, stack: error.stack };
  }
  return { error: String(error) };
}
export { publicErrorText, scrubSecrets } from './scrub.js';
