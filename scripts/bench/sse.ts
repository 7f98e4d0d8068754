/**
 * Live status at scale: many concurrent SSE subscribers on one real gateway process; status
 * events published to Redis as the stages would; delivery latency (publish -> client) and the
 * gateway's resident memory.
 *
 *   node --import tsx scripts/bench/sse.ts        (BENCH_SSE_CLIENTS, BENCH_SSE_UPLOADS, BENCH_SSE_EVENTS)
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EventSource } from 'eventsource';
import { privateKeyToAccount } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { GatewayClient } from '@reelboard/client';
import type { StatusEvent, UploadReceived } from '@reelboard/contracts';
import { createBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { percentile, repoRoot, writeReport } from './lib/report.js';

const CLIENTS = Number(process.env.BENCH_SSE_CLIENTS ?? 2000);
const UPLOADS = Number(process.env.BENCH_SSE_UPLOADS ?? 200);
const EVENTS = Number(process.env.BENCH_SSE_EVENTS ?? 20);
/** A transcoder reports progress at most once a second per upload (PROGRESS_INTERVAL_MS). */
const ROUND_MS = Number(process.env.BENCH_SSE_ROUND_MS ?? 1000);
const PORT = Number(process.env.BENCH_SSE_PORT ?? 19480);
const KEY = '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba'; // anvil account 5 (public test key of the default mnemonic)

const infra = infraEnv();
const prefix = `bench-sse-${Date.now().toString(36)}`;
const gatewayUrl = `http://localhost:${PORT}`;
const account = privateKeyToAccount(KEY);

const gateway = spawn(process.execPath, ['--import', 'tsx', 'services/api-gateway/src/main.ts'], {
  cwd: repoRoot,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: {
    ...process.env,
    ...infra,
    DATABASE_URL: infra.TEST_DATABASE_URL,
    S3_BUCKET: infra.TEST_S3_BUCKET,
    REDIS_PREFIX: prefix,
    PORT: String(PORT),
    INTERNAL_PORT: String(PORT + 1),
    PUBLIC_URL: gatewayUrl,
    MERCHANT_ADDRESS: '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_IP_PER_MINUTE: String(CLIENTS * 10),
  },
});
const rssMiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gateway.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

for (let i = 0; ; i += 1) {
  if (i > 120) throw new Error('gateway did not start');
  if (
    await fetch(`http://127.0.0.1:${PORT + 1}/healthz`).then(
      (r) => r.ok,
      () => false,
    )
  )
    break;
  await new Promise((resolve) => setTimeout(resolve, 250));
}

const redis = connectRedis(infra.REDIS_URL ?? '', 'bench-sse');
const bus = createBus(redis, prefix, 'bench-stage', createLogger('bench-sse', 'error'));
const client = new GatewayClient(gatewayUrl);
await client.signIn(account, Number(infra.CHAIN_ID));
const token = client.sessionToken ?? '';

const uploadIds: string[] = [];
for (let i = 0; i < UPLOADS; i += 1) {
  const uploadId = randomUUID();
  const now = new Date().toISOString();
  const upload: UploadReceived = {
    uploadId,
    owner: account.address.toLowerCase() as `0x${string}`,
    form: { title: 'bench', description: '', hashtags: [], latitude: 0, longitude: 0 },
    quote: { chainId: 31337, to: '0xa0ee7a142d267c1f36714e4a8f75612f20a79720', amount: '1', token: null, createdAt: now, expiresAt: now },
    staged: { source: `${uploadId}/source`, sourceBytes: 1 },
    receivedAt: now,
  };
  await new Uploads(redis, bus.prefix, bus.status).register(upload, 'bench');
  uploadIds.push(uploadId);
}

const rssBefore = rssMiB();
const latencies: number[] = [];
let connected = 0;
const sources: EventSource[] = [];
await new Promise<void>((resolve) => {
  for (let i = 0; i < CLIENTS; i += 1) {
    const source = new EventSource(`${gatewayUrl}/v1/uploads/${uploadIds[i % UPLOADS]}/events`, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${token}` } }),
    });
    let first = true;
    source.addEventListener('upload.received', () => {
      if (first && ++connected === CLIENTS) resolve();
      first = false;
    });
    source.addEventListener('progress', (message) => {
      latencies.push(Date.now() - Date.parse((JSON.parse(message.data) as StatusEvent).at));
    });
    sources.push(source);
  }
});
const rssConnected = rssMiB();

// Status events as transcoders send them: one per upload per round (ROUND_MS). Independent
// transcoders are not in step, so each upload's event falls at its own point of the round
// (BENCH_SSE_BURST=1 sends each round's events all at once instead: the worst case).
const burst = process.env.BENCH_SSE_BURST === '1';
const started = Date.now();
for (let round = 0; round < EVENTS; round += 1) {
  for (const [i, uploadId] of uploadIds.entries()) {
    const due = started + round * ROUND_MS + (burst ? 0 : (i * ROUND_MS) / UPLOADS);
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    void bus.status.publish({ uploadId, event: 'progress', stage: 'transcoder', progress: (100 * round) / EVENTS });
  }
}
await new Promise((resolve) => setTimeout(resolve, ROUND_MS));
const expected = CLIENTS * EVENTS;
for (let i = 0; i < 100 && latencies.length < expected; i += 1) await new Promise((resolve) => setTimeout(resolve, 100));
const rssAfter = rssMiB();

for (const source of sources) source.close();
gateway.kill('SIGTERM');
await new Promise((resolve) => gateway.once('exit', resolve));
const keys = await redis.keys(`${prefix}:*`);
for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
await bus.close(1_000);
await redis.quit();

const p99 = percentile(latencies, 99);
writeReport({
  part: 'sse',
  title: 'Live status: concurrent SSE subscribers on one gateway',
  command: 'node --import tsx scripts/bench/sse.ts',
  headline: `${CLIENTS} subscribers: delivery p99 ${p99} ms (goal <= 100 ms: ${p99 <= 100 ? 'met' : 'missed'})`,
  markdown: [
    `${CLIENTS} SSE clients (eventsource, in one process on the same machine) on ${UPLOADS} uploads, following one real gateway process; ${EVENTS} progress events per upload, one per upload every ${ROUND_MS} ms (${Math.round((CLIENTS * 1000) / ROUND_MS)} deliveries/s, ${burst ? 'each round sent at once' : 'spread over the round'}), published to Redis as the transcoder does. Latency = client receive time - the event's \`at\` (set when it is published; same clock).`,
    '',
    '| measure | value |',
    '|---|---|',
    `| events delivered | ${latencies.length} of ${expected} |`,
    `| delivery latency p50 | ${percentile(latencies, 50)} ms |`,
    `| delivery latency p99 | ${p99} ms |`,
    `| gateway RSS before clients | ${rssBefore.toFixed(0)} MiB |`,
    `| gateway RSS with ${CLIENTS} clients connected | ${rssConnected.toFixed(0)} MiB (${(((rssConnected - rssBefore) * 1024) / CLIENTS).toFixed(1)} KiB per client) |`,
    `| gateway RSS after the events | ${rssAfter.toFixed(0)} MiB |`,
    '',
    `Goal p99 <= 100 ms: **${p99 <= 100 ? 'met' : 'missed'}**. The clients share the machine's two cores with the gateway and Redis, so this is an upper bound.`,
  ].join('\n'),
  data: {
    clients: CLIENTS,
    uploads: UPLOADS,
    events: EVENTS,
    roundMs: ROUND_MS,
    delivered: latencies.length,
    p50: percentile(latencies, 50),
    p99,
    rssMiB: { before: rssBefore, connected: rssConnected, after: rssAfter },
  },
});
process.exit(0);
