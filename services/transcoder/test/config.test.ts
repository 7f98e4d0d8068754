import { describe, expect, it } from 'vitest';
import { loadTranscoderConfig } from '../src/config.js';

const base = { REDIS_URL: 'redis://localhost:6390', STAGING_DIR: '/tmp/staging', S3_BUCKET: 'reelboard' };

describe('transcoder config', () => {
  it('defaults to one encode per replica, two ffmpeg threads and a progress beat under 2 s', () => {
    const config = loadTranscoderConfig(base);
    expect(config).toMatchObject({ TRANSCODE_CONCURRENCY: 1, FFMPEG_THREADS: 2, MAX_DURATION_SECONDS: 600, MAX_SOURCE_SIDE: 7680, MAX_OUTPUT_HEIGHT: 2160 });
    expect(config.PROGRESS_INTERVAL_MS).toBeLessThanOrEqual(2_000);
  });
  it('takes concurrency and threads from the environment', () => {
    expect(loadTranscoderConfig({ ...base, TRANSCODE_CONCURRENCY: '3', FFMPEG_THREADS: '4' })).toMatchObject({ TRANSCODE_CONCURRENCY: 3, FFMPEG_THREADS: 4 });
  });
  it('refuses a progress interval over 2 s, naming the variable', () => {
    expect(() => loadTranscoderConfig({ ...base, PROGRESS_INTERVAL_MS: '5000' })).toThrow(/PROGRESS_INTERVAL_MS/);
  });
});
