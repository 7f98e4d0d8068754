import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    expect(['delayed', 'waiting']).toContain(await job?.getState());
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
});
