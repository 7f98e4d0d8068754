import { describe, expect, it } from 'vitest';
import { encodeTimeoutSeconds } from '../src/encode-timeout.js';

const settings = { FFMPEG_TIMEOUT_SECONDS: 600, ENCODE_MIN_MEGAPIXELS_PER_SECOND: 4 };
const clip = (durationSeconds: number, fps = 30) => ({ durationSeconds, video: { fps } });

describe('encodeTimeoutSeconds', () => {
  it('gives a 10-minute 4K30 source more than the hours it needs at ~2 fps (the fixed 3600 s killed it)', () => {
    const limit = encodeTimeoutSeconds(clip(600), { width: 3840, height: 2160 }, settings);
    // 18 000 frames at about 2 fps is 9 000 s of work.
    expect(limit).toBeGreaterThan(18_000 / 2);
  });
  it('scales with duration and pixels', () => {
    const hd = encodeTimeoutSeconds(clip(600), { width: 1920, height: 1080 }, settings);
    const uhd = encodeTimeoutSeconds(clip(600), { width: 3840, height: 2160 }, settings);
    expect(uhd).toBeGreaterThan(3.9 * hd);
    expect(encodeTimeoutSeconds(clip(300), { width: 1920, height: 1080 }, settings)).toBeLessThan(hd);
  });
  it('never goes below FFMPEG_TIMEOUT_SECONDS for short or small clips', () => {
    expect(encodeTimeoutSeconds(clip(2), { width: 320, height: 240 }, settings)).toBe(600);
  });
  it('caps the frame rate it counts at 60 (what the encoder outputs) and assumes 30 when unknown', () => {
    const at240 = encodeTimeoutSeconds(clip(600, 240), { width: 3840, height: 2160 }, settings);
    const at60 = encodeTimeoutSeconds(clip(600, 60), { width: 3840, height: 2160 }, settings);
    expect(at240).toBe(at60);
    expect(encodeTimeoutSeconds(clip(600, 0), { width: 3840, height: 2160 }, settings)).toBe(
      encodeTimeoutSeconds(clip(600, 30), { width: 3840, height: 2160 }, settings),
    );
  });
});
