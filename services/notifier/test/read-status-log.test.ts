// The notifier's reader of the durable status log, on a real Redis: it keeps reading when ioredis
// gives up on its connection (which it does in a few races, e.g. a Sentinel failover announced in
// the middle of a reconnect).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { connectRedis } from '@reelboard/bus';
import type { StatusEvent } from '@reelboard/contracts';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { readStatusLog } from '../src/read-status-log.js';

let redis: Redis;
const key = `statuslog-test-${randomUUID()}`;

beforeAll(() => {
  redis = connectRedis(infraEnv().REDIS_URL ?? '', 'status-log-test');
});

afterAll(async () => {
  await redis.del(key);
  await redis.quit();
});

const entry = (uploadId: string, seq: number): StatusEvent => ({
  uploadId,
  seq,
  event: 'upload.received',
  stage: 'test',
  state: 'awaiting_payment',
  at: new Date().toISOString(),
});

describe('reading the status log', () => {
  it('connects again when its connection was ended for good, and reads on', async () => {
    const connection = redis.duplicate();
    const seen: number[] = [];
    const reader = await readStatusLog({
      redis: connection,
      key,
      group: 'test',
      consumer: 'one',
      handle: async (event) => void seen.push(event.seq),
      log: createLogger('status-log-test', 'error'),
      blockMs: 200,
    });
    try {
      const uploadId = randomUUID();
      await redis.xadd(key, '*', 'event', JSON.stringify(entry(uploadId, 1)));
      await expect.poll(() => seen, { timeout: 5_000 }).toEqual([1]);
      // What ioredis leaves after giving up on a client: status 'end', no more reconnects.
      const ended = new Promise((resolve) => connection.once('end', resolve));
      connection.disconnect();
      await ended;
      await redis.xadd(key, '*', 'event', JSON.stringify(entry(uploadId, 2)));
      await expect.poll(() => seen, { timeout: 10_000 }).toEqual([1, 2]);
    } finally {
      await reader.stop();
      connection.disconnect();
    }
  });
});
