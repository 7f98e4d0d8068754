import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import type { UploadState } from '@reelboard/contracts';
import { ADMISSION_GRACE_MS, StagingGuard, volumeFreeBytes, WALLET_RECORD_TTL_MS } from '../src/infra/staging-guard.js';
import { infra } from './harness.js';

// The guard alone, on the real Redis; the volume's free space and the lifecycle are given by the test.
const redis = connectRedis(infra.REDIS_URL ?? '', 'staging-guard-test');
const states = new Map<string, UploadState>();
let free = 10_000;
let clock = Date.now();
let dir: string;
let guard: StagingGuard;
const owner = `0x${'ab'.repeat(20)}`;
const MB = 1000;
const prefix = `guard-${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'staging-guard-'));
  guard = new StagingGuard({
    redis,
    prefix,
    stagingDir: dir,
    stateOf: async (id) => states.get(id),
    limits: { maxUnpaidBytesPerWallet: 3 * MB, maxUnpaidUploadsPerWallet: 2, reserveBytes: 2 * MB },
    freeBytes: async () => free,
    now: () => clock,
  });
});

afterAll(async () => {
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

describe('StagingGuard', () => {
  it("counts a wallet's unpaid uploads until they are paid or gone, and refuses past each limit with 429", async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await guard.admit(owner, a, MB);
    states.set(a, 'awaiting_payment');
    await mkdir(join(dir, b));
    await guard.admit(owner, b, MB); // still arriving: its staging folder exists, no state yet
    await expect(guard.admit(owner, c, 1)).rejects.toMatchObject({ status: 429, code: 'unpaid_uploads_limit' });
    // Paid: it no longer counts.
    states.set(a, 'paid');
    await expect(guard.admit(owner, c, 2 * MB + 1)).rejects.toMatchObject({ status: 429, code: 'unpaid_bytes_limit' });
    await guard.admit(owner, c, 2 * MB);
    states.set(c, 'awaiting_payment');
    // Another wallet is not held by this one's uploads.
    await guard.admit(`0x${'cd'.repeat(20)}`, randomUUID(), 3 * MB);
    // An upload whose folder is gone (expired, refused) is forgotten too, once past the admission's grace.
    await rm(join(dir, b), { recursive: true });
    expect([...(await guard.unpaidOf(owner)).keys()].sort()).toEqual([b, c].sort());
    clock += ADMISSION_GRACE_MS;
    expect([...(await guard.unpaidOf(owner)).keys()]).toEqual([c]);
    // The wallet's record leaves Redis on its own once no upload has been admitted for a while.
    const ttl = await redis.pttl(`${prefix}:staging:unpaid:${owner}`);
    expect(ttl).toBeGreaterThan(WALLET_RECORD_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(WALLET_RECORD_TTL_MS);
  });

  it('holds each per-wallet limit when one wallet creates many uploads at the same instant', async () => {
    // Admitted before their staging folders exist, as the tus creation and the multipart form do.
    const wallet = `0x${'12'.repeat(20)}`;
    const many = await Promise.allSettled(Array.from({ length: 8 }, () => guard.admit(wallet, randomUUID(), 1)));
    expect(many.filter((result) => result.status === 'fulfilled')).toHaveLength(2);
    expect(many.filter((result) => result.status === 'rejected').map((result) => (result as PromiseRejectedResult).reason.code)).toEqual(
      Array(6).fill('unpaid_uploads_limit'),
    );
    expect((await guard.unpaidOf(wallet)).size).toBe(2);

    // The bytes limit too: a guard allowing many uploads but 3 MB, eight 1 MB uploads at once.
    const bytesGuard = new StagingGuard({
      redis,
      prefix: `guard-${randomBytes(3).toString('hex')}`,
      stagingDir: dir,
      stateOf: async (id) => states.get(id),
      limits: { maxUnpaidBytesPerWallet: 3 * MB, maxUnpaidUploadsPerWallet: 100, reserveBytes: 0 },
      freeBytes: async () => 100 * MB,
    });
    const big = await Promise.allSettled(Array.from({ length: 8 }, () => bytesGuard.admit(wallet, randomUUID(), MB)));
    expect(big.filter((result) => result.status === 'fulfilled')).toHaveLength(3);
    expect([...(await bytesGuard.unpaidOf(wallet)).values()].reduce((sum, bytes) => sum + bytes, 0)).toBe(3 * MB);
  });

  it('keeps the free-space reserve: 507 at creation when the new bytes would go below it, and while receiving below it', async () => {
    free = 4 * MB;
    await expect(guard.admit(`0x${'ef'.repeat(20)}`, randomUUID(), 2 * MB + 1)).rejects.toMatchObject({
      status: 507,
      code: 'insufficient_storage',
      extra: { freeBytes: 4 * MB },
    });
    await guard.admit(`0x${'ef'.repeat(20)}`, randomUUID(), 2 * MB);
    await guard.checkSpace();
    free = 2 * MB - 1;
    await expect(guard.checkSpace()).rejects.toMatchObject({ status: 507 });
  });

  it("reads the real volume's free space", async () => {
    expect(await volumeFreeBytes(dir)).toBeGreaterThan(0);
  });
});
