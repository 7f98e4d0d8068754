import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deletePrefix, receivedUpload } from '@reelboard/testkit/uploads';
import { connectRedis, SharedSlots } from '../src/index.js';

// One limit across a replica's queues (the transcoder's payment.confirmed, video.chunk,
// rendition.join and video.assemble), on real Redis and BullMQ workers: BullMQ's own concurrency
// is per queue, so without the shared slots a replica with a limit of 1 runs a job of each queue at once.

let redis: Redis;
const prefix = `bus-slots-${Date.now().toString(36)}`;
const log = createLogger('bus-slots-test', 'error');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(() => {
  redis = connectRedis(infraEnv().REDIS_URL ?? '', 'bus-slots-test');
});

afterAll(async () => {
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('shared slots', () => {
  it('runs at most the limit across two queues, and a job waiting for a slot stays waiting in its queue', async () => {
    const bus = createBus(redis, `${prefix}-a`, 'replica', log);
    const slots = new SharedSlots(1);
    let running = 0;
    let most = 0;
    const activeSeen: number[] = [];
    const ran: string[] = [];
    let finished!: () => void;
    const allDone = new Promise<void>((resolve) => (finished = resolve));
    const record = (queue: string) => async () => {
      running += 1;
      most = Math.max(most, running);
      // What other replicas (and KEDA) see: only the job that holds the slot is active.
      activeSeen.push((await bus.queue('upload.received').getActiveCount()) + (await bus.queue('preview.speculative').getActiveCount()));
      await sleep(150);
      ran.push(queue);
      running -= 1;
      if (ran.length === 6) finished();
    };
    bus.consume('upload.received', record('upload.received'), { concurrency: 1, slots });
    bus.consume('preview.speculative', record('preview.speculative'), { concurrency: 1, slots });
    for (let i = 0; i < 3; i += 1) {
      await bus.publish('upload.received', receivedUpload());
      await bus.publish('preview.speculative', receivedUpload());
    }
    await allDone;
    await bus.close(1_000);
    expect(most).toBe(1);
    expect(Math.max(...activeSeen)).toBe(1);
    expect(ran.filter((queue) => queue === 'upload.received')).toHaveLength(3);
    expect(ran.filter((queue) => queue === 'preview.speculative')).toHaveLength(3);
    expect(slots.inUse()).toBe(0);
  });

  it('a limit of 2 runs two at once across the queues', async () => {
    const bus = createBus(redis, `${prefix}-b`, 'replica', log);
    const slots = new SharedSlots(2);
    let running = 0;
    let most = 0;
    let count = 0;
    let finished!: () => void;
    const allDone = new Promise<void>((resolve) => (finished = resolve));
    const record = async () => {
      running += 1;
      most = Math.max(most, running);
      await sleep(200);
      running -= 1;
      count += 1;
      if (count === 6) finished();
    };
    bus.consume('upload.received', record, { concurrency: 2, slots });
    bus.consume('preview.speculative', record, { concurrency: 2, slots });
    for (let i = 0; i < 3; i += 1) {
      await bus.publish('upload.received', receivedUpload());
      await bus.publish('preview.speculative', receivedUpload());
    }
    await allDone;
    await bus.close(1_000);
    expect(most).toBe(2);
  });

  it('a queue with its own concurrency runs beside the shared slots, never waiting for them', async () => {
    const bus = createBus(redis, `${prefix}-c`, 'replica', log);
    const slots = new SharedSlots(1);
    let ownRan!: () => void;
    const ownDone = new Promise<void>((resolve) => (ownRan = resolve));
    let sharedDone!: () => void;
    const shared = new Promise<void>((resolve) => (sharedDone = resolve));
    // The paid job holds the only slot until the other queue's job has run: it must run meanwhile.
    bus.consume(
      'upload.received',
      async () => {
        await Promise.race([ownDone, sleep(10_000).then(() => Promise.reject(new Error('the own-limit queue waited for the shared slot')))]);
        sharedDone();
      },
      { concurrency: 1, slots },
    );
    bus.consume('preview.speculative', async () => ownRan(), { concurrency: 1 });
    await bus.publish('upload.received', receivedUpload());
    await sleep(300);
    await bus.publish('preview.speculative', receivedUpload());
    await shared;
    await bus.close(1_000);
  });

  it('shutdown while a queue waits for the slot: the running job is handed back, the waiting one never starts, close returns', async () => {
    const bus = createBus(redis, `${prefix}-d`, 'replica', log);
    const slots = new SharedSlots(1);
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const ran: string[] = [];
    bus.consume(
      'upload.received',
      (_payload, context) =>
        new Promise((_resolve, reject) => {
          ran.push('upload.received');
          started();
          context.signal?.addEventListener('abort', () => reject(new Error('killed by shutdown')));
        }),
      { concurrency: 1, slots },
    );
    bus.consume('preview.speculative', async () => void ran.push('preview.speculative'), { concurrency: 1, slots });
    const held = receivedUpload();
    await bus.publish('upload.received', held);
    await running;
    const waiting = receivedUpload();
    await bus.publish('preview.speculative', waiting);
    await sleep(300);
    await bus.close(300);
    expect(ran).toEqual(['upload.received']);
    expect(await (await bus.queue('upload.received').getJob(`${held.uploadId}.upload.received`))?.getState()).toMatch(/waiting|delayed/);
    expect(await (await bus.queue('preview.speculative').getJob(`${waiting.uploadId}.preview.speculative`))?.getState()).toBe('waiting');
    expect(slots.inUse()).toBe(0);
  });
});
