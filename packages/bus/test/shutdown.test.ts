import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import type { UploadReceived } from '@reelboard/contracts';
import { createBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deletePrefix, receivedUpload } from '@reelboard/testkit/uploads';
import { connectRedis } from '../src/index.js';

let redis: Redis;
const prefix = `bus-shutdown-${Date.now().toString(36)}`;
const log = createLogger('bus-shutdown-test', 'error');

const upload = (uploadId?: string): UploadReceived => receivedUpload(uploadId);

beforeAll(() => {
  redis = connectRedis(infraEnv().REDIS_URL ?? '', 'bus-shutdown-test');
});

afterAll(async () => {
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('shutdown', () => {
  it('aborts a handler that outlasts the grace period and hands its job back without using an attempt', async () => {
    const u = upload();
    const first = createBus(redis, prefix, 'replica-1', log);
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let aborted = false;
    first.consume(
      'upload.received',
      (_payload, context) =>
        new Promise<void>((_resolve, reject) => {
          started();
          // Like ffmpeg under the transcoder: runs until told to stop.
          context.signal?.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('killed by shutdown'));
          });
        }),
      { concurrency: 1 },
    );
    await first.publish('upload.received', u);
    await running;
    await first.close(200);
    expect(aborted).toBe(true);

    const job = await first.queue('upload.received').getJob(`${u.uploadId}.upload.received`);
    // Back in the wait list (what KEDA counts and every replica takes from), not delayed.
    expect(await job?.getState()).toBe('waiting');
    expect(job?.attemptsMade).toBe(0);

    // Another replica takes it up as a first attempt and finishes it.
    const second = createBus(redis, prefix, 'replica-2', log);
    const attempts: number[] = [];
    const done = new Promise<void>((resolve) => {
      second.consume(
        'upload.received',
        async (_payload, context) => {
          attempts.push(context.attempt);
          resolve();
        },
        { concurrency: 1 },
      );
    });
    await done;
    await second.close(1_000);
    expect(attempts).toEqual([1]);
  });

  it('hands back twice in a row, once for a handler that ignores the abort, with no attempt used, no stall counted and no give-up', async () => {
    const u = upload();
    // A short lock and stall check, and one stall allowed: a job left to the stalled checker would fail at the second.
    const timing = { lockMs: 1_000, stalledIntervalMs: 500, maxStalledCount: 1 };
    const gaveUp: string[] = [];
    const replica = (name: string) => {
      const bus = createBus(redis, prefix, name, log, {}, timing);
      bus.onGiveUp(async (_channel, _payload, error) => void gaveUp.push(error.message));
      return bus;
    };
    const jobOf = async (bus: ReturnType<typeof replica>) => bus.queue('upload.received').getJob(`${u.uploadId}.upload.received`);

    // Scale-in 1: the handler stops when aborted (ffmpeg killed).
    const first = replica('replica-1');
    let started!: () => void;
    let running = new Promise<void>((resolve) => (started = resolve));
    first.consume(
      'upload.received',
      (_payload, context) =>
        new Promise<void>((_resolve, reject) => {
          started();
          context.signal?.addEventListener('abort', () => reject(new Error('killed by shutdown')));
        }),
      { concurrency: 1 },
    );
    await first.publish('upload.received', u);
    await running;
    await first.close(200);
    expect(await (await jobOf(first))?.getState()).toBe('waiting');

    // Scale-in 2: the handler is stuck where no signal reaches (a probe, a network call) and never returns.
    const second = replica('replica-2');
    running = new Promise<void>((resolve) => (started = resolve));
    second.consume(
      'upload.received',
      () =>
        new Promise<void>(() => {
          started();
        }),
      { concurrency: 1 },
    );
    await running;
    const closingAt = Date.now();
    await second.close(200);
    // Grace, then HAND_BACK_MS (3 s) for the aborted handler, then the job is handed back for it.
    expect(Date.now() - closingAt).toBeLessThan(6_000);
    const handedBack = await jobOf(second);
    expect(await handedBack?.getState()).toBe('waiting');
    expect(handedBack?.attemptsMade).toBe(0);
    expect(handedBack?.stalledCounter).toBe(0);

    // A replica that stays finishes it, as its first attempt; nothing gave up on the upload.
    const third = replica('replica-3');
    const attempts: number[] = [];
    await new Promise<void>((resolve) => {
      third.consume(
        'upload.received',
        async (_payload, context) => {
          attempts.push(context.attempt);
          resolve();
        },
        { concurrency: 1 },
      );
    });
    // BullMQ marks it completed just after the handler returns: waited for, not given a fixed 1.5 s.
    await vi.waitFor(async () => expect(await (await jobOf(third))?.getState()).toBe('completed'), { timeout: 15_000, interval: 100 });
    await third.close(1_000);
    expect(attempts).toEqual([1]);
    expect(gaveUp).toEqual([]);
  }, 30_000);
});
