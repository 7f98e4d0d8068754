import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateKeyToAccount } from 'viem/accounts';
import { CREATE2_DEPLOYER, depositAddressOf } from '@reelboard/chain';
import type { StatusEvent } from '@reelboard/contracts';
import { Uploads } from '@reelboard/lifecycle';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { makeUpload, PRICE, redisUrl, testBus } from './support/harness.js';

const BASE = Number(process.env.TEST_BASE_PORT ?? 19080);
const FIRST_PORT = BASE + 170;
const SECOND_PORT = BASE + 171;
const THIRD_PORT = BASE + 172;
const WATCHER_PORT = BASE + 173;
const HINT_WATCHER_PORT = BASE + 177;
const serviceDir = new URL('..', import.meta.url).pathname;

let first: Anvil;
let second: Anvil;
let env: ReturnType<typeof testBus>;
let staging: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // Two chains at once, as a deployment on Base and Arbitrum would watch them.
  [first, second] = await Promise.all([startAnvil(FIRST_PORT, 31337), startAnvil(SECOND_PORT, 31338)]);
  env = testBus('pw-chains');
  staging = await mkdtemp(join(tmpdir(), 'pw-chains-'));
});

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
  await env?.bus.close(1_000);
  await env?.redis.quit();
  await Promise.all([first?.stop(), second?.stop()]);
  if (staging) await rm(staging, { recursive: true, force: true });
});

const chainEntry = (anvil: Anvil, name: string) => ({ id: anvil.chain.id, name, rpcUrls: [anvil.rpcUrl], confirmations: 2, blockTimeMs: 200 });

/** Starts the real payment-watcher process on the chains given; resolves with it and its output. */
function startWatcher(chains: object[], overrides: Record<string, string> = {}) {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: serviceDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      REDIS_URL: redisUrl(),
      DATABASE_URL: infraEnv().TEST_DATABASE_URL ?? '',
      REDIS_PREFIX: env.prefix,
      RPC_URL: '',
      CHAIN_ID: '31337',
      CHAINS: JSON.stringify(chains),
      MERCHANT_ADDRESS: MERCHANT,
      INTERNAL_PORT: String(WATCHER_PORT),
      STAGING_DIR: staging,
      LOG_LEVEL: 'info',
      ...overrides,
    },
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  children.push(child);
  return { child, output: () => output };
}

async function waitFor<T>(read: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const exitOf = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', resolve));

describe('a payment-watcher on several chains (CHAINS)', () => {
  it('refuses a WATCH_CHAINS id that CHAINS does not list, naming it', async () => {
    const { child, output } = startWatcher([chainEntry(first, 'one'), chainEntry(second, 'two')], { WATCH_CHAINS: '31337,10' });
    expect(await exitOf(child)).not.toBe(0);
    expect(output()).toContain('WATCH_CHAINS: names chain 10, not among the configured chains (31337, 31338)');
  });

  it('refuses a chain whose RPC serves another chain id, naming the chain', async () => {
    const { child, output } = startWatcher([chainEntry(first, 'one'), { ...chainEntry(second, 'two'), id: 31339 }]);
    expect(await exitOf(child)).not.toBe(0);
    expect(output()).toContain('chain 31339 (two): RPC serves chain 31338');
  });

  it('credits a quote on the second chain, paid there, with a watcher per chain (own cursor, metrics by chain)', async () => {
    const { output } = startWatcher([chainEntry(first, 'one'), chainEntry(second, 'two')]);
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${WATCHER_PORT}/readyz`).catch(() => undefined))?.ok ? true : undefined), 60_000, 'readiness');
    expect(output()).toContain('31338 (two)');
    const events: StatusEvent[] = [];
    await env.bus.status.subscribe((event) => events.push(event));
    const buyer = privateKeyToAccount(KEYS.buyer);
    const base = makeUpload(buyer.address);
    // The same merchant and salt: the deposit address is the same on both chains.
    const upload = { ...base, quote: { ...base.quote, chainId: 31338, to: depositAddressOf({ merchant: MERCHANT, token: null }, base.uploadId) } };
    await new Uploads(env.redis, env.prefix, env.bus.status).register(upload, 'test');
    await env.bus.publish('upload.received', upload);
    await waitFor(
      async () => ((await env.bus.queue('upload.received').getJob(`${upload.uploadId}.upload.received`))?.finishedOn ? true : undefined),
      20_000,
      'upload.received handled',
    );
    // Watched in the second chain's own watch set, not the home chain's.
    expect(await env.redis.zscore(`${env.prefix}:payment:chain:31338:watch`, upload.uploadId)).not.toBeNull();
    expect(await env.redis.zscore(`${env.prefix}:payment:watch`, upload.uploadId)).toBeNull();

    // Paid on the home chain first: that money is not this quote's (another chain), so nothing confirms.
    const wrongChain = await first.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: first.chain, to: upload.quote.to, value: PRICE });
    await first.client.waitForTransactionReceipt({ hash: wrongChain });
    await first.test.mine({ blocks: 3 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(events.some((e) => e.uploadId === upload.uploadId && e.event === 'payment.confirmed')).toBe(false);

    const txHash = await second.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: second.chain, to: upload.quote.to, value: PRICE });
    await second.client.waitForTransactionReceipt({ hash: txHash });
    await second.test.mine({ blocks: 2 });
    await waitFor(() => events.find((e) => e.uploadId === upload.uploadId && e.event === 'payment.confirmed'), 20_000, 'payment.confirmed');
    const job = await waitFor(
      async () => (await env.bus.queue('payment.confirmed').getJob(`${upload.uploadId}.payment.confirmed`)) ?? undefined,
      10_000,
      'the payment.confirmed job',
    );
    expect(job?.data.payment).toMatchObject({ address: upload.quote.to, amount: PRICE.toString(), txHashes: [txHash.toLowerCase()], status: 'paid' });

    // Each chain has its own cursor, and its own series on /metrics.
    // (A pass saves its cursor after the credits it settled: wait for it.)
    await waitFor(
      async () => ((await env.redis.exists(`${env.prefix}:payment:chain:31338:cursor`)) === 1 ? true : undefined),
      10_000,
      "the second chain's cursor",
    );
    const metrics = await (await fetch(`http://127.0.0.1:${WATCHER_PORT}/metrics`)).text();
    expect(metrics).toMatch(/reelboard_payment_scan_lag_seconds\{chain="31337"[,}]/);
    expect(metrics).toMatch(/reelboard_payment_scan_lag_seconds\{chain="31338"[,}]/);
    expect(metrics).toMatch(/reelboard_payment_credits_total\{chain="31338",status="paid"[,}].* 1\n/);
    expect(metrics).not.toMatch(/reelboard_payment_credits_total\{chain="31337"/);
    expect(metrics).toMatch(/reelboard_rpc_requests_total\{chain="31338"[,}].* [1-9]/);
  });

  it('a replica watching only the home chain checks a hint naming the second chain there, through its RPC: the payment confirms with no pass on that chain', async () => {
    // Its own prefix: the replica above (watching both chains) must not find this payment first.
    const own = testBus('pw-chains-hint');
    try {
      startWatcher([chainEntry(first, 'one'), chainEntry(second, 'two')], {
        WATCH_CHAINS: '31337',
        REDIS_PREFIX: own.prefix,
        INTERNAL_PORT: String(HINT_WATCHER_PORT),
      });
      await waitFor(
        async () => ((await fetch(`http://127.0.0.1:${HINT_WATCHER_PORT}/readyz`).catch(() => undefined))?.ok ? true : undefined),
        60_000,
        'readiness',
      );
      const buyer = privateKeyToAccount(KEYS.buyer);
      const base = makeUpload(buyer.address);
      const to = depositAddressOf({ merchant: MERCHANT, token: null }, base.uploadId);
      const offer = (chainId: number) => ({ chainId, chainName: `c${chainId}`, token: null, symbol: 'ETH', decimals: 18, amount: PRICE.toString() });
      const upload = { ...base, quote: { ...base.quote, to, offers: [offer(31337), offer(31338)] } };
      await new Uploads(own.redis, own.prefix, own.bus.status).register(upload, 'test');
      await own.bus.publish('upload.received', upload);
      const txHash = await second.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: second.chain, to, value: PRICE });
      await second.client.waitForTransactionReceipt({ hash: txHash });
      await second.test.mine({ blocks: 2 });
      await own.bus.publish('payment.submitted', { uploadId: upload.uploadId, txHash, round: 1, chainId: 31338 });
      const job = await waitFor(
        async () => (await own.bus.queue('payment.confirmed').getJob(`${upload.uploadId}.payment.confirmed`)) ?? undefined,
        20_000,
        'the payment.confirmed job',
      );
      expect(job.data.payment).toMatchObject({ chainId: 31338, address: to, amount: PRICE.toString(), txHashes: [txHash.toLowerCase()], status: 'paid' });
      // No replica of this prefix runs the second chain's passes: the hint alone found it.
      expect(await own.redis.exists(`${own.prefix}:payment:chain:31338:cursor`)).toBe(0);
    } finally {
      await own.bus.close(1_000);
      await own.redis.quit();
    }
  });

  it('refuses to start where one of the chains has no CREATE2 deployer, naming that chain and the reason', async () => {
    const third = await startAnvil(THIRD_PORT, 31339);
    try {
      await third.test.setCode({ address: CREATE2_DEPLOYER, bytecode: '0x' });
      const { child, output } = startWatcher([chainEntry(first, 'one'), chainEntry(third, 'three')], { INTERNAL_PORT: String(WATCHER_PORT + 1) });
      expect(await exitOf(child)).not.toBe(0);
      expect(output()).toContain(`deposit addresses would differ on this chain: the chain has no CREATE2 deployer at ${CREATE2_DEPLOYER}`);
      expect(output()).toContain('(chain 31339 (three), ETH)');
    } finally {
      await third.stop();
    }
  });
});
