/**
 * Redis memory per finished upload, and its return to the baseline once everything expired.
 * 10,000 uploads (BENCH_UPLOADS) go through the chain's channels and lifecycle transitions with
 * every stage's work stubbed (no ffmpeg, chain, S3 or Postgres; as in bus.ts), on a Redis of the
 * benchmark's own, with short retentions (BENCH_TTL_SECONDS for upload records, finished jobs and
 * the status log). Measured: used_memory before, after the last upload is saved (per upload, and
 * by kind of key), and after the retention passed and the stages' sweepers ran.
 *
 *   node --import tsx scripts/bench/redis-memory.ts      (BENCH_UPLOADS, BENCH_TTL_SECONDS to change)
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import type { Redis } from 'ioredis';
import { connectRedis, type Retention } from '@reelboard/bus';
import type { StatusEvent, UploadReceived } from '@reelboard/contracts';
import { createBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { redisProcesses } from '@reelboard/testkit/redis-processes';
import { writeReport } from './lib/report.js';

const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 10_000);
const TTL_SECONDS = Number(process.env.BENCH_TTL_SECONDS ?? 240);
const IN_FLIGHT = 200;
const CONCURRENCY = 16;
/** Progress events one short encode reports (one a second of a few seconds' encode). */
const PROGRESS_EVENTS = 5;
/** The quote's life: the watcher's `upload.expire` job waits this long, then finds the upload paid. */
const QUOTE_SECONDS = 2;
const retention: Retention = { uploadSeconds: TTL_SECONDS, completedJobSeconds: TTL_SECONDS, failedJobSeconds: TTL_SECONDS, statusLogSeconds: TTL_SECONDS };
const log = createLogger('bench-redis-memory', 'error');

/** The stages, stubbed, each doing to Redis what its service does: jobs, transitions, status events. */
async function runStages(redisUrl: string, prefix: string): Promise<void> {
  const redis = connectRedis(redisUrl, 'bench-memory-stages');
  const bus = createBus(redis, prefix, 'bench-stage', log, {}, {}, retention);
  const uploads = new Uploads(redis, prefix, bus.status, retention.uploadSeconds);
  const txHash = `0x${'ab'.repeat(32)}` as const;
  const options = { concurrency: CONCURRENCY };
  // payment-watcher: the expiry job at the quote's deadline; the payment found, credited and confirmed.
  bus.consume(
    'upload.received',
    async (u) => {
      await bus.publish('upload.expire', { uploadId: u.uploadId }, { delayMs: QUOTE_SECONDS * 1000 });
      const payment = {
        chainId: u.quote.chainId,
        address: u.quote.to,
        token: null,
        amount: u.quote.amount,
        blockNumber: '1',
        blockTime: new Date().toISOString(),
        status: 'paid' as const,
        txHashes: [txHash],
      };
      await uploads.pay(u.uploadId, payment, 'payment-watcher');
      await bus.publish('payment.credited', {
        kind: 'deposit',
        uploadId: u.uploadId,
        owner: u.owner,
        chainId: u.quote.chainId,
        address: u.quote.to,
        token: null,
        quoteAmount: u.quote.amount,
        totalReceived: u.quote.amount,
        fromBlock: '1',
        toBlock: '1',
        blockTime: payment.blockTime,
        transfers: [],
        status: 'paid',
      });
      await bus.publish('payment.confirmed', { ...u, payment });
    },
    options,
  );
  bus.consume('upload.expire', async ({ uploadId }) => void (await uploads.state(uploadId)), options);
  bus.consume('payment.credited', async () => {}, options);
  // transcoder: processing, the early preview, progress, the transcoded video.
  bus.consume(
    'payment.confirmed',
    async (p, c) => {
      await uploads.transition(p.uploadId, 'start', { stage: 'transcoder', message: 'processing started' });
      await c.emit('preview.early', {
        ...p,
        preview: { path: `${p.uploadId}/early-preview.webm`, bytes: 1, durationSeconds: 1 },
        poster: { path: `${p.uploadId}/early-poster.webp`, bytes: 1 },
      });
      for (let i = 1; i <= PROGRESS_EVENTS; i += 1) await c.status('progress', { progress: Math.round((100 * i) / (PROGRESS_EVENTS + 1)) });
      await c.emit('video.transcoded', { ...p, video: { path: `${p.uploadId}/video.webm`, bytes: 1, durationSeconds: 1, width: 2, height: 2 } });
    },
    options,
  );
  // uploader: the early preview stored; later the assets.
  bus.consume('preview.early', async (_p, c) => c.status('preview.ready'), options);
  bus.consume(
    'video.transcoded',
    (v, c) =>
      c.emit('preview.extracted', {
        ...v,
        preview: { path: `${v.uploadId}/preview.webm`, bytes: 1, durationSeconds: 1 },
        poster: { path: `${v.uploadId}/poster.webp`, bytes: 1 },
      }),
    options,
  );
  bus.consume('preview.extracted', (p, c) => c.emit('assets.stored', { ...p, objects: { video: 'v', preview: 'p', poster: 'q' } }), options);
  // profile-writer: saved.
  bus.consume(
    'assets.stored',
    async (a) => void (await uploads.transition(a.uploadId, 'save', { stage: 'profile-writer', message: 'listing saved' })),
    options,
  );
  process.send?.('ready');
  process.on('message', async (message) => {
    if (message === 'stop') {
      await bus.close(5_000);
      await redis.quit();
      process.exit(0);
    }
  });
}

function uploadFor(uploadId: string, owner: number): UploadReceived {
  const now = new Date();
  // Each quote has its own deposit address (the credit's job id is derived from it).
  const deposit = `0x${randomUUID().replace(/-/g, '')}${randomUUID().slice(0, 8)}` as const;
  return {
    uploadId,
    owner: `0x${owner.toString(16).padStart(40, '0')}`,
    form: {
      title: 'A bench listing with a title of ordinary length',
      description: 'Two sentences of description. About this long.',
      hashtags: ['bench', 'bikes', 'berlin'],
      latitude: 52.5,
      longitude: 13.4,
      displayName: 'Ada',
      contact: 'ada@example.org',
    },
    quote: {
      chainId: 31337,
      to: deposit,
      amount: '10000000000000000',
      token: null,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + QUOTE_SECONDS * 1000).toISOString(),
    },
    staged: { source: `${uploadId}/source`, sourceBytes: 2_000_000, logo: `${uploadId}/logo` },
    receivedAt: now.toISOString(),
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  await redis.call('MEMORY', 'PURGE').catch(() => undefined);
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1] ?? Number.NaN);
}

/** Bytes (MEMORY USAGE) and counts of the prefix's keys, by kind (upload ids and job ids folded). */
async function keysByKind(redis: Redis, prefix: string): Promise<Map<string, { keys: number; bytes: number }>> {
  const kinds = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((key, index) => {
      const kind = key
        .slice(prefix.length + 1)
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[^:]*/g, '<upload>')
        .replace(/0x[0-9a-f]{40}/g, '<address>');
      const entry = kinds.get(kind) ?? { keys: 0, bytes: 0 };
      entry.keys += 1;
      entry.bytes += Number(sizes[index]?.[1] ?? 0);
      kinds.set(kind, entry);
    });
  } while (cursor !== '0');
  return kinds;
}

/** Steady-state memory at the default retentions, from the per-upload bytes of each kind of key. */
function sizing(kinds: Map<string, { keys: number; bytes: number }>, uploads: number, logEntries: number): string {
  let jobs = 0;
  let record = 0;
  for (const [kind, v] of kinds) {
    if (kind.startsWith('upload:<upload>') || kind.startsWith('owner:')) record += v.bytes;
    else if (kind.endsWith(':<upload>') || kind.endsWith('.payment.credited')) jobs += v.bytes;
  }
  const log = kinds.get('status-log')?.bytes ?? 0;
  const [j, r, l] = [jobs / uploads, record / uploads, log / uploads].map((bytes) => bytes / 1024) as [number, number, number];
  const perDay = 7 * j + 30 * r + 7 * l;
  return `Sizing at the default retentions: an upload's finished jobs (${j.toFixed(1)} KiB) stay 7 days, its record and history (${r.toFixed(1)} KiB) 30 days, its status log entries (${l.toFixed(1)} KiB) 7 days (the log is capped at 100,000 entries, about ${(logEntries > 0 ? ((log / logEntries) * 100_000) / 2 ** 20 : 0).toFixed(0)} MiB at the cap); so each finished upload a day holds about **${perDay.toFixed(0)} KiB** in the steady state: 1,000 uploads a day need about ${((perDay * 1000) / 1024).toFixed(0)} MiB, 10,000 a day about ${((perDay * 10_000) / 1024 ** 2).toFixed(1)} GiB (less the log's cap). Shorter retentions scale it down linearly.`;
}

async function main(): Promise<void> {
  const processes = await redisProcesses('bench-redis-memory');
  try {
    const server = await processes.server({ directives: [['maxmemory-policy', 'noeviction']] });
    const redisUrl = `redis://127.0.0.1:${server.port}`;
    const prefix = 'reelboard';
    const stages = fork(new URL(import.meta.url).pathname, ['stages', redisUrl, prefix], { execArgv: ['--import', 'tsx'] });
    await new Promise<void>((resolve) => stages.once('message', () => resolve()));
    const redis = connectRedis(redisUrl, 'bench-memory');
    const bus = createBus(redis, prefix, 'bench-gateway', log, {}, {}, retention);
    const uploads = new Uploads(redis, prefix, bus.status, retention.uploadSeconds);
    // Every queue exists (its meta keys) before the baseline.
    for (const queue of bus.watchedQueues()) await queue.waitUntilReady();
    const baseline = await usedMemory(redis);
    const baselineKeys = await keysByKind(redis, prefix);
    const loadBefore = loadavg();

    let saved = 0;
    let inFlight = 0;
    let wake: () => void = () => {};
    const stop = await bus.status.subscribe((event: StatusEvent) => {
      if (event.event !== 'profile.saved') return;
      saved += 1;
      inFlight -= 1;
      wake();
    });
    const started = Date.now();
    for (let i = 0; i < UPLOADS; i += 1) {
      while (inFlight >= IN_FLIGHT) await new Promise<void>((resolve) => (wake = resolve));
      inFlight += 1;
      const upload = uploadFor(randomUUID(), i % 1000);
      // What the gateway does for every accepted form.
      await uploads.register(upload, 'api-gateway');
      await bus.publish('upload.received', upload);
    }
    while (saved < UPLOADS) await new Promise<void>((resolve) => (wake = resolve));
    const runSeconds = (Date.now() - started) / 1000;
    stop();
    // The expiry jobs run at their quotes' deadlines: wait for the last ones, then measure.
    const expire = bus.queue('upload.expire');
    while ((await expire.getDelayedCount()) + (await expire.getWaitingCount()) + (await expire.getActiveCount()) > 0)
      await new Promise((resolve) => setTimeout(resolve, 500));
    const peak = await usedMemory(redis);
    const peakKeys = await keysByKind(redis, prefix);
    const logEntriesAtPeak = await redis.xlen(bus.status.logKey);
    const uploadsKept = peakKeys.get('upload:<upload>')?.keys ?? 0;
    const loadAtPeak = loadavg();

    // Everything past its retention: Redis expires the upload keys, the stages' sweepers the jobs and log.
    const expiryStarted = Date.now();
    const deadline = expiryStarted + (TTL_SECONDS + 180) * 1000;
    let after = await usedMemory(redis);
    let afterKeys = await keysByKind(redis, prefix);
    const perUploadKeys = () =>
      [...afterKeys.entries()].filter(([kind]) => kind.includes('<upload>') || kind.includes('<address>')).reduce((sum, [, v]) => sum + v.keys, 0);
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      after = await usedMemory(redis);
      afterKeys = await keysByKind(redis, prefix);
      const completed = (await Promise.all(bus.watchedQueues().map((queue) => queue.getCompletedCount()))).reduce((a, b) => a + b, 0);
      process.stdout.write(
        `  ${Math.round((Date.now() - expiryStarted) / 1000)} s after the run: used_memory ${(after / 2 ** 20).toFixed(1)} MiB, per-upload keys ${perUploadKeys()}, completed jobs ${completed}, status log ${await redis.xlen(bus.status.logKey)}\n`,
      );
      if (perUploadKeys() === 0 && completed === 0 && (await redis.xlen(bus.status.logKey)) === 0) break;
    }
    const expirySeconds = (Date.now() - expiryStarted) / 1000;

    stages.send('stop');
    await new Promise((resolve) => stages.once('exit', resolve));
    await bus.close(1_000);
    await redis.quit();

    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    const perUpload = (peak - baseline) / UPLOADS;
    const kinds = [...peakKeys.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
    const residual = [...afterKeys.entries()]
      .filter(([kind, v]) => (baselineKeys.get(kind)?.keys ?? 0) !== v.keys || !baselineKeys.has(kind))
      .sort((a, b) => b[1].bytes - a[1].bytes);
    const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' / ');
    writeReport({
      part: 'redis-memory',
      title: 'Redis memory per finished upload, and back to the baseline after expiry',
      command: `BENCH_UPLOADS=${UPLOADS} BENCH_TTL_SECONDS=${TTL_SECONDS} node --import tsx scripts/bench/redis-memory.ts`,
      headline: `${(perUpload / 1024).toFixed(1)} KiB per finished upload; ${mib(after)} MiB once everything expired (baseline ${mib(baseline)} MiB)`,
      markdown: [
        `${UPLOADS} uploads through every channel and lifecycle transition of the chain, each stage stubbed (as in the bus benchmark: jobs, transitions and status events are real, the media, chain, S3 and Postgres work is not), ${PROGRESS_EVENTS} progress events per upload, the watcher's expiry job at a ${QUOTE_SECONDS} s quote deadline, 1,000 wallets. Its own Redis (${server.port}, noeviction, empty), ${IN_FLIGHT} uploads in flight, stages in a second process with concurrency ${CONCURRENCY} per channel. Retentions shortened to ${TTL_SECONDS} s for the run (REDIS_UPLOAD_TTL_SECONDS, REDIS_COMPLETED_JOB_TTL_SECONDS, REDIS_FAILED_JOB_TTL_SECONDS, REDIS_STATUS_LOG_TTL_SECONDS; defaults in docs/operations.md). Load average (1/5/15 min) ${load(loadBefore)} before, ${load(loadAtPeak)} at the end of the run (the machine is shared).`,
        '',
        '| | used_memory |',
        '|---|---|',
        `| baseline (queues created, nothing in them) | ${mib(baseline)} MiB |`,
        `| all ${UPLOADS} saved (run took ${runSeconds.toFixed(0)} s; ${uploadsKept} upload records held) | ${mib(peak)} MiB |`,
        `| **per finished upload** | **${(perUpload / 1024).toFixed(1)} KiB** (${Math.round(perUpload)} bytes) |`,
        `| ${expirySeconds.toFixed(0)} s later, past the retention | ${mib(after)} MiB (${after - baseline >= 0 ? '+' : ''}${((after - baseline) / 1024).toFixed(0)} KiB against the baseline) |`,
        '',
        'Where it goes at the end of the run (MEMORY USAGE summed by kind of key):',
        '',
        '| key | keys | MiB | bytes per upload |',
        '|---|---|---|---|',
        ...kinds.slice(0, 16).map(([kind, v]) => `| \`${kind}\` | ${v.keys} | ${mib(v.bytes)} | ${Math.round(v.bytes / UPLOADS)} |`),
        '',
        sizing(peakKeys, UPLOADS, logEntriesAtPeak),
        '',
        residual.length === 0
          ? 'After expiry the prefix holds exactly the keys of the baseline.'
          : `After expiry, keys beyond the baseline's (fixed per queue or per deployment, not per upload): ${residual.map(([kind, v]) => `\`${kind}\` ${v.keys} (${(v.bytes / 1024).toFixed(0)} KiB)`).join(', ')}.`,
        '',
        'The rest of the difference in used_memory is the Lua scripts BullMQ and the status store loaded after the baseline, and allocator state; none of it grows with the number of uploads.',
      ].join('\n'),
      data: {
        uploads: UPLOADS,
        ttlSeconds: TTL_SECONDS,
        baseline,
        peak,
        after,
        perUpload,
        runSeconds,
        expirySeconds,
        uploadsKept,
        loadBefore,
        loadAtPeak,
        kinds: Object.fromEntries(kinds),
        residual: Object.fromEntries(residual),
      },
    });
  } finally {
    await processes.close();
  }
}

if (process.argv[2] === 'stages') await runStages(process.argv[3] ?? '', process.argv[4] ?? '');
else await main();
