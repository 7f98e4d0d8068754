import { env, z } from '@reelboard/config';
import type { FfmpegRunnerOptions } from './ffmpeg-runner.js';

const binary = (name: string) =>
  z
    .string()
    .trim()
    .min(1, { error: `must name the ${name} binary (a path, or a name found on PATH)` })
    .default(name);

/** Which ffmpeg and ffprobe run: read here once, then passed to the runner (which never reads the environment). */
export const mediaBinariesSchema = z.object({
  FFMPEG_PATH: binary('ffmpeg').describe('The ffmpeg binary: a path, or a name looked up on PATH.'),
  FFPROBE_PATH: binary('ffprobe').describe('The ffprobe binary (of the same build as ffmpeg): a path, or a name looked up on PATH.'),
});

/** The media variables, shared by every service that runs ffmpeg (transcoder, preview-extractor). */
export const mediaEnvSchema = mediaBinariesSchema.extend({
  FFMPEG_THREADS: env
    .positiveInt(2)
    .describe("ffmpeg threads per command, for the encoder and the decoder (ffmpeg would otherwise count the host's CPUs, not the container's quota)."),
  FFMPEG_NICENESS: env.nonNegativeInt(5).describe("Niceness of ffmpeg, so the service's own event loop (progress, lock renewal) stays responsive."),
  FFMPEG_STALL_SECONDS: env.positiveInt(60).describe('An ffmpeg whose progress (frames, output time) has not moved for this long is killed and run again.'),
  FFMPEG_STALL_ATTEMPTS: env.positiveInt(2).describe('Runs of one ffmpeg command ended by the stall watchdog before the job fails (and its queue retries it).'),
  FFMPEG_TIMEOUT_SECONDS: env
    .positiveInt(600)
    .describe('Time limit of one short ffmpeg command (preview, poster); also the least time a full encode is given.'),
  PREVIEW_SECONDS: z.coerce.number().positive().max(60).default(5).describe('Length of the muted, looping preview clip.'),
  PREVIEW_MAX_HEIGHT: env.positiveInt(480).describe("The preview's short side is at most this."),
});

export type MediaBinaries = z.infer<typeof mediaBinariesSchema>;
export type MediaEnv = z.infer<typeof mediaEnvSchema>;

/** The runner's binaries from validated media variables (a benchmark that runs the adapter without a service needs only these). */
export function binariesFrom(config: MediaBinaries): Pick<FfmpegRunnerOptions, 'ffmpegPath' | 'ffprobePath'> {
  return { ffmpegPath: config.FFMPEG_PATH, ffprobePath: config.FFPROBE_PATH };
}

/** The runner's settings from a service's validated media variables. */
export function runnerOptionsFrom(
  config: Pick<MediaEnv, 'FFMPEG_PATH' | 'FFPROBE_PATH' | 'FFMPEG_NICENESS' | 'FFMPEG_STALL_SECONDS' | 'FFMPEG_STALL_ATTEMPTS' | 'FFMPEG_TIMEOUT_SECONDS'>,
): FfmpegRunnerOptions {
  return {
    ...binariesFrom(config),
    niceness: config.FFMPEG_NICENESS,
    stallSeconds: config.FFMPEG_STALL_SECONDS,
    stallAttempts: config.FFMPEG_STALL_ATTEMPTS,
    timeoutSeconds: config.FFMPEG_TIMEOUT_SECONDS,
  };
}
