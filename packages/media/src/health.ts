import type { FfmpegRunner } from './ffmpeg-runner.js';

/** Encoders this package depends on; a build of ffmpeg without them is not usable. */
export const REQUIRED_ENCODERS: readonly string[] = ['libvpx-vp9', 'libopus', 'libwebp'];

/**
 * The ffmpeg releases this package is known to work with: the suite runs on 5.1 (Debian 12, the
 * image's) and 7.1 (Debian 13), docs/development.md says when; 6.1 (Ubuntu 24.04) lies between them.
 * Each major changed something the product relies on (ffmpeg 7 made -fpsmax constant-rate, dropped
 * the rotate tag on stream copy and moved the mov demuxer's HLS check), so a release outside this
 * range is refused at start, not found out on a paid upload.
 */
export const SUPPORTED_FFMPEG = { from: { major: 5, minor: 1 }, belowMajor: 8 } as const;

/** The supported range in words, e.g. "5.1 to 7.x". */
export const SUPPORTED_FFMPEG_TEXT = `${SUPPORTED_FFMPEG.from.major}.${SUPPORTED_FFMPEG.from.minor} to ${SUPPORTED_FFMPEG.belowMajor - 1}.x`;

/**
 * Why an ffmpeg of this version (as `ffmpeg -version` prints it: "7.1.1-1+b1", "n6.1.2",
 * "5.1.9-0+deb12u1") is not supported, or undefined when it is. A build from git ("N-113000-g…")
 * names no release, so it is refused too: nothing says which behaviour it has.
 */
export function ffmpegVersionProblem(version: string): string | undefined {
  const match = /^n?(\d+)\.(\d+)/.exec(version);
  if (!match) return `ffmpeg version '${version}' is not a release this package can place; the supported releases are ${SUPPORTED_FFMPEG_TEXT}`;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  const { from, belowMajor } = SUPPORTED_FFMPEG;
  if (major < from.major || (major === from.major && minor < from.minor) || major >= belowMajor) {
    return `ffmpeg ${major}.${minor} (${version}) is outside the supported range ${SUPPORTED_FFMPEG_TEXT}`;
  }
  return undefined;
}

/** Result of checkFfmpeg, for a health endpoint or a fail-fast start-up check. */
export interface FfmpegHealth {
  /** True when ffmpeg and ffprobe run, the version is supported and every required encoder is present. */
  ok: boolean;
  /** ffmpeg version, when it ran. */
  version?: string;
  /** Required encoders this build lacks. */
  missingEncoders: string[];
  /** Why ffmpeg or ffprobe could not be run, or why its version is not supported (ffmpegVersionProblem). */
  error?: string;
}

/** Checks, through the runner, that ffmpeg and ffprobe run, are a supported release and have the encoders this package uses. */
export async function checkFfmpeg(runner: FfmpegRunner): Promise<FfmpegHealth> {
  try {
    const { version, encoders } = await runner.info();
    const missingEncoders = REQUIRED_ENCODERS.filter((name) => !encoders.has(name));
    const versionProblem = ffmpegVersionProblem(version);
    return { ok: missingEncoders.length === 0 && !versionProblem, version, missingEncoders, ...(versionProblem ? { error: versionProblem } : {}) };
  } catch (err) {
    return { ok: false, missingEncoders: [], error: err instanceof Error ? err.message : String(err) };
  }
}

/** Why the check failed, in words, for a start-up error or a readiness answer. */
export function describeFfmpegProblem(health: FfmpegHealth): string {
  const reasons = [
    ...(health.error ? [health.error] : []),
    ...(health.missingEncoders.length > 0 ? [`ffmpeg ${health.version ?? '(version unknown)'} lacks the encoders ${health.missingEncoders.join(', ')}`] : []),
  ];
  return reasons.join('; ') || 'ffmpeg is usable';
}
