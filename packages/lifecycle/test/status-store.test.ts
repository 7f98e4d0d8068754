import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { connectRedis } from '@reelboard/bus';
import type { StatusEvent } from '@reelboard/contracts';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deletePrefix } from '@reelboard/testkit/uploads';
import { StatusStore } from '../src/index.js';

let redis: Redis;
let store: StatusStore;
const prefix = `status-store-${Date.now().toString(36)}`;

beforeAll(() => {
  redis = connectRedis(infraEnv().REDIS_URL ?? '', 'status-store-test');
  store = new StatusStore(redis, prefix);
});

afterAll(async () => {
  await store.close();
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('status store', () => {
  it('numbers events, keeps history and the latest, and ignores events after the end', async () => {
    const uploadId = randomUUID();
    const live: number[] = [];
    const unsubscribe = await store.subscribe((e) => e.uploadId === uploadId && live.push(e.seq));
    const base = { uploadId, stage: 'test' };
    expect(await store.publish({ ...base, event: 'upload.received' }, { from: ['-'], to: 'awaiting_payment' })).toBe(1);
    expect(await store.publish({ ...base, event: 'progress', progress: 50 })).toBe(2);
    expect(await store.publish({ ...base, event: 'failed', reason: 'boom' }, { from: ['awaiting_payment'], to: 'failed' })).toBe(3);
    expect(await store.publish({ ...base, event: 'progress', progress: 60 })).toBe(0);
    // A change from a state the upload is not in publishes nothing and changes nothing.
    expect(await store.publish({ ...base, event: 'expired' }, { from: ['awaiting_payment'], to: 'expired' })).toBe(0);
    expect(await store.state(uploadId)).toBe('failed');
    expect((await store.history(uploadId)).map((e) => e.state)).toEqual(['awaiting_payment', 'awaiting_payment', 'failed']);
    expect((await store.latest(uploadId))?.event).toBe('failed');
    expect((await store.history(uploadId, 1)).map((e) => e.seq)).toEqual([2, 3]);
    // Pub/sub delivers after publish returns: waited for, not given a fixed 100 ms.
    await vi.waitFor(() => expect(live).toEqual([1, 2, 3]), { timeout: 10_000, interval: 50 });
    unsubscribe();

    // The durable log the notifier reads holds the state changes, not progress nor ignored events.
    const log = (await redis.xrange(store.logKey, '-', '+')) as [string, string[]][];
    const mine = log.map(([, fields]) => JSON.parse(fields[1] ?? '{}') as StatusEvent).filter((e) => e.uploadId === uploadId);
    expect(mine.map((e) => [e.seq, e.event])).toEqual([
      [1, 'upload.received'],
      [3, 'failed'],
    ]);
  });

  it('connects its subscriber again when ioredis ends it, and tells followers to catch up', async () => {
    const uploadId = randomUUID();
    const live: number[] = [];
    let resumed = 0;
    const unsubscribe = await store.subscribe(
      (e) => e.uploadId === uploadId && live.push(e.seq),
      () => resumed++,
    );
    // What ioredis leaves after giving up on a client: status 'end', no more reconnects.
    const subscriber = (store as unknown as { subscriber: Redis }).subscriber;
    subscriber.disconnect();
    const deadline = Date.now() + 10_000;
    while (resumed === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(resumed).toBeGreaterThan(0);
    expect(subscriber.status).toBe('ready');
    await store.publish({ uploadId, stage: 'test', event: 'upload.received' }, { from: ['-'], to: 'awaiting_payment' });
    await vi.waitFor(() => expect(live).toEqual([1]), { timeout: 10_000, interval: 50 });
    unsubscribe();
  });

  it('refuses an event without the code its readers branch on, or with a code not of its event', async () => {
    const uploadId = randomUUID();
    const base = { uploadId, stage: 'test' };
    await expect(store.publish({ ...base, event: 'payment.received', message: 'partial' })).rejects.toThrow(
      /payment.received event needs a code: one of partial, late, overpaid/,
    );
    await expect(store.publish({ ...base, event: 'payment.rejected', code: 'late' })).rejects.toThrow(/code late is not one of payment.rejected's/);
    await expect(store.publish({ ...base, event: 'failed', code: 'partial' })).rejects.toThrow(/a failed event carries no code/);
    expect(await store.history(uploadId)).toEqual([]);
    expect(await store.publish({ ...base, event: 'payment.received', code: 'partial', message: 'received 1 of 2' })).toBe(1);
    expect(await store.latest(uploadId)).toMatchObject({ event: 'payment.received', code: 'partial', message: 'received 1 of 2' });
  });
});
