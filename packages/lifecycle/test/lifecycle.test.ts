import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis, PermanentError } from '@reelboard/bus';
import type { Payment, StatusEvent, UploadReceived } from '@reelboard/contracts';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deletePrefix, receivedUpload } from '@reelboard/testkit/uploads';
import { createBus, giveUpByPolicy, listFailedUploads, type PipelineBus, retryFailedUpload, Uploads } from '../src/index.js';

let redis: Redis;
let bus: PipelineBus;
let uploads: Uploads;
const prefix = `lifecycle-${Date.now().toString(36)}`;
const log = createLogger('lifecycle-test', 'error');

const upload = (uploadId?: string): UploadReceived => receivedUpload(uploadId, { to: '0x1111111111111111111111111111111111111111', amount: '100' });

const payment = (amount = '100'): Payment => ({
  chainId: 31337,
  address: '0x1111111111111111111111111111111111111111',
  token: null,
  amount,
  blockNumber: '7',
  blockTime: new Date().toISOString(),
  status: 'paid',
  txHashes: [],
});

async function until<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(() => {
  redis = connectRedis(infraEnv().REDIS_URL ?? '', 'lifecycle-test');
  bus = createBus(
    redis,
    prefix,
    'payment-watcher',
    log,
    { 'upload.received': { attempts: 2, backoffMs: 50 } },
    { lockMs: 1_000, stalledIntervalMs: 300, maxStalledCount: 1 },
  );
  uploads = new Uploads(redis, prefix, bus.status);
  bus.onGiveUp(giveUpByPolicy(uploads, bus, 'payment-watcher'));
});

afterAll(async () => {
  await bus.close(1_000);
  await deletePrefix(redis, prefix);
  await redis.quit();
});

describe('transitions', () => {
  it('move only from the states they allow, each with its event, so events never go backwards', async () => {
    const u = upload();
    await uploads.register(u, 'gateway');
    expect(await uploads.state(u.uploadId)).toBe('awaiting_payment');
    expect(await uploads.pay(u.uploadId, payment(), 'watcher')).toBe(true);
    // A second payment does not replace the first, and the state does not move again.
    expect(await uploads.pay(u.uploadId, payment('999'), 'watcher')).toBe(false);
    expect((await uploads.payment(u.uploadId))?.amount).toBe('100');
    expect((await uploads.transition(u.uploadId, 'expire', { stage: 'watcher' })).moved).toBe(false);
    expect((await uploads.transition(u.uploadId, 'start', { stage: 'transcoder' })).moved).toBe(true);
    expect((await uploads.transition(u.uploadId, 'save', { stage: 'profile-writer' })).state).toBe('saved');
    expect((await uploads.transition(u.uploadId, 'fail', { stage: 'uploader', reason: 'late failure' })).moved).toBe(false);
    // After the end, stage events are dropped; moderation decisions still reach the owner.
    expect(await bus.status.publish({ uploadId: u.uploadId, event: 'progress', stage: 'transcoder', progress: 10 })).toBe(0);
    expect(await bus.status.publish({ uploadId: u.uploadId, event: 'moderation.approved', stage: 'moderation' })).toBeGreaterThan(0);
    const history = await bus.status.history(u.uploadId);
    expect(history.map((e) => [e.event, e.state])).toEqual([
      ['upload.received', 'awaiting_payment'],
      ['payment.confirmed', 'paid'],
      ['progress', 'processing'],
      ['profile.saved', 'saved'],
      ['moderation.approved', 'saved'],
    ]);
  });

  it('a payment and an expiry racing for the same upload: exactly one wins, every time', async () => {
    const raced = await Promise.all(
      Array.from({ length: 25 }, async () => {
        const u = upload();
        await uploads.register(u, 'gateway');
        const [paid, expired] = await Promise.all([
          uploads.pay(u.uploadId, payment(), 'watcher'),
          uploads.transition(u.uploadId, 'expire', { stage: 'watcher' }).then((r) => r.moved),
        ]);
        const state = await uploads.state(u.uploadId);
        return { paid, expired, state, hasPayment: (await uploads.payment(u.uploadId)) !== undefined };
      }),
    );
    for (const r of raced) {
      expect(r.paid !== r.expired).toBe(true);
      expect(r.state).toBe(r.paid ? 'paid' : 'expired');
      // The payment is written with the state change or not at all.
      expect(r.hasPayment).toBe(r.paid);
    }
  });

  it('hints: a few distinct hashes at a time; a hash re-sent while followed is the same round (one job), after its verdict a new one', async () => {
    const id = randomUUID();
    expect(await uploads.followHint(id, '0xaa', 2)).toEqual({ round: 1 });
    expect(await uploads.followHint(id, '0xaa', 2)).toEqual({ round: 1 });
    expect(await uploads.followHint(id, '0xAA', 2)).toEqual({ round: 1 });
    expect(await uploads.followHint(id, '0xbb', 2)).toEqual({ round: 1 });
    expect(await uploads.followHint(id, '0xcc', 2)).toBe('limit');
    await uploads.unfollowHint(id, '0xaa');
    expect(await uploads.followHint(id, '0xcc', 2)).toEqual({ round: 1 });
    await uploads.unfollowHint(id, '0xbb');
    expect(await uploads.followHint(id, '0xaa', 2)).toEqual({ round: 2 });
    // Two sends of one new hash at once start one round.
    const both = await Promise.all([uploads.followHint(id, '0xdd', 3), uploads.followHint(id, '0xdd', 3)]);
    expect(both).toEqual([{ round: 1 }, { round: 1 }]);
  });
});

describe('give-up policies (from the channel table)', () => {
  it('fail-upload: a paid upload whose stage gives up ends failed and goes to upload.failed', async () => {
    const u = upload();
    await uploads.register(u, 'gateway');
    await uploads.pay(u.uploadId, payment(), 'watcher');
    const worker = bus.consume(
      'payment.confirmed',
      async () => {
        throw new PermanentError('the source is not a video', 'not_media');
      },
      { concurrency: 1 },
    );
    await bus.publish('payment.confirmed', { ...u, payment: payment() });
    await until(async () => ((await uploads.state(u.uploadId)) === 'failed' ? true : undefined), 'failed');
    const failedJob = await bus.queue('upload.failed').getJob(`${u.uploadId}.upload.failed`);
    expect(failedJob?.data).toMatchObject({ stage: 'payment-watcher', reason: 'the source is not a video', upload: { payment: { amount: '100' } } });
    expect((await uploads.latest(u.uploadId))?.reason).toContain('the source is not a video');
    await worker.close();
  });

  it('drop-hint: a hash that cannot be checked is refused, the upload stays payable', async () => {
    const u = upload();
    await uploads.register(u, 'gateway');
    await uploads.followHint(u.uploadId, `0x${'ab'.repeat(32)}`, 3);
    const events: StatusEvent[] = [];
    const stop = await bus.status.subscribe((e) => e.uploadId === u.uploadId && events.push(e));
    const worker = bus.consume(
      'payment.submitted',
      async () => {
        throw new PermanentError('RPC unreachable');
      },
      { concurrency: 1 },
    );
    await bus.publish('payment.submitted', { uploadId: u.uploadId, txHash: `0x${'ab'.repeat(32)}`, round: 1 });
    const rejected = await until(async () => events.find((e) => e.event === 'payment.rejected'), 'payment.rejected');
    expect(rejected).toMatchObject({ code: 'unverifiable', state: 'awaiting_payment' });
    expect(await uploads.state(u.uploadId)).toBe('awaiting_payment');
    // Its place is freed: the same hash may be sent again, as a new round (a new job).
    expect(await uploads.followHint(u.uploadId, `0x${'ab'.repeat(32)}`, 1)).toEqual({ round: 2 });
    stop();
    await worker.close();
  });

  it('a job whose workers keep dying is failed by the stalled checker and takes the same give-up path', async () => {
    // This replica tolerates no stall (JOB_MAX_STALLED_COUNT=0), so one death is "kept dying".
    const strict = createBus(redis, prefix, 'transcoder', log, {}, { lockMs: 1_000, stalledIntervalMs: 300, maxStalledCount: 0 });
    strict.onGiveUp(giveUpByPolicy(uploads, strict, 'transcoder'));
    const u = upload();
    await uploads.register(u, 'gateway');
    await uploads.pay(u.uploadId, payment(), 'watcher');
    // A worker that takes the job and then dies without a word: it never renews its lock.
    const dying = new Worker('payment.confirmed', () => new Promise(() => {}), {
      connection: redis.duplicate(),
      prefix,
      lockDuration: 1_000,
      skipStalledCheck: true,
    });
    await strict.publish('payment.confirmed', { ...u, payment: payment() });
    await until(async () => ((await strict.queue('payment.confirmed').getActiveCount()) > 0 ? true : undefined), 'job taken');
    await dying.close(true);
    // The replica's stalled checker finds the job, fails it for good, and the channel's give-up runs.
    const checker = strict.consume('payment.confirmed', async () => {}, { concurrency: 1 });
    await until(async () => ((await uploads.state(u.uploadId)) === 'failed' ? true : undefined), 'failed after the stall', 30_000);
    expect((await strict.queue('upload.failed').getJob(`${u.uploadId}.upload.failed`))?.data).toMatchObject({
      stage: 'transcoder',
      reason: expect.stringContaining('stalled'),
    });
    await checker.close();
    await strict.close(1_000);
  });
});

describe('failure reasons', () => {
  it("tell the owner why a stage gave up without the upstream's secrets (an RPC URL with its key)", async () => {
    const u = upload();
    await uploads.register(u, 'gateway');
    const key = '9aa3d95b3bc440fa88ea12eaa4456161';
    const worker = bus.consume(
      'upload.received',
      async () => {
        throw new PermanentError(`HTTP request failed. URL: https://mainnet.example.io/v3/${key}?apikey=${key}`);
      },
      { concurrency: 1 },
    );
    await bus.publish('upload.received', u);
    await until(async () => ((await uploads.state(u.uploadId)) === 'failed' ? true : undefined), 'failed');
    const failed = (await bus.status.history(u.uploadId)).find((event) => event.reason !== undefined);
    expect(failed?.reason).toBe('payment-watcher: HTTP request failed. URL: https://mainnet.example.io');
    expect((await bus.queue('upload.failed').getJob(`${u.uploadId}.upload.failed`))?.data.reason).toBe('HTTP request failed. URL: https://mainnet.example.io');
    // Whoever publishes a status with a reason goes through the same scrubbing.
    await bus.status.publish({
      uploadId: u.uploadId,
      event: 'refund.due',
      stage: 'watcher',
      reason: `see redis://:${key}@cache:6379/0`,
      message: `token=${key}`,
    });
    const latest = (await bus.status.history(u.uploadId)).at(-1);
    expect(latest).toMatchObject({ reason: 'see redis://cache:6379', message: 'token=[redacted]' });
    await worker.close();
  });
});

describe('operators', () => {
  it('list uploads that failed for good and retry them from the failed stage', async () => {
    const u = upload();
    await uploads.register(u, 'gateway');
    let broken = true;
    let runs = 0;
    const worker = bus.consume(
      'upload.received',
      async () => {
        runs += 1;
        if (broken) throw new PermanentError('storage was misconfigured');
      },
      { concurrency: 1 },
    );
    await bus.publish('upload.received', u);
    await until(async () => ((await uploads.state(u.uploadId)) === 'failed' ? true : undefined), 'failed');
    // BullMQ moves the job to its failed set after the handler's give-up has set the state.
    const listed = await until(async () => (await listFailedUploads(bus)).find((f) => f.uploadId === u.uploadId), 'the failed job listed');
    expect(listed).toMatchObject({ channel: 'upload.received', stage: 'payment-watcher', reason: 'storage was misconfigured', paid: false });
    broken = false;
    expect((await retryFailedUpload(bus, uploads, u.uploadId)).map((f) => f.channel)).toEqual(['upload.received']);
    expect(await uploads.state(u.uploadId)).toBe('processing');
    await until(async () => (runs === 2 ? true : undefined), 'second run');
    expect((await listFailedUploads(bus)).some((f) => f.uploadId === u.uploadId)).toBe(false);
    expect(await retryFailedUpload(bus, uploads, u.uploadId)).toEqual([]);
    await worker.close();
  });
});
