import type { MediaInfo } from '@reelboard/media';

export interface EncodeTimeoutSettings {
  /** The least time any encode is given. */
  FFMPEG_TIMEOUT_SECONDS: number;
  /** The slowest rate a replica should sustain, in output megapixels per second. */
  ENCODE_MIN_MEGAPIXELS_PER_SECOND: number;
}

/**
 * The time limit of one full encode, scaled by what it must produce (frames x output pixels):
 * a fixed limit either kills a long 4K encode that is working (600 s of 2160p30 at ~2 fps needs
 * hours) or waits hours for a short clip that hung. The stall watchdog catches hangs much sooner;
 * this is the backstop.
 */
export function encodeTimeoutSeconds(
  source: Pick<MediaInfo, 'durationSeconds'> & { video: { fps: number } },
  output: { width: number; height: number },
  settings: EncodeTimeoutSettings,
): number {
  const fps = source.video.fps > 0 ? Math.min(source.video.fps, 60) : 30;
  const frames = source.durationSeconds * fps;
  const megapixels = (output.width * output.height) / 1e6;
  const expected = (frames * megapixels) / settings.ENCODE_MIN_MEGAPIXELS_PER_SECOND;
  return Math.ceil(Math.max(settings.FFMPEG_TIMEOUT_SECONDS, expected));
}
