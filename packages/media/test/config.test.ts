import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@reelboard/config';
import { createMediaAdapter, mediaEnvSchema, runnerOptionsFrom } from '../src/index.js';

// The binaries are configuration: read once from the media schema and passed to the runner, which
// never looks at the environment itself.

const saved = { FFMPEG_PATH: process.env.FFMPEG_PATH, FFPROBE_PATH: process.env.FFPROBE_PATH };
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe('FFMPEG_PATH and FFPROBE_PATH', () => {
  it('default to the binaries on PATH', () => {
    const config = loadConfig(mediaEnvSchema, {});
    expect(runnerOptionsFrom(config)).toMatchObject({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe' });
  });

  it('refuse a blank value, naming the variable', () => {
    expect(() => loadConfig(mediaEnvSchema, { FFMPEG_PATH: '   ' })).toThrow(ConfigError);
    expect(() => loadConfig(mediaEnvSchema, { FFMPEG_PATH: '   ' })).toThrow(/FFMPEG_PATH: must name the ffmpeg binary/);
  });

  it('reach the runner through the configuration: a wrong FFMPEG_PATH fails the start-up check, naming the binary', async () => {
    const media = createMediaAdapter(runnerOptionsFrom(loadConfig(mediaEnvSchema, { FFMPEG_PATH: '/nonexistent/ffmpeg' })));
    const health = await media.health();
    expect(health.ok).toBe(false);
    expect(health.error).toContain('/nonexistent/ffmpeg');
  });

  it('are not read from the environment by the runner', async () => {
    process.env.FFMPEG_PATH = '/nonexistent/ffmpeg';
    process.env.FFPROBE_PATH = '/nonexistent/ffprobe';
    const health = await createMediaAdapter().health();
    expect(health).toMatchObject({ ok: true, missingEncoders: [] });
  });
});
