import { describe, expect, it } from 'vitest';
import { describeFfmpegProblem, ffmpegVersionProblem, SUPPORTED_FFMPEG_TEXT } from '../src/index.js';

// The versions as each distribution's `ffmpeg -version` prints them.

describe('ffmpegVersionProblem', () => {
  it('accepts 5.1 (Debian 12), 6.1 (Ubuntu 24.04), 7.x (Debian 13, a static build) and a release tag', () => {
    for (const version of ['5.1.9-0+deb12u1', '6.1.1-3ubuntu5', '7.1.1-1+b1', '7.0.2-static', 'n6.1.2']) {
      expect(ffmpegVersionProblem(version), version).toBeUndefined();
    }
  });

  it('refuses a release outside the range, naming the version and the range', () => {
    expect(SUPPORTED_FFMPEG_TEXT).toBe('5.1 to 7.x');
    expect(ffmpegVersionProblem('4.4.2-0ubuntu0.22.04.1')).toBe('ffmpeg 4.4 (4.4.2-0ubuntu0.22.04.1) is outside the supported range 5.1 to 7.x');
    expect(ffmpegVersionProblem('5.0.3')).toBe('ffmpeg 5.0 (5.0.3) is outside the supported range 5.1 to 7.x');
    expect(ffmpegVersionProblem('8.0')).toBe('ffmpeg 8.0 (8.0) is outside the supported range 5.1 to 7.x');
    expect(ffmpegVersionProblem('10.1')).toContain('outside the supported range');
  });

  it('refuses a build from git, which names no release', () => {
    expect(ffmpegVersionProblem('N-113000-g0a5e0a4b9e')).toBe(
      "ffmpeg version 'N-113000-g0a5e0a4b9e' is not a release this package can place; the supported releases are 5.1 to 7.x",
    );
  });
});

describe('describeFfmpegProblem', () => {
  it('says every reason the check failed', () => {
    expect(describeFfmpegProblem({ ok: false, version: '8.0', missingEncoders: ['libvpx-vp9'], error: ffmpegVersionProblem('8.0') })).toBe(
      'ffmpeg 8.0 (8.0) is outside the supported range 5.1 to 7.x; ffmpeg 8.0 lacks the encoders libvpx-vp9',
    );
  });
});
