import { FfmpegRunner } from './ffmpeg-runner.js';

let shared: FfmpegRunner | undefined;

/** The runner used when a caller passes none: binaries from PATH, no niceness, no timeout. */
export function defaultRunner(): FfmpegRunner {
  shared ??= new FfmpegRunner();
  return shared;
}
