import { afterEach, describe, expect, it, vi } from 'vitest';
import { startProgressReporter } from '../src/progress-reporter.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('startProgressReporter', () => {
  it('publishes 0 at once, then the latest percent on every beat even while the encoder is quiet', () => {
    vi.useFakeTimers();
    const published: number[] = [];
    const reporter = startProgressReporter((percent) => published.push(percent), 2_000);
    expect(published).toEqual([0]);

    reporter.update(12.4);
    vi.advanceTimersByTime(2_000);
    // No update from ffmpeg for 6 s (a long keyframe): the beat goes on with the last value.
    vi.advanceTimersByTime(6_000);
    reporter.update(55.6);
    vi.advanceTimersByTime(2_000);
    expect(published).toEqual([0, 12, 12, 12, 12, 56]);

    reporter.stop();
    vi.advanceTimersByTime(10_000);
    expect(published).toHaveLength(6);
  });

  it('never goes backwards and stays within 0-100', () => {
    vi.useFakeTimers();
    const published: number[] = [];
    const reporter = startProgressReporter((percent) => published.push(percent), 1_000);
    reporter.update(40);
    reporter.update(30);
    vi.advanceTimersByTime(1_000);
    reporter.update(140);
    vi.advanceTimersByTime(1_000);
    reporter.stop();
    expect(published).toEqual([0, 40, 100]);
  });
});
