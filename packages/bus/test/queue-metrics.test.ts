import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { queues } from '@reelboard/contracts';
import { createBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { connectRedis, metricsRegistry } from '../src/index.js';

// The backlog alert reads reelboard_queue_jobs: it must come from any service, not only from the
// channel's consumer, or it goes silent exactly when that consumer is down.

let redis: Redis;
const prefix = `qmetrics-${Date.now().toString(36)}`;

/** reelboard_queue_jobs samples as `channel/state -> value`. */
async function queueJobs(): Promise<Map<string, number>> {
  const metric = await metricsRegistry.getSingleMetric('reelboard_queue_jobs')!.get();
  return new Map(metric.values.map((sample) => [`${sample.labels.channel}/${sample.labels.state}`, sample.value]));
}

beforeAll(() => {
  redis = connectRedis(infraEnv().REDIS_URL ?? '', 'queue-metrics-test');
});

afterAll(async () => {
  await redis.quit();
});

describe('queue depth gauges', () => {
  it('a service that consumes nothing reports every queue of the table, including a backlog nobody is consuming', async () => {
    // The gateway's bus: it publishes but consumes no channel. No transcoder runs.
    const bus = createBus(redis, prefix, 'api-gateway', createLogger('queue-metrics-test', 'error'));
    try {
      const uploadId = randomUUID();
      await bus.queue('payment.confirmed').add('payment.confirmed', { uploadId }, { jobId: `${uploadId}.payment.confirmed` });
      const samples = await queueJobs();
      for (const channel of Object.keys(queues)) expect(samples.has(`${channel}/waiting`), channel).toBe(true);
      expect(samples.get('payment.confirmed/waiting')).toBe(1);
      expect(samples.get('video.transcoded/waiting')).toBe(0);
      const oldest = await metricsRegistry.getSingleMetric('reelboard_queue_oldest_waiting_seconds')!.get();
      expect(oldest.values.find((sample) => sample.labels.channel === 'payment.confirmed')?.value).toBeGreaterThanOrEqual(0);
      expect(oldest.values).toHaveLength(Object.keys(queues).length);
    } finally {
      for (const channel of Object.keys(queues) as (keyof typeof queues)[]) await bus.queue(channel).obliterate({ force: true });
      await bus.close(1_000);
    }
    // A closed bus is no longer read at scrape time.
    expect((await queueJobs()).size).toBe(0);
  });
});
