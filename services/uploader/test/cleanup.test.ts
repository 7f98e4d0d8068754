import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import type { UploadReceived } from '@reelboard/contracts';
import { createBus, StatusStore, type TransitionName, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { s3EnvSchema, speculativeKeys, speculativeRungKeys, storageFromEnv } from '@reelboard/storage';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { fakeContext } from '@reelboard/testkit/stage';
import { handleStagingCleanup } from '../src/handle-staging-cleanup.js';
import { sweepStaging, uploadFinishedFrom } from '../src/sweep-staging.js';

const HOUR = 3600_000;
const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'cleanup-test');
const prefix = `cleanup-test-${Date.now().toString(36)}`;
const status = new StatusStore(redis, prefix);
const uploads = new Uploads(redis, prefix, status);
const log = createLogger('uploader-test', 'error');
const storage = storageFromEnv(s3EnvSchema.parse(infraEnv()));
let staging: string;

/** Writes a file and sets its times `ageHours` into the past. */
async function stagedFile(path: string, bytes: number, ageHours: number): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, Buffer.alloc(bytes, 1));
  const then = new Date(Date.now() - ageHours * HOUR);
  await utimes(path, then, then);
}

/** Registers an upload whose quote expires at `quoteExpiresAt`, then walks it through `path` (its lifecycle transitions). */
async function register(uploadId: string, quoteExpiresAt: Date, path: TransitionName[] = []) {
  await uploads.register(
    {
      uploadId,
      owner: `0x${'1'.repeat(40)}`,
      quote: { expiresAt: quoteExpiresAt.toISOString() },
      receivedAt: new Date().toISOString(),
    } as unknown as UploadReceived,
    'test',
  );
  for (const step of path) {
    if (step === 'pay')
      await uploads.pay(
        uploadId,
        {
          chainId: 1,
          address: `0x${'2'.repeat(40)}`,
          token: null,
          amount: '1',
          blockNumber: '1',
          blockTime: new Date().toISOString(),
          status: 'paid',
          txHashes: [],
        },
        'test',
      );
    else await uploads.transition(uploadId, step, { stage: 'test' });
  }
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'staging-cleanup-'));
  await storage.ensureBucket();
});
afterAll(async () => {
  storage.close();
  await rm(staging, { recursive: true, force: true });
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('staging cleanup', () => {
  it('removes files older than the limit, but never those of uploads still in flight', async () => {
    const dir = await mkdtemp(join(staging, 'sweep-'));
    const ids = {
      done: randomUUID(),
      processing: randomUUID(),
      unpaidExpired: randomUUID(),
      unpaidOpen: randomUUID(),
      unknown: randomUUID(),
      paidFailed: randomUUID(),
      unpaidFailed: randomUUID(),
    };
    const past = new Date(Date.now() - HOUR);
    const future = new Date(Date.now() + HOUR);
    await register(ids.done, past, ['pay', 'start', 'save']);
    await register(ids.processing, past, ['pay', 'start']);
    await register(ids.unpaidExpired, past);
    await register(ids.unpaidOpen, future);
    // A paid upload that failed may still be retried by an operator: its source stays until it is saved or refunded.
    await register(ids.paidFailed, past, ['pay', 'start', 'fail']);
    await register(ids.unpaidFailed, past, ['fail']);

    await stagedFile(join(dir, ids.done, 'source.mp4'), 1000, 49);
    await stagedFile(join(dir, ids.done, 'video.webm'), 300, 1); // younger than the limit: stays
    await stagedFile(join(dir, ids.processing, 'source.mp4'), 5000, 72);
    await stagedFile(join(dir, ids.unpaidExpired, 'source.mp4'), 2000, 50);
    await stagedFile(join(dir, ids.unpaidOpen, 'source.mp4'), 4000, 50);
    await stagedFile(join(dir, ids.unknown, 'source.mp4'), 700, 100);
    await stagedFile(join(dir, 'stray.tmp'), 10, 49);
    await stagedFile(join(dir, ids.paidFailed, 'source.mp4'), 3000, 60);
    await stagedFile(join(dir, ids.unpaidFailed, 'source.mp4'), 30, 60);
    const aged = new Date(Date.now() - 60 * HOUR);
    await utimes(join(dir, ids.unknown), aged, aged);

    const result = await sweepStaging(dir, 48 * HOUR, uploadFinishedFrom(uploads));

    expect(result.files).toBe(5);
    expect(result.bytes).toBe(1000 + 2000 + 700 + 10 + 30);
    expect(result.inFlight.sort()).toEqual([ids.processing, ids.unpaidOpen, ids.paidFailed].sort());
    expect(await exists(join(dir, ids.paidFailed, 'source.mp4'))).toBe(true);
    expect(await exists(join(dir, ids.done, 'source.mp4'))).toBe(false);
    expect(await exists(join(dir, ids.done, 'video.webm'))).toBe(true);
    expect(await exists(join(dir, ids.processing, 'source.mp4'))).toBe(true);
    expect(await exists(join(dir, ids.unpaidOpen, 'source.mp4'))).toBe(true);
    expect(await exists(join(dir, ids.unpaidExpired, 'source.mp4'))).toBe(false);
    expect(await exists(join(dir, ids.unknown))).toBe(false);
    expect(await exists(join(dir, 'stray.tmp'))).toBe(false);
  });

  it("takes an unpaid upload's speculative preview, poster and lowest rung (private keys) with its staging, and leaves a paying one's", async () => {
    const dir = await mkdtemp(join(staging, 'speculative-'));
    const neverPaid = randomUUID();
    const paying = randomUUID();
    await register(neverPaid, new Date(Date.now() - HOUR));
    await register(paying, new Date(Date.now() - HOUR), ['pay', 'start']);
    for (const uploadId of [neverPaid, paying]) {
      await stagedFile(join(dir, uploadId, 'source'), 100, 49);
      await stagedFile(join(dir, uploadId, 'speculative', 'preview.webm'), 50, 49);
      await stagedFile(join(dir, uploadId, 'speculative', 'rung', 'video-240p.webm'), 50, 49);
      const keys = { ...speculativeKeys(uploadId), ...speculativeRungKeys(uploadId) };
      for (const [name, key] of Object.entries(keys)) {
        await stagedFile(join(dir, `${uploadId}-${name}`), 64, 0);
        await storage.putFile(key, join(dir, `${uploadId}-${name}`), 'application/octet-stream');
        await rm(join(dir, `${uploadId}-${name}`));
      }
    }
    const { context } = fakeContext();
    const result = await handleStagingCleanup({ stagingDir: dir, maxAgeMs: 48 * HOUR }, uploadFinishedFrom(uploads), storage)({}, context);
    expect(result).toMatchObject({ uploadsRemoved: [neverPaid], speculativeObjectsRemoved: 4 });
    expect(await exists(join(dir, neverPaid))).toBe(false);
    const privateKeys = (uploadId: string) => [...Object.values(speculativeKeys(uploadId)), ...Object.values(speculativeRungKeys(uploadId))];
    for (const key of privateKeys(neverPaid)) expect(await storage.head(key)).toBeUndefined();
    // Still being processed: its private copies stay until its staging goes.
    expect(await exists(join(dir, paying, 'speculative', 'preview.webm'))).toBe(true);
    expect(await exists(join(dir, paying, 'speculative', 'rung', 'video-240p.webm'))).toBe(true);
    for (const key of privateKeys(paying)) expect(await storage.head(key)).toMatchObject({ bytes: 64 });
  });

  it('is one daily job scheduler however many replicas start, and its job sweeps', async () => {
    const dir = await mkdtemp(join(staging, 'scheduled-'));
    await stagedFile(join(dir, randomUUID(), 'source.mp4'), 123, 49);
    // Each replica wires the cleanup as the uploader's main.ts does.
    const replicas = [0, 1].map(() => {
      const bus = createBus(redis, prefix, 'uploader', log);
      return {
        bus,
        worker: bus.consume('staging.cleanup', handleStagingCleanup({ stagingDir: dir, maxAgeMs: 48 * HOUR }, uploadFinishedFrom(uploads), storage), {
          concurrency: 1,
        }),
      };
    });
    for (const replica of replicas) await replica.bus.schedule('staging.cleanup', { pattern: '0 0 * * *', tz: 'Europe/Berlin' });
    try {
      const queue = replicas[0]!.bus.queue('staging.cleanup');
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers).toHaveLength(1);
      expect(schedulers[0]).toMatchObject({ pattern: '0 0 * * *', tz: 'Europe/Berlin' });
      const next = new Date(Number(schedulers[0]?.next));
      const berlinTime = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(next);
      expect(berlinTime).toBe('00:00');
      const delayed = await queue.getDelayed();
      expect(delayed).toHaveLength(1);
      // Its retries and retention are the staging.cleanup row's.
      expect(delayed[0]?.opts).toMatchObject({
        attempts: 3,
        backoff: { type: 'exponential', delay: 60_000 },
        removeOnComplete: { count: 30 },
        removeOnFail: { count: 30 },
      });

      // Run the next slot now instead of waiting for midnight: one replica takes it.
      const finished = new Promise<unknown>((resolve) => {
        for (const replica of replicas) replica.worker.on('completed', (_job, result) => resolve(result));
      });
      await delayed[0]?.promote();
      expect(await finished).toMatchObject({ files: 1, bytes: 123 });
      expect(await readdir(dir)).toEqual([]);
    } finally {
      for (const replica of replicas) await replica.bus.close(1_000);
    }
  });
});
