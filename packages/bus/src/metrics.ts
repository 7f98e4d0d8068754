import type { Queue } from 'bullmq';
import { Counter, Gauge, Histogram, register } from 'prom-client';

// One set of job metrics per process, on prom-client's default registry (served at /metrics).
const labelNames = ['channel'] as const;

export const jobsStarted = new Counter({ name: 'reelboard_jobs_started_total', help: 'Jobs a stage started, per channel', labelNames });
export const jobsCompleted = new Counter({ name: 'reelboard_jobs_completed_total', help: 'Jobs a stage finished, per channel', labelNames });
export const jobsFailed = new Counter({
  name: 'reelboard_jobs_failed_total',
  help: 'Job runs that failed, per channel; final="true" when the stage gave up for good',
  labelNames: ['channel', 'final'] as const,
});
export const jobDuration = new Histogram({
  name: 'reelboard_job_duration_seconds',
  help: 'Time a stage spent on a job, per channel and outcome',
  labelNames: ['channel', 'outcome'] as const,
  buckets: [0.005, 0.02, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 180, 600],
});

/** Something that can name the queues whose depth this process reports (a Bus: every channel). */
export interface QueueSource {
  watchedQueues(): Queue[];
}

const watched = new Set<QueueSource>();

/**
 * Reports the depth and oldest waiting job of every queue `source` names, read from Redis when
 * metrics are scraped. Every service watches every channel, not only the ones it consumes, so a
 * backlog stays visible (and alertable) while that channel's consumer is down.
 */
export function watchQueues(source: QueueSource): void {
  watched.add(source);
}
export function unwatchQueues(source: QueueSource): void {
  watched.delete(source);
}

/** The watched queues, one per prefix and name (two buses of one process may share a prefix). */
function watchedQueues(): Queue[] {
  const byKey = new Map<string, Queue>();
  for (const source of watched) for (const queue of source.watchedQueues()) byKey.set(`${queue.opts.prefix ?? 'bull'}:${queue.name}`, queue);
  return [...byKey.values()];
}

new Gauge({
  name: 'reelboard_queue_jobs',
  help: 'Jobs in a channel queue, per state',
  labelNames: ['channel', 'state'] as const,
  async collect() {
    this.reset();
    for (const queue of watchedQueues()) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
      for (const [state, count] of Object.entries(counts)) this.set({ channel: queue.name, state }, count);
    }
  },
});

new Gauge({
  name: 'reelboard_queue_oldest_waiting_seconds',
  help: 'Age of the oldest job waiting in a channel queue (0 when empty)',
  labelNames,
  async collect() {
    this.reset();
    for (const queue of watchedQueues()) {
      const waiting = await queue.getWaitingCount();
      // Both ends of the wait list, whichever order the queue keeps them in.
      const ends = waiting === 0 ? [] : [...(await queue.getWaiting(0, 0)), ...(await queue.getWaiting(waiting - 1, waiting - 1))];
      const oldest = Math.min(...ends.map((job) => job.timestamp));
      this.set({ channel: queue.name }, ends.length ? Math.max(0, (Date.now() - oldest) / 1000) : 0);
    }
  },
});

export { register };
