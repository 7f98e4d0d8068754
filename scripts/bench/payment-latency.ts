/**
 * Payment detection latency: from the block that gives a payment its last required confirmation
 * to `payment.confirmed` on the status channel, for a hash the client submitted (the fast path) and
 * for a payment only the deposit passes find (tab closed). Payments go to each quote's deposit address. Runs the real payment-watcher process against its own
 * anvil (mining on demand, so the confirming block's time is known) and the local Redis.
 *
 *   node --import tsx scripts/bench/payment-latency.ts
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { depositAddressOf } from '@reelboard/chain';
import { createBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { makeUpload, PRICE, redisUrl } from '../../services/payment-watcher/test/support/harness.js';
import { percentile, repoRoot, writeReport } from './lib/report.js';

const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 50);
const POLL_INTERVAL_MS = Number(process.env.BENCH_POLL_INTERVAL_MS ?? 500);
const CONFIRMATIONS = 2;
const ANVIL_PORT = Number(process.env.BENCH_ANVIL_PORT ?? 19291);
const WATCHER_PORT = Number(process.env.BENCH_WATCHER_PORT ?? 19292);

const anvil = await startAnvil(ANVIL_PORT);
// Blocks only when the benchmark mines them, so the moment of the confirming block is known.
await anvil.test.setAutomine(false);
const staging = await mkdtemp(join(tmpdir(), 'bench-payments-'));
const prefix = `bench-pay-${Date.now().toString(36)}`;
const redis = connectRedis(redisUrl(), 'bench-payments');
const bus = createBus(redis, prefix, 'bench', createLogger('bench', 'error'));
const uploads = new Uploads(redis, prefix, bus.status);
const watcher = spawn(process.execPath, ['--import', 'tsx', 'services/payment-watcher/src/main.ts'], {
  cwd: repoRoot,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: {
    ...process.env,
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: prefix,
    RPC_URL: anvil.rpcUrl,
    CHAIN_ID: '31337',
    MERCHANT_ADDRESS: MERCHANT,
    CONFIRMATIONS: String(CONFIRMATIONS),
    POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
    INTERNAL_PORT: String(WATCHER_PORT),
    STAGING_DIR: staging,
    LOG_LEVEL: 'warn',
  },
});

const confirmedAt = new Map<string, number>();
await bus.status.subscribe((event) => {
  if (event.event === 'payment.confirmed') confirmedAt.set(event.uploadId, Date.now());
});

async function waitFor<T>(read: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One payment: mined, then the confirming block mined at a known moment; returns ms to `payment.confirmed`. */
async function measure(submitHash: boolean): Promise<number> {
  const buyer = privateKeyToAccount(KEYS.buyer);
  const base = makeUpload(buyer.address);
  const upload = { ...base, quote: { ...base.quote, to: depositAddressOf({ merchant: MERCHANT, token: null }, base.uploadId) } };
  await uploads.register(upload, 'bench');
  await bus.publish('upload.received', upload);
  // Let the watcher list the upload before the payment is mined (as when a person pays after the quote).
  await new Promise((resolve) => setTimeout(resolve, 100));
  const txHash: Hex = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: upload.quote.to, value: PRICE });
  await anvil.test.mine({ blocks: 1 });
  if (submitHash) await bus.publish('payment.submitted', { uploadId: upload.uploadId, txHash, round: 1 });
  // Random phase against the watcher's polling, as real block arrival would be.
  await new Promise((resolve) => setTimeout(resolve, Math.random() * POLL_INTERVAL_MS));
  for (let i = 1; i < CONFIRMATIONS; i++) await anvil.test.mine({ blocks: 1 });
  const lastConfirmation = Date.now();
  const seen = await waitFor(() => confirmedAt.get(upload.uploadId), 30_000, `payment.confirmed of ${upload.uploadId}`);
  return seen - lastConfirmation;
}

try {
  await waitFor(
    async () => ((await fetch(`http://127.0.0.1:${WATCHER_PORT}/readyz`).catch(() => undefined))?.ok ? true : undefined),
    60_000,
    'payment-watcher readiness',
  );
  const results: Record<string, number[]> = { submitted: [], watched: [] };
  for (let i = 0; i < PAYMENTS; i++) {
    results.submitted?.push(await measure(true));
    results.watched?.push(await measure(false));
  }
  const goal = POLL_INTERVAL_MS + 100;
  const rows = Object.entries(results).map(([path, values]) => {
    const p50 = percentile(values, 50);
    const p99 = percentile(values, 99);
    return { path, n: values.length, p50, p99, max: Math.max(...values), goalMet: p99 <= goal };
  });
  writeReport({
    part: 'payment-latency',
    title: 'Payment detection latency',
    command: 'node --import tsx scripts/bench/payment-latency.ts',
    headline: `${rows.map((r) => `${r.path} p99 ${r.p99} ms`).join(', ')} (goal <= ${goal} ms: ${rows.every((r) => r.goalMet) ? 'met' : 'missed'})`,
    markdown: `
From the moment the block giving the last of ${CONFIRMATIONS} confirmations is mined to \`payment.confirmed\` on the
status channel, measured by a subscriber on the same Redis. The real payment-watcher process ran against its own anvil
(blocks mined on demand) with \`POLL_INTERVAL_MS=${POLL_INTERVAL_MS}\`. "submitted": the client sent the tx hash;
"watched": nobody sent it, the deposit pass found the balance. Goal: p99 <= one polling interval + 100 ms = ${goal} ms.

| path | payments | p50 ms | p99 ms | max ms | goal met |
|---|---|---|---|---|---|
${rows.map((r) => `| ${r.path} | ${r.n} | ${r.p50} | ${r.p99} | ${r.max} | ${r.goalMet ? 'yes' : 'no'} |`).join('\n')}
`,
    data: { pollIntervalMs: POLL_INTERVAL_MS, confirmations: CONFIRMATIONS, rows, raw: results },
  });
} finally {
  watcher.kill('SIGTERM');
  await new Promise((resolve) => watcher.once('exit', resolve));
  await bus.close(1_000);
  await redis.quit();
  await anvil.stop();
  await rm(staging, { recursive: true, force: true });
}
