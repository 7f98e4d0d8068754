import type { TranscodeSettings } from '../src/handle-payment-confirmed.js';

/**
 * The transcoder's settings as its tests run them (one ffmpeg thread, a 1 s preview at 240p,
 * generous limits), staged in `stagingDir`; each test names what it is about in `overrides`.
 */
export function transcodeTestSettings<T extends Partial<TranscodeSettings>>(stagingDir: string, overrides: T): TranscodeSettings & T {
  return {
    STAGING_DIR: stagingDir,
    FFMPEG_THREADS: 1,
    MAX_OUTPUT_HEIGHT: 2160,
    MAX_DURATION_SECONDS: 600,
    MAX_SOURCE_SIDE: 7680,
    PROGRESS_INTERVAL_MS: 1_000,
    PREVIEW_SECONDS: 1,
    PREVIEW_MAX_HEIGHT: 240,
    FFMPEG_TIMEOUT_SECONDS: 600,
    ENCODE_MIN_MEGAPIXELS_PER_SECOND: 4,
    CHUNK_THRESHOLD_SECONDS: 90,
    CHUNK_SECONDS: 10,
    ...overrides,
  };
}
