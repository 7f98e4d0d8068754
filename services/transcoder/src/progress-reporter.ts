/** Publishes the latest percent of a running encode on a fixed beat. */
export interface ProgressReporter {
  /** Records the encoder's latest percent; published on the next beat. */
  update(percent: number): void;
  /** Stops the beat; nothing is published afterwards. */
  stop(): void;
}

/**
 * Reports on a timer rather than on ffmpeg's stats lines: the encoder can go quiet for seconds
 * (lookahead at the start, a slow 4K keyframe) and a watcher must still see the job is alive.
 * The first report (0 %) goes out at once.
 */
export function startProgressReporter(publish: (percent: number) => void, intervalMs: number): ProgressReporter {
  let latest = 0;
  publish(latest);
  const timer = setInterval(() => publish(latest), intervalMs);
  // A beat must never keep a shutting-down process alive.
  timer.unref();
  return {
    update: (percent) => {
      latest = Math.max(latest, Math.round(Math.min(100, Math.max(0, percent))));
    },
    stop: () => clearInterval(timer),
  };
}
