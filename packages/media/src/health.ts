import type { FfmpegRunner } from './ffmpeg-runner.js';

/** Encoders this package depends on; a build of ffmpeg without them is not usable. */
export const REQUIRED_ENCODERS: readonly string[] = ['libvpx-vp9', 'libopus', 'libwebp'];

/** Result of checkFfmpeg, for a health endpoint or a fail-fast start-up check. */
export interface FfmpegHealth {
  /** True when ffmpeg and ffprobe run and every required encoder is present. */
  ok: boolean;
  /** ffmpeg version, when it ran. */
  version?: string;
  /** Required encoders this build lacks. */
  missingEncoders: string[];
  /** Why ffmpeg or ffprobe could not be run. */
  error?: string;
}

/** Checks, through the runner, that ffmpeg and ffprobe run and have the encoders this package uses. */
export async function checkFfmpeg(runner: FfmpegRunner): Promise<FfmpegHealth> {
  try {
    const { version, encoders } = await runner.info();
    const missingEncoders = REQUIRED_ENCODERS.filter((name) => !encoders.has(name));
    return { ok: missingEncoders.length === 0, version, missingEncoders };
  } catch (err) {
    return { ok: false, missingEncoders: [], error: err instanceof Error ? err.message : String(err) };
  }
}
