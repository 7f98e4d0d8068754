/**
 * What the deposit watcher costs on a hosted node, which bills every JSON-RPC call (each call of a
 * batch too): a population of 10,000 quotes a day with a 7-day late window (70,000 watched
 * addresses, ~104 open at once with 15-minute quotes, new ones arriving all the time) on a chain of
 * one block every 2 s, on its own anvil. Calls are counted at a proxy in front of the node.
 * Both cadences run over the same population in the same run: every watched balance on every
 * block (the reads before the watcher followed activity, OPEN/EXPIRED_QUOTE_READ_SECONDS=0), a few
 * blocks of it scaled to an hour, and the cadence deployed (open quotes every 10 s, expired ones
 * hourly, a paid address at once) over a whole simulated hour, with payments of every kind in it
 * and how long each took to be credited. The hour runs twice over the same population: the expired
 * quotes read all on one pass each hour (`burst`, as before) and spread by a hash of their address
 * over the hour (`spread`, deployed), to compare the most calls one pass makes.
 *
 *   node --import tsx scripts/bench/deposit-cost.ts     (BENCH_PER_DAY, BENCH_LATE_DAYS, BENCH_MINUTES to change the size)
 */
import { randomUUID } from 'node:crypto';
import { encodeFunctionData, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { createChainClient, type DepositSettings, depositAddressOf } from '@reelboard/chain';
import { createBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { startRpcProxy } from '@reelboard/testkit/rpc-proxy';
import { compileTestContracts } from '@reelboard/testkit/test-contracts';
import { DepositWatcher } from '../../services/payment-watcher/src/deposit-watcher.js';
import { ScanLock } from '../../services/payment-watcher/src/scan-lock.js';
import { type WatchedQuote, WatchList } from '../../services/payment-watcher/src/watch-list.js';
import { redisUrl } from '../../services/payment-watcher/test/support/harness.js';
import { percentile, writeReport } from './lib/report.js';

const PER_DAY = Number(process.env.BENCH_PER_DAY ?? 10_000);
const LATE_DAYS = Number(process.env.BENCH_LATE_DAYS ?? 7);
const MINUTES = Number(process.env.BENCH_MINUTES ?? 60);
const BLOCK_SECONDS = 2;
const QUOTE_SECONDS = 15 * 60;
const OPEN_READ_MS = 10_000;
const EXPIRED_READ_MS = 3_600_000;
const TODAY_BLOCKS = 3;
const BLOCKS_PER_HOUR = 3600 / BLOCK_SECONDS;
const deposits: DepositSettings = { merchant: MERCHANT, token: null };
const PRICE = 1_000_000n;

const anvil = await startAnvil(Number(process.env.BENCH_ANVIL_PORT ?? 19294));
const proxy = await startRpcProxy(anvil.rpcUrl, 'bench-deposit-cost');
const redis = connectRedis(redisUrl(), 'bench-deposit-cost');
const log = createLogger('bench-deposit-cost', 'error');
const buyer = privateKeyToAccount(KEYS.buyer);
const stranger = privateKeyToAccount(KEYS.stranger);
const contracts = compileTestContracts();
const prefixes: string[] = [];

let chainTime = Number((await anvil.client.getBlock()).timestamp);
/** Mines one block 2 s after the last: the chain's clock is the simulation's, whatever the wall's. */
async function mineBlock(): Promise<void> {
  chainTime += BLOCK_SECONDS;
  await anvil.test.setNextBlockTimestamp({ timestamp: BigInt(chainTime) });
  await anvil.test.mine({ blocks: 1 });
}

function quoteAt(expiresAtSeconds: number): WatchedQuote {
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
}

/** A watcher under its own prefix, watching the population: PER_DAY quotes a day over the late window, the last ones still open. */
async function watcherOver(cadence: { openReadIntervalMs: number; expiredReadIntervalMs: number; expiredReads?: 'spread' | 'burst' }) {
  const prefix = `bench-deposit-cost-${cadence.openReadIntervalMs}-${cadence.expiredReads ?? ''}-${Date.now().toString(36)}`;
  prefixes.push(prefix);
  const bus = createBus(redis, prefix, 'bench', log);
  const watchList = new WatchList(redis, prefix);
  const watcher = new DepositWatcher({
    bus,
    uploads: new Uploads(redis, prefix, bus.status),
    watchList,
    // Calls are counted one by one whatever the batch size; larger batches are fewer concurrent requests to anvil on a loaded machine.
    chain: createChainClient({ rpcUrl: proxy.url, chainId: 31337, batchSize: 2_000 }),
    lock: new ScanLock(redis, `${prefix}:lock`, 600_000),
    log,
    chainId: 31337,
    deposits,
    confirmations: 1,
    startBehind: 0,
    maxBlocksPerPass: 10,
    ...cadence,
  });
  const total = Math.round(PER_DAY * LATE_DAYS + (PER_DAY * QUOTE_SECONDS) / 86_400);
  const step = 86_400 / PER_DAY;
  const quotes: WatchedQuote[] = [];
  for (let i = 0; i < total; i++) quotes.push(quoteAt(Math.round(chainTime + QUOTE_SECONDS - i * step)));
  for (let i = 0; i < quotes.length; i += 5_000) {
    const pipeline = redis.pipeline();
    for (const quote of quotes.slice(i, i + 5_000)) {
      pipeline.hset(`${prefix}:payment:watch:info`, quote.uploadId, JSON.stringify(quote));
      pipeline.zadd(`${prefix}:payment:watch`, Date.now() + 30 * 86_400_000, quote.uploadId);
    }
    await pipeline.exec();
  }
  await redis.incr(`${prefix}:payment:watch:version`);
  await mineBlock();
  await watcher.scanOnce(); // the cursor at the head; the first pass reads every balance once
  return { bus, watchList, watcher, quotes };
}

const callsOf = () => Object.values(proxy.calls).reduce((a, b) => a + b, 0);

/** Every watched balance on every block: a few blocks, each counted. */
async function measureEveryBlock() {
  const { bus, watcher, quotes } = await watcherOver({ openReadIntervalMs: 0, expiredReadIntervalMs: 0 });
  const perBlock: number[] = [];
  const ms: number[] = [];
  for (let b = 0; b < TODAY_BLOCKS; b++) {
    await mineBlock();
    proxy.calls = {};
    const started = performance.now();
    await watcher.scanOnce();
    ms.push(performance.now() - started);
    perBlock.push(callsOf());
  }
  await bus.close(1_000);
  return { watched: quotes.length, perBlock, ms, byMethod: { ...proxy.calls } };
}

type Payment = { kind: string; address: Hex; sentAt: number; block: number; creditedAt?: number; creditedBlock?: number; limitSeconds: number };

/**
 * The deployed cadence over a simulated hour of 2 s blocks, quotes arriving, payments of each kind in
 * it, and 100 blocks more so the expired quote paid at block 96 gets its whole interval.
 */
async function measureHour(forwarder: Hex, expiredReads: 'spread' | 'burst') {
  const { bus, watchList, watcher, quotes } = await watcherOver({ openReadIntervalMs: OPEN_READ_MS, expiredReadIntervalMs: EXPIRED_READ_MS, expiredReads });
  const blocks = Math.round((MINUTES * 60) / BLOCK_SECONDS) + 100;
  const expired = quotes.filter((q) => Date.parse(q.expiresAt) < chainTime * 1000);
  const payments: Payment[] = [];
  // Each kind once, at blocks chosen so that none lands right after the interval's read.
  const plan = new Map<number, { kind: string; limitSeconds: number; to: () => WatchedQuote; internal: boolean }>([
    [37, { kind: 'top-level transfer, open quote', limitSeconds: BLOCK_SECONDS, to: () => latestOpen, internal: false }],
    [52, { kind: 'top-level transfer, expired quote', limitSeconds: BLOCK_SECONDS, to: () => expired[1_000] as WatchedQuote, internal: false }],
    [73, { kind: 'internal transfer, open quote', limitSeconds: 15, to: () => latestOpen, internal: true }],
    [96, { kind: 'internal transfer, expired quote', limitSeconds: 3600, to: () => expired[2_000] as WatchedQuote, internal: true }],
  ]);
  let latestOpen = quotes[0] as WatchedQuote;
  let perBlockMax = 0;
  const idle: number[] = [];
  let total = 0;
  proxy.calls = {};
  const byMethod: Record<string, number> = {};
  let nextQuote = chainTime;
  for (let b = 1; b <= blocks; b++) {
    // New quotes arrive at PER_DAY a day, open for 15 minutes (each a watch-set change).
    while (nextQuote <= chainTime) {
      latestOpen = quoteAt(chainTime + QUOTE_SECONDS);
      await watchList.watch(latestOpen, Date.now() + 30 * 86_400_000);
      nextQuote += 86_400 / PER_DAY;
    }
    const planned = plan.get(b);
    if (planned) {
      const quote = planned.to();
      const hash = planned.internal
        ? await anvil.wallet(KEYS.stranger).sendTransaction({
            account: stranger,
            chain: anvil.chain,
            to: forwarder,
            value: PRICE,
            data: encodeFunctionData({ abi: contracts.Forwarder.abi, functionName: 'pay', args: [quote.address] }),
          })
        : await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: quote.address, value: PRICE });
      payments.push({ kind: planned.kind, address: quote.address, sentAt: chainTime + BLOCK_SECONDS, block: b, limitSeconds: planned.limitSeconds });
      if (!hash) throw new Error(`the ${planned.kind} was not sent`);
    }
    await mineBlock();
    proxy.calls = {};
    await watcher.scanOnce();
    const calls = callsOf();
    for (const [method, count] of Object.entries(proxy.calls)) byMethod[method] = (byMethod[method] ?? 0) + count;
    total += calls;
    perBlockMax = Math.max(perBlockMax, calls);
    if (!(proxy.calls.eth_getBalance ?? 0)) idle.push(calls);
    for (const payment of payments.filter((p) => p.creditedAt === undefined)) {
      const [credited] = await watchList.credited([payment.address]);
      if ((credited ?? 0n) > 0n) {
        payment.creditedAt = chainTime;
        payment.creditedBlock = b;
      }
    }
    if (b % 300 === 0) console.log(`  ${b}/${blocks} blocks, ${total} calls so far`);
  }
  await bus.close(1_000);
  return { watchedAtStart: quotes.length, blocks, total, perBlockMax, idleMedian: percentile(idle, 50), byMethod, payments };
}

async function deployForwarder(): Promise<Hex> {
  const { abi, bytecode } = contracts.Forwarder;
  await anvil.test.setAutomine(true);
  const hash = await anvil.wallet(KEYS.deployer).deployContract({ abi, bytecode, account: privateKeyToAccount(KEYS.deployer), chain: anvil.chain });
  const address = (await anvil.client.waitForTransactionReceipt({ hash })).contractAddress as Hex;
  await anvil.test.setAutomine(false);
  chainTime = Number((await anvil.client.getBlock()).timestamp);
  return address;
}

try {
  // A contract wallet that pays by an internal call (no transaction or log names the address).
  const forwarder = await deployForwarder();
  console.log('every balance on every block...');
  const every = await measureEveryBlock();
  console.log('the cadence over a simulated hour, expired quotes read in one burst an hour...');
  const burst = await measureHour(forwarder, 'burst');
  console.log('the deployed cadence over a simulated hour, expired quotes spread over it...');
  const hour = await measureHour(forwarder, 'spread');
  const scale = BLOCKS_PER_HOUR / hour.blocks;
  const everyPerHour = percentile(every.perBlock, 50) * BLOCKS_PER_HOUR;
  const cadencePerHour = Math.round(hour.total * scale);
  const ratio = everyPerHour / cadencePerHour;
  const latencies = hour.payments.map((p) => ({
    ...p,
    seconds: p.creditedAt === undefined ? undefined : p.creditedAt - p.sentAt,
  }));
  const latencyMet = latencies.every((p) => p.seconds !== undefined && p.seconds <= p.limitSeconds);
  const met = ratio >= 500 && latencyMet;
  const burstPerHour = Math.round(burst.total * (BLOCKS_PER_HOUR / burst.blocks));
  const n = (value: number) => Math.round(value).toLocaleString('en');
  writeReport({
    part: 'deposit-cost',
    title: `Deposit watcher: JSON-RPC calls per hour at ${PER_DAY.toLocaleString('en')} quotes a day, ${LATE_DAYS}-day late window, 2 s blocks`,
    command: 'node --import tsx scripts/bench/deposit-cost.ts',
    headline: `${n(cadencePerHour)} calls/hour against ${n(everyPerHour)} reading every balance each block: 1/${n(ratio)} (goal ≤ 1/500 with every payment credited in time: ${met ? 'met' : 'missed'}); most calls in one pass ${n(hour.perBlockMax)}, ${n(burst.perBlockMax)} with expired quotes read in one burst`,
    markdown: `
A hosted node bills every JSON-RPC call, each call of a batch too. Population: ${PER_DAY.toLocaleString('en')} quotes a day open
${QUOTE_SECONDS / 60} minutes each and watched ${LATE_DAYS} days after their deadline (${every.watched.toLocaleString('en')} watched addresses), one block every
${BLOCK_SECONDS} s (anvil, timestamps set), confirmations 1, calls counted at a proxy in front of the node
(packages/testkit/src/rpc-proxy.ts). The same run measures both cadences of the payment-watcher's pass
(services/payment-watcher/src/deposit-watcher.ts): every watched balance on every block (OPEN_QUOTE_READ_SECONDS=0,
EXPIRED_QUOTE_READ_SECONDS=0, which reads what the watcher read before it followed activity) for ${TODAY_BLOCKS} blocks, scaled to
${BLOCKS_PER_HOUR.toLocaleString('en')} blocks an hour; and the default cadence (open quotes every ${OPEN_READ_MS / 1000} s, expired ones every
${EXPIRED_READ_MS / 3_600_000} h, an address a block's transactions or token logs pay at once, a quote at its deadline block) over
${hour.blocks.toLocaleString('en')} simulated blocks (${((hour.blocks * BLOCK_SECONDS) / 60).toFixed(1)} min), new quotes arriving at the daily rate. That hour runs twice over
the same population: expired quotes read each at its own point of the hour (a hash of its address) on the passes that read the
open quotes anyway (\`spread\`, deployed), and all of them on one pass once the hour has gone by (\`burst\`, as before).

| cadence | calls per block (p50) | calls per hour | ms per pass (p50) |
|---|---|---|---|
| every balance, every block | ${n(percentile(every.perBlock, 50))} | ${n(everyPerHour)} (${TODAY_BLOCKS} blocks measured × ${BLOCKS_PER_HOUR}) | ${percentile(every.ms, 50).toFixed(0)} |
| open every ${OPEN_READ_MS / 1000} s, expired hourly | ${n(hour.idleMedian)} on a block with no balance read | ${n(cadencePerHour)} (measured, scaled to 60 min) | - |

| expired quotes read | most calls in one pass | calls per hour |
|---|---|---|
| in one burst an hour (before) | ${n(burst.perBlockMax)} | ${n(burstPerHour)} |
| spread over the hour (deployed) | ${n(hour.perBlockMax)} | ${n(cadencePerHour)} |

Ratio: 1/${n(ratio)} (goal at most 1/500: ${ratio >= 500 ? 'met' : 'missed'}). Calls of the hour by method: ${Object.entries(hour.byMethod)
      .map(([method, count]) => `${method} ${count.toLocaleString('en')}`)
      .join(', ')}; the most in one pass ${n(hour.perBlockMax)}.

| payment in the simulated hour | sent in block | credited after (chain seconds) | goal |
|---|---|---|---|
${latencies.map((p) => `| ${p.kind} | ${p.block} | ${p.seconds ?? 'never'} | ≤ ${p.limitSeconds} s |`).join('\n')}

Token payments are found from the token's Transfer logs on the same pass as top-level transfers (one \`eth_getLogs\` a block);
they are tested in services/payment-watcher/test/activity-cost.test.ts rather than here (one asset per watcher).
`,
    data: {
      perDay: PER_DAY,
      lateDays: LATE_DAYS,
      minutes: MINUTES,
      every,
      hour: { ...hour, payments: latencies },
      burst: { blocks: burst.blocks, total: burst.total, perBlockMax: burst.perBlockMax, perHour: burstPerHour },
      everyPerHour,
      cadencePerHour,
      ratio,
    },
  });
} finally {
  for (const prefix of prefixes) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  }
  await redis.quit();
  await proxy.close();
  await anvil.stop();
}
