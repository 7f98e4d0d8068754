// What the bus writes expires on its configured schedule: finished jobs are swept even when the
// queue went quiet (BullMQ only applies removeOnComplete's age when another job finishes), upload
// records and histories carry the upload TTL, and the status log is trimmed by age.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { UploadReceived } from '@reelboard/contracts';
import { createBus, type PipelineBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deletePrefix, receivedUpload } from '@reelboard/testkit/uploads';
import { connectRedis, sweepIntervalMs } from '../src/index.js';

let redis: Redis;
let bus: PipelineBus;
const prefix = `retention-${Date.now().toString(36)}`;

const upload = (): UploadReceived => receivedUpload();

beforeAll(() => {
  redis = connectRedis(infraEnv().REDIS_URL ?? '', 'retention-test');
  bus = createBus(
    redis,
    prefix,
    'retention-test',
    createLogger('retention-test', 'error'),
    {},
    {},
    { completedJobSeconds: 1, failedJobSeconds: 1, uploadSeconds: 5, statusLogSeconds: 1 },
  );
});

afterAll(async () => {
  await bus.close(1_000);
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('retention', () => {
  it("sweeps a quiet queue's finished jobs past their age, and trims the status log", async () => {
    const u = upload();
    let done: () => void = () => {};
    const handled = new Promise<void>((resolve) => (done = resolve));
    bus.consume(
      'upload.received',
      async (_payload, context) => {
        await context.status('progress', { progress: 10 });
        done();
      },
      { concurrency: 1 },
    );
    await bus.publish('upload.received', u);
    await handled;
    const queue = bus.queue('upload.received');
    const jobId = `${u.uploadId}.upload.received`;
    const completing = Date.now() + 15_000;
    while (Date.now() < completing && (await queue.getJobState(jobId)) !== 'completed') await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await queue.getJobState(jobId)).toBe('completed');

    // The status event carries the upload TTL on its hash and history.
    const ttl = await redis.ttl(`${prefix}:upload:${u.uploadId}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5);
    await bus.status.publish({ uploadId: u.uploadId, event: 'upload.received', stage: 'retention-test' });
    expect(await redis.xlen(bus.status.logKey)).toBeGreaterThan(0);

    // Nothing else finishes on this queue, so BullMQ itself never removes it: the bus's periodic
    // sweep (every second at these retentions) does, and trims the log.
    const deadline = Date.now() + 6_000;
    while (Date.now() < deadline && ((await queue.getJobState(jobId)) !== 'unknown' || (await redis.xlen(bus.status.logKey)) > 0))
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await queue.getJobState(jobId)).toBe('unknown');
    expect(await redis.xlen(bus.status.logKey)).toBe(0);
    expect(await bus.sweep()).toBe(0);
  });

  it('sweeps at a tenth of the shortest retention, between 1 s and 10 min', () => {
    expect(sweepIntervalMs({ completedJobSeconds: 1 })).toBe(1_000);
    expect(sweepIntervalMs({ completedJobSeconds: 600, failedJobSeconds: 3_600, statusLogSeconds: 900 })).toBe(60_000);
    expect(sweepIntervalMs()).toBe(600_000);
  });
});
