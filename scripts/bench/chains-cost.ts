/**
 * Two chains watched at once, as the payment-watcher runs them (CHAINS): one deposit watcher per
 * chain, each with its own watch set, cursor and lease, on its own anvil (chain ids 31337 and 31338)
 * behind its own call-counting proxy. Each chain carries BENCH_PER_DAY quotes a day with a 7-day late
 * window (the deposit-cost population, per chain) and gets BENCH_PAYMENTS top-level payments to open
 * quotes over BENCH_MINUTES simulated minutes of 2 s blocks: how many each chain's watcher detected,
 * in how many blocks, and the JSON-RPC calls per hour each chain costs (a hosted node bills each).
 *
 *   node --import tsx scripts/bench/chains-cost.ts     (BENCH_PER_DAY, BENCH_MINUTES, BENCH_PAYMENTS to change the size)
 */
import { randomUUID } from 'node:crypto';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { createChainClient, type DepositSettings, depositAddressOf } from '@reelboard/chain';
import { createBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { type RpcProxy, startRpcProxy } from '@reelboard/testkit/rpc-proxy';
import { DepositWatcher } from '../../services/payment-watcher/src/deposit-watcher.js';
import { ScanLock } from '../../services/payment-watcher/src/scan-lock.js';
import { type WatchedQuote, WatchList } from '../../services/payment-watcher/src/watch-list.js';
import { redisUrl } from '../../services/payment-watcher/test/support/harness.js';
import { percentile, writeReport } from './lib/report.js';

const PER_DAY = Number(process.env.BENCH_PER_DAY ?? 2_000);
const LATE_DAYS = 7;
const MINUTES = Number(process.env.BENCH_MINUTES ?? 10);
const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 20);
const BLOCK_SECONDS = 2;
const QUOTE_SECONDS = 15 * 60;
const deposits: DepositSettings = { merchant: MERCHANT, token: null };
const PRICE = 1_000_000n;
const BASE = Number(process.env.BENCH_ANVIL_PORT ?? 19296);

const redis = connectRedis(redisUrl(), 'bench-chains-cost');
const log = createLogger('bench-chains-cost', 'error');
const buyer = privateKeyToAccount(KEYS.buyer);
const prefix = `bench-chains-cost-${Date.now().toString(36)}`;

interface ChainRun {
  id: number;
  anvil: Anvil;
  proxy: RpcProxy;
  time: number;
  watchList: WatchList;
  watcher: DepositWatcher;
  open: WatchedQuote[];
  calls: number;
  payments: { address: Hex; block: number; creditedBlock?: number }[];
  passMs: number[];
}

const quoteAt = (expiresAtSeconds: number): WatchedQuote => {
  const uploadId = randomUUID();
  return {
    uploadId,
    owner: MERCHANT,
    address: depositAddressOf(deposits, uploadId),
    token: null,
    amount: PRICE.toString(),
    createdAt: new Date((expiresAtSeconds - QUOTE_SECONDS) * 1000).toISOString(),
    expiresAt: new Date(expiresAtSeconds * 1000).toISOString(),
  };
};

async function mine(run: ChainRun): Promise<void> {
  run.time += BLOCK_SECONDS;
  await run.anvil.test.setNextBlockTimestamp({ timestamp: BigInt(run.time) });
  await run.anvil.test.mine({ blocks: 1 });
}

async function startChain(id: number, port: number): Promise<ChainRun> {
  const anvil = await startAnvil(port, id);
  await anvil.test.setAutomine(false);
  const proxy = await startRpcProxy(anvil.rpcUrl, `bench-chains-cost-${id}`);
  const bus = createBus(redis, prefix, 'bench', log);
  // As the payment-watcher keys a second chain: its own watch set and cursor under payment:chain:<id>.
  const watchList = new WatchList(redis, prefix, id === 31337 ? undefined : id);
  const watcher = new DepositWatcher({
    bus,
    uploads: new Uploads(redis, prefix, bus.status),
    watchList,
    chain: createChainClient({ rpcUrl: proxy.url, chainId: id, batchSize: 500 }),
    lock: new ScanLock(redis, `${prefix}:payment:chain:${id}:lock`, 600_000),
    log,
    chainId: id,
    deposits,
    confirmations: 1,
    startBehind: 0,
    maxBlocksPerPass: 10,
    openReadIntervalMs: 10_000,
    expiredReadIntervalMs: 3_600_000,
  });
  const run: ChainRun = {
    id,
    anvil,
    proxy,
    time: Number((await anvil.client.getBlock()).timestamp),
    watchList,
    watcher,
    open: [],
    calls: 0,
    payments: [],
    passMs: [],
  };
  const total = Math.round(PER_DAY * LATE_DAYS + (PER_DAY * QUOTE_SECONDS) / 86_400);
  const step = 86_400 / PER_DAY;
  for (let i = 0; i < total; i += 5_000) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(total, i + 5_000); j++) {
      const quote = quoteAt(Math.round(run.time + QUOTE_SECONDS - j * step));
      if (Date.parse(quote.expiresAt) > run.time * 1000) run.open.push(quote);
      pipeline.hset(`${prefix}:payment:${id === 31337 ? '' : `chain:${id}:`}watch:info`, quote.uploadId, JSON.stringify(quote));
      pipeline.zadd(`${prefix}:payment:${id === 31337 ? '' : `chain:${id}:`}watch`, Date.now() + 30 * 86_400_000, quote.uploadId);
    }
    await pipeline.exec();
  }
  await redis.incr(`${prefix}:payment:${id === 31337 ? '' : `chain:${id}:`}watch:version`);
  await mine(run);
  await watcher.scanOnce(); // the cursor at the head; the first pass reads every balance once
  return run;
}

const callsOf = (proxy: RpcProxy) => Object.values(proxy.calls).reduce((a, b) => a + b, 0);

const runs: ChainRun[] = [];
try {
  runs.push(await startChain(31337, BASE), await startChain(31338, BASE + 1));
  const blocks = Math.round((MINUTES * 60) / BLOCK_SECONDS);
  // Payments spread over the run, each chain's at its own blocks.
  const payAt = (offset: number) => new Set(Array.from({ length: PAYMENTS }, (_, i) => Math.floor(((i + 0.5) * blocks) / PAYMENTS) + offset));
  const plans = new Map(runs.map((run, i) => [run.id, payAt(i * 3)]));
  for (const run of runs) run.proxy.calls = {};
  for (let b = 1; b <= blocks; b++) {
    for (const run of runs) {
      if (plans.get(run.id)?.has(b)) {
        const quote = run.open[run.payments.length % run.open.length] as WatchedQuote;
        await run.anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: run.anvil.chain, to: quote.address, value: PRICE });
        run.payments.push({ address: quote.address, block: b });
      }
      await mine(run);
      run.proxy.calls = {};
      const started = performance.now();
      await run.watcher.scanOnce();
      run.passMs.push(performance.now() - started);
      run.calls += callsOf(run.proxy);
      for (const payment of run.payments.filter((p) => p.creditedBlock === undefined)) {
        const [credited] = await run.watchList.credited([payment.address]);
        if ((credited ?? 0n) > 0n) payment.creditedBlock = b;
      }
    }
    if (b % 100 === 0) console.log(`  ${b}/${blocks} blocks`);
  }
  const perChain = runs.map((run) => {
    const detected = run.payments.filter((p) => p.creditedBlock !== undefined);
    const lag = detected.map((p) => (p.creditedBlock as number) - p.block);
    return {
      chainId: run.id,
      watched: Math.round(PER_DAY * LATE_DAYS + (PER_DAY * QUOTE_SECONDS) / 86_400),
      payments: run.payments.length,
      detected: detected.length,
      maxBlocksToCredit: lag.length ? Math.max(...lag) : null,
      callsPerHour: Math.round((run.calls * 60) / MINUTES),
      passMsP50: Math.round(percentile(run.passMs, 50)),
    };
  });
  const all = perChain.every((c) => c.detected === c.payments && (c.maxBlocksToCredit ?? 99) <= 1);
  const n = (value: number) => Math.round(value).toLocaleString('en');
  writeReport({
    part: 'chains-cost',
    title: `Two chains watched at once: payments detected per chain and JSON-RPC calls per hour per chain (${PER_DAY.toLocaleString('en')} quotes a day each)`,
    command: 'node --import tsx scripts/bench/chains-cost.ts',
    headline: `${perChain.map((c) => `chain ${c.chainId}: ${c.detected}/${c.payments} payments credited within ${c.maxBlocksToCredit ?? '-'} block(s), ${n(c.callsPerHour)} calls/hour`).join('; ')} (goal: all, within one block: ${all ? 'met' : 'missed'})`,
    markdown: `
One deposit watcher per chain (services/payment-watcher/src/deposit-watcher.ts, as the payment-watcher starts one per CHAINS
entry), each with its own watch set and cursor in Redis (the second chain's keys under \`payment:chain:31338\`), its own anvil
and a call-counting proxy in front of it (packages/testkit/src/rpc-proxy.ts). Per chain: ${PER_DAY.toLocaleString('en')} quotes a day
open ${QUOTE_SECONDS / 60} minutes and watched ${LATE_DAYS} days after (${n(perChain[0]?.watched ?? 0)} watched addresses), 2 s blocks, confirmations 1,
the deployed cadence (open quotes every 10 s, expired ones hourly, a paid address on its block), ${MINUTES} simulated minutes
(${blocks} blocks per chain) with ${PAYMENTS} top-level payments to open quotes on each chain. Calls per hour are the run's calls scaled
to an hour (the hourly read of every expired quote falls in the first pass, before counting: see deposit-cost for the whole hour).

| chain | watched addresses | payments | detected | most blocks to credit | calls per hour | ms per pass (p50) |
|---|---|---|---|---|---|---|
${perChain.map((c) => `| ${c.chainId} | ${n(c.watched)} | ${c.payments} | ${c.detected} | ${c.maxBlocksToCredit ?? '-'} | ${n(c.callsPerHour)} | ${c.passMsP50} |`).join('\n')}

Each chain costs what it would alone: a watcher's calls follow its own chain's blocks and activity, not the other chain's.
`,
    data: { perDay: PER_DAY, lateDays: LATE_DAYS, minutes: MINUTES, payments: PAYMENTS, perChain },
  });
} finally {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
  for (const run of runs) {
    await run.proxy.close();
    await run.anvil.stop();
  }
}
