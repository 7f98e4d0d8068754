import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { CREATE2_DEPLOYER, depositAddressOf, depositFactory } from '@reelboard/chain';
import type { StatusEvent } from '@reelboard/contracts';
import { Uploads } from '@reelboard/lifecycle';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { serviceCommand } from '@reelboard/testkit/stack';
import { makeUpload, PRICE, redisUrl, testBus } from './support/harness.js';

const BASE = Number(process.env.TEST_BASE_PORT ?? 19080);
const ANVIL_PORT = BASE + 103;
const WATCHER_PORT = BASE + 104;
const serviceDir = new URL('..', import.meta.url).pathname;

let anvil: Anvil;
let env: ReturnType<typeof testBus>;
let staging: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  env = testBus('pw-service');
  staging = await mkdtemp(join(tmpdir(), 'pw-service-'));
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
  await anvil?.stop();
  if (staging) await rm(staging, { recursive: true, force: true });
});

/** Starts the real payment-watcher process; resolves with it and its collected stderr. */
function startWatcher(overrides: Record<string, string> = {}) {
  let stderr = '';
  const child = spawn(process.execPath, serviceCommand('payment-watcher'), {
    cwd: serviceDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      REDIS_URL: redisUrl(),
      // The ledger the watch set is rebuilt from (the test database, migrated by the db tests and the stack).
      DATABASE_URL: infraEnv().TEST_DATABASE_URL ?? '',
      REDIS_PREFIX: env.prefix,
      RPC_URL: anvil.rpcUrl,
      CHAIN_ID: '31337',
      MERCHANT_ADDRESS: MERCHANT,
      CONFIRMATIONS: '2',
      POLL_INTERVAL_MS: '200',
      INTERNAL_PORT: String(WATCHER_PORT),
      STAGING_DIR: staging,
      LOG_LEVEL: 'warn',
      ...overrides,
    },
  });
  child.stdout?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  children.push(child);
  return { child, output: () => stderr };
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

describe('the payment-watcher process', () => {
  it('refuses to start when the RPC serves another chain than CHAIN_ID', async () => {
    // A merchant of its own: anvil's public test accounts are refused off the local chain before the RPC is asked.
    const { child, output } = startWatcher({
      CHAIN_ID: '1',
      MERCHANT_ADDRESS: privateKeyToAddress(generatePrivateKey()),
      INTERNAL_PORT: String(WATCHER_PORT + 1),
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(output()).toContain('RPC serves chain 31337, but CHAIN_ID is 1');
  });

  it("refuses to start when the running gateway's payment settings differ, naming the setting", async () => {
    const other = privateKeyToAddress(generatePrivateKey()).toLowerCase();
    // What a running gateway publishes (guardPaymentSettings): another merchant than the watcher's.
    const key = `${env.prefix}:payment:settings:api-gateway`;
    await env.redis.set(
      key,
      JSON.stringify({ chainId: 31337, merchant: other, token: null, sweeperCodeHash: depositFactory({ merchant: MERCHANT, token: null }).sweeperCodeHash }),
      'PX',
      60_000,
    );
    try {
      const { child, output } = startWatcher({ INTERNAL_PORT: String(WATCHER_PORT + 2) });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).not.toBe(0);
      expect(output()).toContain(`MERCHANT_ADDRESS is ${MERCHANT} here, ${other} there`);
    } finally {
      await env.redis.del(key);
    }
  });

  it('confirms a payment whose hash the client never sent (tab closed) once it has its confirmations, its first RPC endpoint dead', async () => {
    // Two endpoints, the first a closed port: every read fails over to anvil (viem's fallback,
    // ranked every half second), and the batched balance reads with it.
    startWatcher({ RPC_URL: '', RPC_URLS: `http://127.0.0.1:${BASE + 106}/v3/dead,${anvil.rpcUrl}`, RPC_RANK_INTERVAL_MS: '500' });
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${WATCHER_PORT}/readyz`).catch(() => undefined))?.ok ? true : undefined), 60_000, 'readiness');
    const events: StatusEvent[] = [];
    await env.bus.status.subscribe((event) => events.push(event));
    const buyer = privateKeyToAccount(KEYS.buyer);
    const base = makeUpload(buyer.address);
    const upload = { ...base, quote: { ...base.quote, to: depositAddressOf({ merchant: MERCHANT, token: null }, base.uploadId) } };
    await new Uploads(env.redis, env.prefix, env.bus.status).register(upload, 'test');
    await env.bus.publish('upload.received', upload);
    // The watcher must have listed the upload before the payment arrives.
    await waitFor(
      async () => ((await env.bus.queue('upload.received').getJob(`${upload.uploadId}.upload.received`))?.finishedOn ? true : undefined),
      20_000,
      'upload.received handled',
    );

    const txHash = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: upload.quote.to, value: PRICE });
    await anvil.client.waitForTransactionReceipt({ hash: txHash });
    // One block is not enough confirmations: nothing is confirmed until the next one.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(events.some((e) => e.uploadId === upload.uploadId && e.event === 'payment.confirmed')).toBe(false);

    await anvil.test.mine({ blocks: 1 });
    await waitFor(() => events.find((e) => e.uploadId === upload.uploadId && e.event === 'payment.confirmed'), 20_000, 'payment.confirmed');
    // The event comes from the transition; the job is queued right after it.
    const job = await waitFor(
      async () => (await env.bus.queue('payment.confirmed').getJob(`${upload.uploadId}.payment.confirmed`)) ?? undefined,
      10_000,
      'the payment.confirmed job',
    );
    expect(job?.data.payment).toMatchObject({ address: upload.quote.to, amount: PRICE.toString(), txHashes: [txHash.toLowerCase()], status: 'paid' });
  });

  it('refuses to start where the chain would derive deposit addresses otherwise (no CREATE2 deployer), with the reason', async () => {
    // Last in this file: the chain keeps no deployer afterwards.
    await anvil.test.setCode({ address: CREATE2_DEPLOYER, bytecode: '0x' });
    const { child, output } = startWatcher({ INTERNAL_PORT: String(WATCHER_PORT + 3) });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(output()).toContain(`deposit addresses would differ on this chain: the chain has no CREATE2 deployer at ${CREATE2_DEPLOYER}`);
  });
});
