import { afterAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { DepositSweep } from '@reelboard/chain';
import { WatchList } from '../src/watch-list.js';
import { testBus } from './support/harness.js';

// The per-address record of what sweeps moved out of each deposit address (balance plus swept is
// what an address received): a lost entry reads as money leaving, a reorg then "reverses" a credit.
const env = testBus('swept-record');
afterAll(async () => {
  await env.bus.close(1_000);
  await env.redis.quit();
});

const address = (n: number) => `0x${n.toString(16).padStart(40, '0')}` as `0x${string}`;
const txHash = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as `0x${string}`;
const sweep = (tx: number, logIndex: number, deposit: number, native: bigint): DepositSweep => ({
  salt: txHash(deposit),
  deposit: address(deposit),
  native,
  token: 0n,
  asset: null,
  txHash: txHash(tx),
  logIndex,
  blockNumber: 10n,
});

/** The Redis client with its `nth` write (a hash write or a script) failing, as a crash there would leave it. */
function crashingAt(redis: Redis, nth: number): Redis {
  let writes = 0;
  return new Proxy(redis, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (!['hset', 'hdel', 'eval', 'evalsha', 'multi'].includes(String(property))) return value.bind(target);
      return (...args: unknown[]) => {
        writes += 1;
        if (writes === nth) return Promise.reject(new Error('injected crash'));
        return value.apply(target, args);
      };
    },
  });
}

describe('swept records', () => {
  it('a crash between two writes leaves whole sweep transactions, and the run again records each log once', async () => {
    const prefix = `${env.prefix}-crash`;
    // Two sweep transactions, each of two deposit addresses (one sweep of a batch is one log per address).
    const sweeps = [sweep(1, 0, 1, 100n), sweep(1, 1, 2, 200n), sweep(2, 0, 3, 300n), sweep(2, 1, 1, 400n)];
    const crashing = new WatchList(crashingAt(env.redis, 2), prefix);
    await expect(crashing.addSweeps(sweeps)).rejects.toThrow('injected crash');
    const list = new WatchList(env.redis, prefix);
    const after = await list.sweptUpTo([address(1), address(2), address(3)], 10n, null);
    // Transaction 1 (100 + 200) is there in full or not at all; never one of its addresses alone.
    expect([0n, 100n + 200n]).toContain((after[0] ?? 0n) + (after[1] ?? 0n));
    await list.addSweeps(sweeps);
    await list.addSweeps(sweeps);
    expect(await list.sweptUpTo([address(1), address(2), address(3)], 10n, null)).toEqual([500n, 200n, 300n]);
  });

  it('concurrent writers of one address keep every sweep', async () => {
    const list = new WatchList(env.redis, `${env.prefix}-race`);
    const sweeps = Array.from({ length: 20 }, (_, i) => sweep(100 + i, 0, 9, BigInt(i + 1)));
    await Promise.all(sweeps.map((s) => list.addSweeps([s])));
    expect(await list.sweptUpTo([address(9)], 10n, null)).toEqual([210n]);
  });

  it('forgetting sweeps above a block keeps those at or below it, and an address with none left is gone', async () => {
    const list = new WatchList(env.redis, `${env.prefix}-drop`);
    await list.addSweeps([
      { ...sweep(1, 0, 1, 5n), blockNumber: 8n },
      { ...sweep(2, 0, 1, 7n), blockNumber: 12n },
      { ...sweep(3, 0, 2, 9n), blockNumber: 12n },
    ]);
    await list.dropSweepsAbove(10n);
    expect(await list.sweptUpTo([address(1), address(2)], 100n, null)).toEqual([5n, 0n]);
    expect(await env.redis.hexists(`${env.prefix}-drop:payment:swept`, address(2))).toBe(0);
  });
});
