import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { ContractError, serviceQueues, type WebhookJob } from '@reelboard/contracts';
import { createBus, type PipelineBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deletePrefix } from '@reelboard/testkit/uploads';
import { connectRedis, RetryLaterError } from '../src/index.js';

// The queues beside the chain (the notifier's, the maintenance jobs') are rows of the table too: the
// bus takes their job ids, retries, retention and give-up policy from the row.
let redis: Redis;
const prefix = `svcqueues-${Date.now().toString(36)}`;
const buses: PipelineBus[] = [];
const gaveUp: string[] = [];

const newBus = () => {
  const bus = createBus(redis, prefix, 'svc-test', createLogger('svc-test', 'error'));
  bus.onGiveUp(async (channel) => void gaveUp.push(channel));
  buses.push(bus);
  return bus;
};

const pushJob = (seq = 1) => ({
  subscriptionId: randomUUID(),
  uploadId: randomUUID(),
  message: { title: 't', body: 'b', url: 'http://localhost/uploads/x', tag: 'x', event: 'profile.saved', seq },
});

beforeAll(() => {
  redis = connectRedis(infraEnv().REDIS_URL ?? '', 'svc-queues-test');
});

afterAll(async () => {
  for (const bus of buses) await bus.close(1_000);
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('queues beside the chain', () => {
  it('take their job id from the row: a notification added by two replicas is one job, a replay another', async () => {
    const bus = newBus();
    const job = pushJob(7);
    await bus.publish('notify.push', job);
    await bus.publish('notify.push', job);
    expect(await bus.queue('notify.push').getJob(`${job.uploadId}.7.push.${job.subscriptionId}`)).toBeDefined();
    expect(await bus.queue('notify.push').getWaitingCount()).toBe(1);

    const deliveryId = randomUUID();
    await bus.publish('notify.webhook', { deliveryId });
    await bus.publish('notify.webhook', { deliveryId, replayRequestedAt: 1_700_000_000_000 });
    const ids = (await bus.queue('notify.webhook').getWaiting()).map((waiting) => waiting.id).sort();
    expect(ids).toEqual([`${deliveryId}.replay.1700000000000`, `${deliveryId}.webhook`].sort());
    await expect(bus.publish('notify.webhook', { deliveryId: 'not-a-uuid' })).rejects.toThrow(ContractError);
    await bus.queue('notify.push').obliterate({ force: true });
    await bus.queue('notify.webhook').obliterate({ force: true });
  });

  it('hands a job back to wait with the payload it carries from now on, without using an attempt', async () => {
    const bus = newBus();
    const deliveryId = randomUUID();
    const seen: WebhookJob[] = [];
    const worker = bus.consume(
      'notify.webhook',
      async (job) => {
        seen.push(job);
        // The webhook queue's row allows one attempt: each wait must not count as one.
        if ((job.tries ?? 0) < 2) throw new RetryLaterError(20, 'receiver answered 503', { ...job, tries: (job.tries ?? 0) + 1 });
        return 'delivered';
      },
      { concurrency: 1 },
    );
    try {
      await bus.publish('notify.webhook', { deliveryId });
      await vi.waitFor(async () => expect(await bus.queue('notify.webhook').getCompletedCount()).toBe(1), { timeout: 10_000 });
      expect(seen.map((job) => job.tries ?? 0)).toEqual([0, 1, 2]);
    } finally {
      await worker.close();
    }
  });

  it('waits as long as a failure asks (Retry-After) on a retry-after row, when longer than the doubling delay', async () => {
    const bus = newBus();
    expect(serviceQueues['notify.push'].policy.backoff).toBe('retry-after');
    bus.overridePolicy('notify.push', { attempts: 3, backoffMs: 10 });
    const tries: number[] = [];
    const worker = bus.consume(
      'notify.push',
      async () => {
        tries.push(Date.now());
        if (tries.length === 1) throw Object.assign(new Error('push service answered 429'), { retryAfterMs: 1_200 });
        return 'sent';
      },
      { concurrency: 1 },
    );
    try {
      await bus.publish('notify.push', pushJob());
      await vi.waitFor(() => expect(tries).toHaveLength(2), { timeout: 10_000 });
      // The row's own doubling delay here is 10 ms: the 1.2 s came from the failure.
      expect(tries[1]! - tries[0]!).toBeGreaterThanOrEqual(1_150);
    } finally {
      await worker.close();
    }
  });

  it('never hand a job that failed for good to the lifecycle: a queue beside the chain fails no upload', async () => {
    const bus = newBus();
    const worker = bus.consume(
      'notify.webhook',
      async () => {
        throw new Error('postgres went away');
      },
      { concurrency: 1 },
    );
    try {
      const deliveryId = randomUUID();
      await bus.publish('notify.webhook', { deliveryId });
      // keep-for-operator: one attempt (the row), then the failed set, where bull-board shows it.
      await vi.waitFor(async () => expect((await bus.queue('notify.webhook').getFailed()).map((job) => job.id)).toContain(`${deliveryId}.webhook`), {
        timeout: 10_000,
      });
      expect(gaveUp).toEqual([]);
    } finally {
      await worker.close();
    }
  });

  it('schedule one job scheduler per queue however many replicas start, keeping its last runs by count', async () => {
    const replicas = [newBus(), newBus()];
    for (const bus of replicas) await bus.schedule('listings.maintenance', { every: 60_000 });
    const queue = replicas[0]!.queue('listings.maintenance');
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers.map((scheduler) => scheduler.key)).toEqual([serviceQueues['listings.maintenance'].scheduler]);
    // An `every` scheduler's first slot is now (waiting), a cron one's later (delayed): one job either way.
    const next = await queue.getJobs(['waiting', 'delayed']);
    expect(next).toHaveLength(1);
    expect(next[0]?.opts).toMatchObject({ attempts: 1, removeOnComplete: { count: 20 }, removeOnFail: { count: 50 } });
    await expect(replicas[0]!.schedule('notify.push', { every: 1_000 })).rejects.toThrow(/notify\.push has no scheduler id/);
  });
});
