import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createChainClient, depositAddressOf } from '@reelboard/chain';
import type { PaymentCredited } from '@reelboard/contracts';
import { Uploads } from '@reelboard/lifecycle';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { type RpcProxy, startRpcProxy } from '@reelboard/testkit/rpc-proxy';
import { DepositWatcher } from '../src/deposit-watcher.js';
import { handleUploadReceived } from '../src/handle-upload-received.js';
import { LeaseLostError, ScanLock } from '../src/scan-lock.js';
import { WatchList } from '../src/watch-list.js';
import { makeUpload, PRICE, recordingContext, testBus } from './support/harness.js';

// Two replicas of the watcher on one Redis: A reads the chain through a proxy that can stall it
// mid-pass (at its balance reads, after it read what was credited), B reads it directly.
const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 211;
const buyer = privateKeyToAccount(KEYS.buyer);
const deposits = { merchant: MERCHANT, token: null };

let anvil: Anvil;
let proxy: RpcProxy;
const envs: ReturnType<typeof testBus>[] = [];

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  proxy = await startRpcProxy(anvil.rpcUrl, 'scan-lease');
});

afterAll(async () => {
  for (const env of envs) {
    await env.bus.close(1_000);
    await env.redis.quit();
  }
  await proxy?.close();
  await anvil?.stop();
});

/** Two watchers sharing a prefix (one watch set, one cursor, one lease key), each recording its credits sent and cursor writes that took. */
function replicas(name: string, leaseMs: number) {
  const env = testBus(name);
  envs.push(env);
  const uploads = new Uploads(env.redis, env.prefix, env.bus.status);
  const lockKey = `${env.prefix}:payment:scan-lock`;
  const replica = (rpcUrl: string) => {
    const credits: PaymentCredited[] = [];
    const cursorWrites: bigint[] = [];
    const watchList = new WatchList(env.redis, env.prefix);
    const save = watchList.saveCursor.bind(watchList);
    watchList.saveCursor = async (block, ...rest) => {
      await save(block, ...rest);
      cursorWrites.push(block);
    };
    const bus = new Proxy(env.bus, {
      get(target, property, receiver) {
        if (property !== 'publish') return Reflect.get(target, property, receiver);
        return (channel: string, payload: unknown, options?: unknown) => {
          if (channel === 'payment.credited') credits.push(payload as PaymentCredited);
          return (target.publish as (...args: unknown[]) => Promise<void>)(channel, payload, options);
        };
      },
    });
    const lock = new ScanLock(env.redis, lockKey, leaseMs);
    const watcher = new DepositWatcher({
      bus,
      uploads,
      watchList,
      chain: createChainClient({ rpcUrl, chainId: 31337, batchSize: 200 }),
      lock,
      log: env.log,
      chainId: 31337,
      deposits,
      confirmations: 2,
      startBehind: 0,
      maxBlocksPerPass: 200,
    });
    return { watcher, watchList, lock, credits, cursorWrites };
  };
  return { env, uploads, lockKey, a: replica(proxy.url), b: replica(anvil.rpcUrl) };
}

/** An upload whose quote's deposit address the watchers watch. */
async function receive(r: ReturnType<typeof replicas>) {
  const base = makeUpload(buyer.address);
  const upload = { ...base, quote: { ...base.quote, to: depositAddressOf(deposits, base.uploadId) } };
  await r.uploads.register(upload, 'test');
  await handleUploadReceived({ bus: r.env.bus, watchList: r.a.watchList, lateWatchMs: 3_600_000 }, upload, recordingContext(r.env.bus, r.env.log).context);
  return upload;
}

async function pay(to: Hex, value: bigint) {
  const hash = await anvil.wallet(KEYS.buyer).sendTransaction({ to, value, account: buyer, chain: anvil.chain });
  expect((await anvil.client.waitForTransactionReceipt({ hash })).status).toBe('success');
}

describe('the scan lease', () => {
  it('is renewed through a pass longer than itself: a second replica never scans at the same time', async () => {
    const r = replicas('pw-lease-renew', 600);
    await receive(r);
    await r.a.watcher.scanOnce();
    await r.a.lock.release();
    await anvil.test.mine({ blocks: 3 });
    const writesBefore = r.a.cursorWrites.length;
    const stall = proxy.hold('eth_getBalance');
    const passA = r.a.watcher.scanOnce();
    await stall.arrived;
    // Three leases' worth of stall, B trying every 100 ms.
    const tookIt: number[] = [];
    const started = Date.now();
    while (Date.now() - started < 1_800) {
      if (await r.b.lock.acquire()) tookIt.push(Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    stall.release();
    expect(await passA).toBeGreaterThan(0);
    expect(tookIt, 'B took the lease while A was still scanning').toEqual([]);
    expect(r.a.cursorWrites.length, 'the long pass moved the cursor').toBe(writesBefore + 1);
  });

  it('a pass that lost its lease writes neither credit nor cursor: one credit, one cursor writer', async () => {
    const r = replicas('pw-lease-fence', 5_000);
    const upload = await receive(r);
    await r.a.watcher.scanOnce();
    const firstCursor = r.a.cursorWrites.at(-1);
    await pay(upload.quote.to, PRICE);
    await anvil.test.mine({ blocks: 1 });
    const stall = proxy.hold('eth_getBalance');
    const passA = r.a.watcher.scanOnce().then(
      () => undefined,
      (error: unknown) => error,
    );
    await stall.arrived;
    // A stalls past its lease (a process paused, Redis failed over without the key): B takes over.
    await r.env.redis.del(r.lockKey);
    await anvil.test.mine({ blocks: 2 });
    expect(await r.b.watcher.scanOnce()).toBeGreaterThan(0);
    stall.release();
    expect(await passA).toBeInstanceOf(LeaseLostError);

    const deposit = (credits: PaymentCredited[]) => credits.filter((c) => c.kind === 'deposit' && c.uploadId === upload.uploadId);
    expect(deposit(r.b.credits).map((c) => c.kind === 'deposit' && c.status)).toEqual(['paid']);
    expect(deposit(r.a.credits), 'A credited the payment after losing its lease').toEqual([]);
    expect(r.a.cursorWrites, 'A moved the cursor after losing its lease').toEqual([firstCursor]);
    const cursor = await r.b.watchList.cursor();
    expect(cursor?.block).toBe(r.b.cursorWrites.at(-1));
    expect(cursor?.block).toBeGreaterThan(firstCursor ?? 0n);
    expect(await r.uploads.state(upload.uploadId)).toBe('paid');
  });
});
