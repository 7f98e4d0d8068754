import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { ContractError, type StatusEvent, type UploadReceived } from '@reelboard/contracts';
import { createBus, type PipelineBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deletePrefix, receivedUpload } from '@reelboard/testkit/uploads';
import { connectRedis, PermanentError, RetryLaterError } from '../src/index.js';

let redis: Redis;
let bus: PipelineBus;
const prefix = `bustest-${Date.now().toString(36)}`;

const upload = (uploadId?: string): UploadReceived => receivedUpload(uploadId);

/** Resolves with the first status event of `uploadId` named `event`. */
function nextStatus(uploadId: string, event: string, timeoutMs = 10_000): Promise<StatusEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} for ${uploadId}`)), timeoutMs);
    void bus.status.subscribe((e) => {
      if (e.uploadId === uploadId && e.event === event) {
        clearTimeout(timer);
        resolve(e);
      }
    });
  });
}

/** What the bus handed to its give-up handler. */
const gaveUpCalls: { channel: string; uploadId?: string; error: string }[] = [];
const nextGiveUp = async (uploadId: string, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = gaveUpCalls.find((call) => call.uploadId === uploadId);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no give-up for ${uploadId}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

beforeAll(() => {
  redis = connectRedis(infraEnv().REDIS_URL ?? '', 'bus-test');
  bus = createBus(redis, prefix, 'bus-test', createLogger('bus-test', 'error'), {
    'upload.received': { attempts: 3, backoffMs: 50 },
  });
  bus.onGiveUp(async (channel, payload, error) => {
    gaveUpCalls.push({ channel, uploadId: (payload as { uploadId?: string }).uploadId, error: error.message });
  });
});

afterAll(async () => {
  await bus.close(1_000);
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('publishing', () => {
  it('adds one job per upload and channel however often it is published', async () => {
    const u = upload();
    await bus.publish('upload.received', u);
    await bus.publish('upload.received', u);
    const job = await bus.queue('upload.received').getJob(`${u.uploadId}.upload.received`);
    expect(job?.data.uploadId).toBe(u.uploadId);
    expect(await bus.queue('upload.received').getWaitingCount()).toBe(1);
    await bus.queue('upload.received').obliterate({ force: true });
  });

  it('refuses a payload that breaks its contract, adding nothing', async () => {
    await expect(bus.publish('payment.submitted', { uploadId: randomUUID(), txHash: '0x12' as `0x${string}`, round: 1 })).rejects.toThrow(ContractError);
    expect(await bus.queue('payment.submitted').getWaitingCount()).toBe(0);
  });
});

describe('consuming', () => {
  it('retries a failing stage, then hands the result on with a status event', async () => {
    const u = upload();
    let calls = 0;
    const seen = nextStatus(u.uploadId, 'payment.confirmed');
    const worker = bus.consume(
      'upload.received',
      async (payload, context) => {
        calls += 1;
        if (calls < 3) throw new Error('flaky');
        await context.emit('payment.confirmed', {
          ...payload,
          payment: {
            chainId: 31337,
            address: payload.quote.to,
            token: null,
            amount: '1',
            blockNumber: '1',
            blockTime: new Date().toISOString(),
            status: 'paid',
            txHashes: [`0x${'1'.repeat(64)}`],
          },
        });
      },
      { concurrency: 1 },
    );
    await bus.publish('upload.received', u);
    const status = await seen;
    expect(calls).toBe(3);
    expect(status).toMatchObject({ stage: 'bus-test', event: 'payment.confirmed' });
    await vi.waitFor(async () => expect(await bus.queue('payment.confirmed').getJob(`${u.uploadId}.payment.confirmed`)).toBeDefined());
    await worker.close();
  });

  it('announces a step before queueing the next stage, so that stage can never announce its own first', async () => {
    const u = upload();
    const jobId = `${u.uploadId}.payment.confirmed`;
    const queuedWhenAnnounced: boolean[] = [];
    const publishStatus = bus.status.publish.bind(bus.status);
    const spy = vi.spyOn(bus.status, 'publish').mockImplementation(async (input, change) => {
      if (input.uploadId === u.uploadId && input.event === 'payment.confirmed')
        queuedWhenAnnounced.push(Boolean(await bus.queue('payment.confirmed').getJob(jobId)));
      return publishStatus(input, change);
    });
    const seen = nextStatus(u.uploadId, 'payment.confirmed');
    const worker = bus.consume(
      'upload.received',
      async (payload, context) => {
        await context.emit('payment.confirmed', {
          ...payload,
          payment: {
            chainId: 31337,
            address: payload.quote.to,
            token: null,
            amount: '1',
            blockNumber: '1',
            blockTime: new Date().toISOString(),
            status: 'paid',
            txHashes: [`0x${'2'.repeat(64)}`],
          },
        });
      },
      { concurrency: 1 },
    );
    try {
      await bus.publish('upload.received', u);
      await seen;
      await vi.waitFor(async () => expect(await bus.queue('payment.confirmed').getJob(jobId)).toBeDefined());
      expect(queuedWhenAnnounced).toEqual([false]);
    } finally {
      spy.mockRestore();
      await worker.close();
    }
  });

  it('gives up at once on a permanent error, handing the job to the give-up handler with its reason', async () => {
    const u = upload();
    let calls = 0;
    const gaveUp = nextGiveUp(u.uploadId);
    const worker = bus.consume(
      'upload.received',
      async () => {
        calls += 1;
        throw new PermanentError('not a video', 'no_video_stream');
      },
      { concurrency: 1 },
    );
    await bus.publish('upload.received', u);
    expect(await gaveUp).toMatchObject({ channel: 'upload.received', error: 'not a video' });
    expect(calls).toBe(1);
    expect((await bus.queue('upload.received').getJob(`${u.uploadId}.upload.received`))?.failedReason).toBe('not a video');
    await worker.close();
  });

  it('fails a job whose payload breaks the contract when consumed, without retrying', async () => {
    const uploadId = randomUUID();
    let calls = 0;
    const gaveUp = nextGiveUp(uploadId);
    const worker = bus.consume('upload.received', async () => void (calls += 1), { concurrency: 1 });
    // Bypasses publish's validation, as a producer with an older contract would.
    await bus.queue('upload.received').add('upload.received', { uploadId, owner: 'nobody' }, { jobId: `${uploadId}.upload.received` });
    expect((await gaveUp).error).toMatch(/breaks its contract/);
    expect(calls).toBe(0);
    await worker.close();
  });

  it('runs a job again later without using an attempt when asked to wait', async () => {
    const u = upload();
    let calls = 0;
    const attemptsSeen: number[] = [];
    const done = new Promise<void>((resolve) => {
      const worker = bus.consume(
        'upload.received',
        async (_payload, context) => {
          calls += 1;
          attemptsSeen.push(context.attempt);
          if (calls < 5) throw new RetryLaterError(20);
          resolve();
          void worker.close();
        },
        { concurrency: 1 },
      );
    });
    await bus.publish('upload.received', u);
    await done;
    // Five runs with attempts capped at three: waiting did not count as failing.
    expect(calls).toBe(5);
    expect(Math.max(...attemptsSeen)).toBe(1);
  });
});
