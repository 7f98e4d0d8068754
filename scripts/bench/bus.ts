/**
 * The bus alone: uploads through all six channels with every stage's work replaced by an
 * instant hand-off (no ffmpeg, chain or S3), so what is measured is BullMQ + the status store.
 * Two runs: paced (latency per hop at a steady load) and a burst of all uploads at once
 * (chains per second). The stages run in a second process, as services would.
 *
 *   node --import tsx scripts/bench/bus.ts        (BENCH_UPLOADS, BENCH_PACED_RATE to change)
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connectRedis } from '@reelboard/bus';
import type { StatusEvent, UploadReceived } from '@reelboard/contracts';
import { createBus, type PipelineBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { percentile, writeReport } from './lib/report.js';

const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 1000);
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 50);
const CONCURRENCY = 32;
const HOPS = ['upload.received', 'payment.confirmed', 'video.transcoded', 'preview.extracted', 'assets.stored', 'profile.saved'] as const;
const redisUrl = process.env.REDIS_URL ?? infraEnv().REDIS_URL ?? '';
const log = createLogger('bench-bus', 'error');

/** The stages, instant: each validates its input (as real stages do) and hands on to the next channel. */
async function runStages(prefix: string): Promise<void> {
  const redis = connectRedis(redisUrl, 'bench-bus-stages');
  const bus = createBus(redis, prefix, 'bench-stage', log);
  const txHash = `0x${'ab'.repeat(32)}` as const;
  bus.consume(
    'upload.received',
    (u, c) =>
      c.emit('payment.confirmed', {
        ...u,
        payment: {
          chainId: u.quote.chainId,
          address: u.quote.to,
          token: null,
          amount: u.quote.amount,
          blockNumber: '1',
          blockTime: new Date().toISOString(),
          status: 'paid',
          txHashes: [txHash],
        },
      }),
    { concurrency: CONCURRENCY },
  );
  bus.consume(
    'payment.confirmed',
    (p, c) => c.emit('video.transcoded', { ...p, video: { path: `${p.uploadId}/video.webm`, bytes: 1, durationSeconds: 1, width: 2, height: 2 } }),
    { concurrency: CONCURRENCY },
  );
  bus.consume(
    'video.transcoded',
    (v, c) =>
      c.emit('preview.extracted', {
        ...v,
        preview: { path: `${v.uploadId}/preview.webm`, bytes: 1, durationSeconds: 1 },
        poster: { path: `${v.uploadId}/poster.webp`, bytes: 1 },
      }),
    { concurrency: CONCURRENCY },
  );
  bus.consume('preview.extracted', (p, c) => c.emit('assets.stored', { ...p, objects: { video: 'v', preview: 'p', poster: 'q' } }), {
    concurrency: CONCURRENCY,
  });
  bus.consume('assets.stored', (_a, c) => c.status('profile.saved'), { concurrency: CONCURRENCY });
  process.send?.('ready');
  process.on('message', async (message) => {
    if (message === 'stop') {
      await bus.close(5_000);
      await redis.quit();
      process.exit(0);
    }
  });
}

function uploadFor(uploadId: string): UploadReceived {
  const now = new Date();
  return {
    uploadId,
    owner: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
    form: { title: 'bench', description: '', hashtags: ['bench'], latitude: 52.5, longitude: 13.4 },
    quote: {
      chainId: 31337,
      to: '0xa0ee7a142d267c1f36714e4a8f75612f20a79720',
      amount: '1',
      token: null,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 900_000).toISOString(),
    },
    staged: { source: `${uploadId}/source`, sourceBytes: 1 },
    receivedAt: now.toISOString(),
  };
}

interface RunResult {
  hopsMs: Record<string, number[]>;
  chainMs: number[];
  wallSeconds: number;
}

/** Sends `count` uploads (all at once, or at `rate` per second) and waits for every profile.saved. */
async function run(bus: PipelineBus, uploads: Uploads, count: number, rate?: number): Promise<RunResult> {
  const events = new Map<string, Map<string, number>>();
  let finished = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const stop = await bus.status.subscribe((event: StatusEvent) => {
    const seen = events.get(event.uploadId);
    if (!seen) return;
    seen.set(event.event, Date.parse(event.at));
    if (event.event === 'profile.saved' && ++finished === count) resolveDone();
  });
  const started = Date.now();
  for (let i = 0; i < count; i += 1) {
    const upload = uploadFor(randomUUID());
    events.set(upload.uploadId, new Map());
    // What the gateway does for every accepted form.
    const send = async () => {
      await uploads.register(upload, 'api-gateway');
      await bus.publish('upload.received', upload);
    };
    if (rate) {
      await send();
      const due = started + ((i + 1) * 1000) / rate;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    } else void send();
  }
  await done;
  const wallSeconds = (Date.now() - started) / 1000;
  stop();
  const hopsMs: Record<string, number[]> = {};
  const chainMs: number[] = [];
  for (const seen of events.values()) {
    for (let h = 1; h < HOPS.length; h += 1) {
      const from = seen.get(HOPS[h - 1] as string);
      const to = seen.get(HOPS[h] as string);
      if (from !== undefined && to !== undefined) (hopsMs[`${HOPS[h - 1]} → ${HOPS[h]}`] ??= []).push(to - from);
    }
    chainMs.push((seen.get('profile.saved') ?? 0) - (seen.get('upload.received') ?? 0));
  }
  return { hopsMs, chainMs, wallSeconds };
}

if (process.argv[2] === 'stages') {
  await runStages(process.argv[3] ?? '');
} else {
  const prefix = `bench-bus-${Date.now().toString(36)}`;
  const stages = fork(new URL(import.meta.url).pathname, ['stages', prefix], { execArgv: ['--import', 'tsx'] });
  await new Promise<void>((resolve) => stages.once('message', () => resolve()));
  const redis = connectRedis(redisUrl, 'bench-bus');
  const bus = createBus(redis, prefix, 'bench-gateway', log);
  const uploads = new Uploads(redis, prefix, bus.status);

  await run(bus, uploads, 50, 100); // warm-up: connections, scripts, JIT
  const paced = await run(bus, uploads, Math.min(UPLOADS, PACED_RATE * 10), PACED_RATE);
  const burst = await run(bus, uploads, UPLOADS);

  stages.send('stop');
  await new Promise((resolve) => stages.once('exit', resolve));
  const keys = await redis.keys(`${prefix}:*`);
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  await bus.close(1_000);
  await redis.quit();

  const row = (name: string, values: number[]) => `| ${name} | ${percentile(values, 50)} | ${percentile(values, 99)} |`;
  const allHopsPaced = Object.values(paced.hopsMs).flat();
  const chainsPerSecond = UPLOADS / burst.wallSeconds;
  writeReport({
    part: 'bus',
    title: 'The bus: six channels with instant stages',
    command: 'node --import tsx scripts/bench/bus.ts',
    headline: `hop p50 ${percentile(allHopsPaced, 50)} ms at ${PACED_RATE} uploads/s (goal <= 5 ms: ${percentile(allHopsPaced, 50) <= 5 ? 'met' : 'missed'}); ${chainsPerSecond.toFixed(0)} chains/s at once (goal >= 200: ${chainsPerSecond >= 200 ? 'met' : 'missed'})`,
    markdown: [
      `Stages replaced by instant hand-offs (payload validated, next job added, status published), running in a second process with concurrency ${CONCURRENCY} per channel; Redis on loopback. Hop = time between consecutive status events of one upload (ms resolution).`,
      '',
      `### Latency at a steady ${PACED_RATE} uploads/s (${Math.min(UPLOADS, PACED_RATE * 10)} uploads)`,
      '',
      '| hop | p50 ms | p99 ms |',
      '|---|---|---|',
      ...Object.entries(paced.hopsMs).map(([name, values]) => row(name, values)),
      row('**any hop**', allHopsPaced),
      row('whole chain', paced.chainMs),
      '',
      `Goal p50 hop <= 5 ms: **${percentile(allHopsPaced, 50) <= 5 ? 'met' : 'missed'}** (${percentile(allHopsPaced, 50)} ms).`,
      '',
      `### Throughput: ${UPLOADS} uploads at once`,
      '',
      `${UPLOADS} chains in ${burst.wallSeconds.toFixed(2)} s = **${chainsPerSecond.toFixed(0)} chains/s** (goal >= 200: **${chainsPerSecond >= 200 ? 'met' : 'missed'}**); whole-chain p50 ${percentile(burst.chainMs, 50)} ms, p99 ${percentile(burst.chainMs, 99)} ms (queueing included).`,
    ].join('\n'),
    data: {
      uploads: UPLOADS,
      pacedRate: PACED_RATE,
      concurrency: CONCURRENCY,
      paced: {
        hops: Object.fromEntries(Object.entries(paced.hopsMs).map(([k, v]) => [k, { p50: percentile(v, 50), p99: percentile(v, 99) }])),
        chain: { p50: percentile(paced.chainMs, 50), p99: percentile(paced.chainMs, 99) },
      },
      burst: { wallSeconds: burst.wallSeconds, chainsPerSecond },
    },
  });
}
