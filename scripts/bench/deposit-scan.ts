/**
 * The deposit watcher's cost per new block with many open quotes: 10,000 watched deposit addresses
 * (a few of them paid), one pass per new block, on its own anvil (blocks mined on demand). Reports
 * RPC requests and wall time per block, and the same with JSON-RPC batching off for comparison.
 *
 *   node --import tsx scripts/bench/deposit-scan.ts        (BENCH_QUOTES, BENCH_BLOCKS to change the size)
 */
import { randomUUID } from 'node:crypto';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { createChainClient, type DepositSettings, depositAddressOf } from '@reelboard/chain';
import { createBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { DepositWatcher } from '../../services/payment-watcher/src/deposit-watcher.js';
import { ScanLock } from '../../services/payment-watcher/src/scan-lock.js';
import { WatchList } from '../../services/payment-watcher/src/watch-list.js';
import { redisUrl } from '../../services/payment-watcher/test/support/harness.js';
import { percentile, writeReport } from './lib/report.js';

const QUOTES = Number(process.env.BENCH_QUOTES ?? 10_000);
const BLOCKS = Number(process.env.BENCH_BLOCKS ?? 30);
const BATCH_SIZE = 500;
const deposits: DepositSettings = { merchant: MERCHANT, token: null };

const anvil = await startAnvil(Number(process.env.BENCH_ANVIL_PORT ?? 19293));
await anvil.test.setAutomine(false);
const redis = connectRedis(redisUrl(), 'bench-deposit-scan');
const log = createLogger('bench-deposit-scan', 'error');

/** Runs BLOCKS passes, one per new block, with `batchSize` (0: no batching); returns per-block requests and ms. */
async function measure(batchSize: number, blocks: number, quoteCount = QUOTES): Promise<{ requests: number[]; ms: number[]; credited: number }> {
  const prefix = `bench-deposit-${batchSize}-${Date.now().toString(36)}`;
  const bus = createBus(redis, prefix, 'bench', log);
  const uploads = new Uploads(redis, prefix, bus.status);
  const watchList = new WatchList(redis, prefix);
  let requests = 0;
  const chain = createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize, onRequest: () => requests++ });
  const watcher = new DepositWatcher({
    bus,
    uploads,
    watchList,
    chain,
    lock: new ScanLock(redis, `${prefix}:lock`, 60_000),
    log,
    chainId: 31337,
    deposits,
    confirmations: 1,
    startBehind: 0,
    maxBlocksPerPass: 10,
  });
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  const quotes = Array.from({ length: quoteCount }, () => randomUUID());
  const pipeline = redis.pipeline();
  for (const uploadId of quotes) {
    pipeline.hset(
      `${prefix}:payment:watch:info`,
      uploadId,
      JSON.stringify({
        uploadId,
        owner: MERCHANT,
        address: depositAddressOf(deposits, uploadId),
        token: null,
        amount: '1000',
        createdAt: new Date().toISOString(),
        expiresAt,
      }),
    );
    pipeline.zadd(`${prefix}:payment:watch`, Date.now() + 3_600_000, uploadId);
  }
  pipeline.incr(`${prefix}:payment:watch:version`);
  await pipeline.exec();
  await anvil.test.mine({ blocks: 1 });
  await watcher.scanOnce(); // sets the cursor at the head and warms the watch list's cache
  const perBlock = { requests: [] as number[], ms: [] as number[] };
  const buyer = privateKeyToAccount(KEYS.buyer);
  for (let b = 0; b < blocks; b++) {
    // Every few blocks a payment (a partial one: the quotes stay watched) reaches one of the addresses.
    if (b % 5 === 0) {
      await anvil
        .wallet(KEYS.buyer)
        .sendTransaction({ account: buyer, chain: anvil.chain, to: depositAddressOf(deposits, quotes[b] as string) as Hex, value: 10n });
    }
    await anvil.test.mine({ blocks: 1 });
    requests = 0;
    const started = performance.now();
    await watcher.scanOnce();
    perBlock.ms.push(performance.now() - started);
    perBlock.requests.push(requests);
  }
  const credited = (await redis.hlen(`${prefix}:payment:credited`)) ?? 0;
  await bus.close(1_000);
  for (const key of await redis.keys(`${prefix}:*`)) await redis.del(key);
  return { ...perBlock, credited };
}

try {
  const batched = await measure(BATCH_SIZE, BLOCKS);
  // The comparison without batching runs on a tenth of the quotes: one HTTP request per address,
  // all at once, runs out of file descriptors at 10,000 (which is the point).
  const small = Math.ceil(QUOTES / 10);
  const smallBatched = await measure(BATCH_SIZE, Math.min(BLOCKS, 10), small);
  const unbatched = await measure(0, Math.min(BLOCKS, 10), small);
  const row = (name: string, quotes: number, r: { requests: number[]; ms: number[] }) =>
    `| ${quotes.toLocaleString('en')} | ${name} | ${r.ms.length} | ${percentile(r.requests, 50)} | ${Math.max(...r.requests)} | ${percentile(r.ms, 50).toFixed(0)} | ${percentile(r.ms, 99).toFixed(0)} |`;
  const p99 = percentile(batched.ms, 99);
  writeReport({
    part: 'deposit-scan',
    title: `Deposit watcher: ${QUOTES.toLocaleString('en')} open quotes checked per new block`,
    command: 'node --import tsx scripts/bench/deposit-scan.ts',
    headline: `${QUOTES.toLocaleString('en')} open quotes: p99 ${p99.toFixed(0)} ms per block (goal < 1 s: ${p99 < 1000 ? 'met' : 'missed'})`,
    markdown: `
${QUOTES.toLocaleString('en')} deposit addresses watched; on each new block the payment-watcher's pass (services/payment-watcher/src/deposit-watcher.ts)
reads the block, the factory's sweep logs and every watched address's balance at the confirmed height, and settles the
addresses whose total rose (a payment reached one address every 5 blocks). Own anvil, blocks mined on demand, local Redis.
Requests are HTTP requests to the node (a JSON-RPC batch counts once). Goal: p99 under 1 s per block.

| open quotes | JSON-RPC batching | blocks | requests per block (p50) | requests per block (max) | ms per block p50 | ms per block p99 |
|---|---|---|---|---|---|---|
${row(`on, ${BATCH_SIZE} per batch`, QUOTES, batched)}
${row(`on, ${BATCH_SIZE} per batch`, small, smallBatched)}
${row('off (one request per call)', small, unbatched)}

With batching the cost per block is ${percentile(batched.requests, 50)} requests whatever the number of quotes grows to within a batch
(${Math.ceil(QUOTES / BATCH_SIZE)} balance batches for ${QUOTES.toLocaleString('en')} addresses, plus the block, the sweep logs and the head);
p99 ${p99.toFixed(0)} ms: goal ${p99 < 1000 ? 'met' : 'missed'}. ${batched.credited} addresses were credited during the run.
`,
    data: { quotes: QUOTES, batchSize: BATCH_SIZE, batched, small: { quotes: small, batched: smallBatched, unbatched } },
  });
} finally {
  await redis.quit();
  await anvil.stop();
}
