/**
 * The soak test (a script, not part of the suite): short paid uploads through the whole stack (the
 * seven services as real processes, two transcoders, private Redis, Postgres+PostGIS, s3rver and
 * anvil) while a chaos loop SIGKILLs a random service every 20-40 s (seeded, every kill logged) and
 * restarts it. At the end: every upload ended saved or recorded for refund, no job stayed active
 * past its time limit, and `pnpm payments reconcile` finds nothing. Reports throughput, p50/p95
 * time to ready and each kill in docs/reliability/soak.md (exit 1 if a check failed).
 *
 *   pnpm soak [--uploads 300] [--seed 16] [--in-flight 6] [--min-gap 20] [--max-gap 40]
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { Hex } from 'viem';
import { connectRedis } from '@reelboard/bus';
import { type Channel, channels, type StatusEvent, terminalEvents } from '@reelboard/contracts';
import { connectDatabase } from '@reelboard/db';
import { createBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { pay, postListing, signIn } from '@reelboard/testkit/client';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { makeClip } from '@reelboard/testkit/media';
import { startPrivateInfra } from '@reelboard/testkit/private-infra';
import { type ExtraReplica, SERVICES, type ServiceName, startStack } from '@reelboard/testkit/stack';
import { seededRandom } from '../test/faults/payment-chaos.js';
import { DEV_WALLETS, type Payer } from '../test/faults/support.js';

const { values } = parseArgs({
  options: {
    uploads: { type: 'string', default: '300' },
    seed: { type: 'string', default: '16' },
    'in-flight': { type: 'string', default: '6' },
    'min-gap': { type: 'string', default: '20' },
    'max-gap': { type: 'string', default: '40' },
  },
});
const UPLOADS = Number(values.uploads);
const SEED = Number(values.seed);
const IN_FLIGHT = Number(values['in-flight']);
const GAP_MS: [number, number] = [Number(values['min-gap']) * 1000, Number(values['max-gap']) * 1000];
/** The services' timings: a killed holder's job is handed back after about JOB_LOCK_MS + JOB_STALLED_INTERVAL_MS. */
const TIMING = { JOB_LOCK_MS: 4_000, JOB_STALLED_INTERVAL_MS: 2_000, FFMPEG_TIMEOUT_SECONDS: 30 };
/** ffmpeg/ffprobe runs per job of a media channel (probe, early preview, poster, transcode; probe, preview, poster), each at most FFMPEG_TIMEOUT_SECONDS on these clips. */
const FFMPEG_RUNS: Partial<Record<Channel, number>> = { 'payment.confirmed': 4, 'video.transcoded': 3 };
/** What other stages do (a Postgres transaction, S3 puts, an RPC call) gets this long per attempt. */
const OTHER_STAGE_MS = 60_000;
/** A job's time limit: its stage's work limit plus the hand-back of a job whose holder was killed. */
const jobLimitMs = (channel: Channel) =>
  (FFMPEG_RUNS[channel] ? FFMPEG_RUNS[channel] * TIMING.FFMPEG_TIMEOUT_SECONDS * 1000 : OTHER_STAGE_MS) + TIMING.JOB_LOCK_MS + TIMING.JOB_STALLED_INTERVAL_MS;
const basePort = Number(process.env.TEST_BASE_PORT ?? 31080);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const random = seededRandom(SEED);
/** The run's start (reset once the stack is up): kills and the wall time count from it. */
let started = Date.now();
const clock = () => `t+${((Date.now() - started) / 1000).toFixed(1)}s`;
const kills: string[] = [];
const note = (line: string) => process.stdout.write(`${clock()} ${line}\n`);

const work = await mkdtemp(join(tmpdir(), 'reelboard-soak-'));
const video = join(work, 'clip.mp4');
const [infra] = await Promise.all([startPrivateInfra(basePort + 30), makeClip(video, { width: 320, height: 180, seconds: 1, fps: 15 })]);
/** On a failed start, what was started is stopped before the error is reported. */
async function orClose<T>(start: Promise<T>, close: () => Promise<unknown>): Promise<T> {
  try {
    return await start;
  } catch (error) {
    await close().catch(() => undefined);
    await infra.close();
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}
const stack = await orClose(
  startStack({
    ...infra.env,
    ...Object.fromEntries(Object.entries(TIMING).map(([key, value]) => [key, String(value)])),
    SHUTDOWN_GRACE_MS: '4000',
    PREVIEW_SECONDS: '1',
    CONFIRMATIONS: '2',
    LOG_LEVEL: 'info',
    // A handful of wallets posting hundreds of uploads: the per-IP and per-wallet limits would refuse them.
    RATE_LIMIT_AUTH_PER_IP_PER_MINUTE: '10000',
    RATE_LIMIT_PER_IP_PER_MINUTE: '100000',
    RATE_LIMIT_UPLOADS_PER_WALLET_PER_HOUR: '100000',
  }),
  async () => undefined,
);
let extraTranscoder: ExtraReplica | undefined = await orClose(stack.startExtra('transcoder', `soak-${SEED}`), () => stack.shutdown());
let extraRound = 0;
const db = connectDatabase(infra.env.DATABASE_URL ?? '', { min: 0, max: 2 });
const redis = connectRedis(infra.env.REDIS_URL ?? '', 'soak');
const bus = createBus(redis, stack.env.REDIS_PREFIX ?? '', 'soak', createLogger('soak', 'error'));
started = Date.now();
note(`stack up: ${SERVICES.join(', ')} + a second transcoder; ${UPLOADS} uploads, ${IN_FLIGHT} in flight, seed ${SEED}`);

let stopping = false;

// The chaos loop: a random service (the second transcoder counts as one) SIGKILLed every 20-40 s, restarted 1-3 s later.
const victims: (ServiceName | 'transcoder-2')[] = [...SERVICES, 'transcoder-2'];
const chaos = (async () => {
  while (!stopping) {
    const gap = GAP_MS[0] + random() * (GAP_MS[1] - GAP_MS[0]);
    const deadline = Date.now() + gap;
    while (!stopping && Date.now() < deadline) await sleep(250);
    if (stopping) break;
    const victim = victims[Math.floor(random() * victims.length)] as ServiceName | 'transcoder-2';
    const downMs = 1_000 + Math.floor(random() * 2_000);
    const at = clock();
    const killedAt = Date.now();
    let pid: number | undefined;
    try {
      if (victim === 'transcoder-2') {
        pid = extraTranscoder?.pid;
        await extraTranscoder?.stop('SIGKILL');
        await sleep(downMs);
        extraTranscoder = await stack.startExtra('transcoder', `soak-${SEED}-${++extraRound}`);
      } else {
        pid = stack.pidOf(victim);
        await stack.stop(victim, 'SIGKILL');
        await sleep(downMs);
        await stack.start(victim);
      }
      const line = `${at} SIGKILL ${victim} (pid ${pid}); restarted after ${downMs} ms, ready again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`;
      kills.push(line);
      note(line.slice(at.length + 1));
    } catch (error) {
      const line = `${at} SIGKILL ${victim} (pid ${pid}); restart FAILED: ${String(error)}`;
      kills.push(line);
      note(line);
    }
  }
})();

// Active jobs sampled every 2 s: the longest any one attempt (job id + start time) stayed active, per channel.
const longestActive = new Map<string, number>();
const overLimit: string[] = [];
const monitor = (async () => {
  while (!stopping) {
    for (const channel of Object.keys(channels) as Channel[]) {
      const active = await bus
        .queue(channel)
        .getActive()
        .catch(() => []);
      for (const job of active) {
        if (!job.processedOn) continue;
        const ms = Date.now() - job.processedOn;
        longestActive.set(channel, Math.max(longestActive.get(channel) ?? 0, ms));
        if (ms > jobLimitMs(channel) && !overLimit.includes(`${channel}/${job.id}`)) overLimit.push(`${channel}/${job.id}`);
      }
    }
    await sleep(2_000);
  }
})();

/** Retries `action` while the gateway is down or restarting (network errors, 502/503). */
async function persist<T>(what: string, action: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await action();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${String(error)}`);
      await sleep(1_000);
    }
  }
}

interface Posted {
  uploadId: string;
  token: string;
  acceptedAt: number;
  outcome?: StatusEvent;
}

const wallets: Payer[] = Object.values(DEV_WALLETS);
const tokens = new Map<string, string>();
const posted: Posted[] = [];
let next = 0;

/** One payer: posts, pays (half send the hash, half leave it to the deposit passes) and waits for the end, then the next. */
async function payerLoop(wallet: Payer, index: number): Promise<void> {
  for (;;) {
    const i = next++;
    if (i >= UPLOADS) return;
    const token = await persist('sign in', async () => {
      const known = tokens.get(wallet.address);
      if (known) return known;
      const { token: fresh } = await signIn(stack.gatewayUrl, wallet.key as Hex, Number(stack.env.CHAIN_ID));
      tokens.set(wallet.address, fresh);
      return fresh;
    });
    const { uploadId, payment } = await persist('post', async () => {
      const res = await postListing(
        stack.gatewayUrl,
        token,
        { video },
        { title: `Soak ${SEED}/${i}`, hashtags: '#soak', latitude: '48.85', longitude: '2.35' },
      );
      if (res.status !== 202) throw new Error(`${res.status} ${await res.text()}`);
      return (await res.json()) as { uploadId: string; payment: { to: Hex; amount: string } };
    });
    const upload: Posted = { uploadId, token, acceptedAt: Date.now() };
    posted.push(upload);
    const txHash = await pay(stack.env.RPC_URL ?? '', wallet.key as Hex, payment.to, BigInt(payment.amount));
    if (i % 2 === 0) {
      // The hint is optional: with the gateway down the deposit passes still find the payment.
      await fetch(`${stack.gatewayUrl}/v1/uploads/${uploadId}/payment`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ txHash }),
      }).catch(() => undefined);
    }
    // The latest status is kept in Redis: poll it (the gateway may be restarting).
    upload.outcome = await persist(
      `outcome of ${uploadId}`,
      async () => {
        const res = await fetch(`${stack.gatewayUrl}/v1/uploads/${uploadId}`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(5_000),
        });
        const status = res.ok ? ((await res.json()) as { status: StatusEvent | null }).status : null;
        if (!status || !terminalEvents.has(status.event)) throw new Error(`still ${status?.event ?? res.status}`);
        return status;
      },
      900_000,
    );
    if ((i + 1) % 10 === 0 || i < IN_FLIGHT) note(`payer ${index}: upload ${i + 1}/${UPLOADS} ended ${upload.outcome.event}`);
  }
}

let exitCode = 0;
// Ctrl-C or SIGTERM: stop the chaos and the payers' wait, then the finally below stops everything started.
let interrupt: (signal: string) => void = () => {};
const interrupted = new Promise<never>((_resolve, reject) => (interrupt = (signal) => reject(new Error(`interrupted by ${signal}`))));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupt(signal));
interrupted.catch(() => undefined);
try {
  await Promise.race([Promise.all(wallets.slice(0, IN_FLIGHT).map((wallet, index) => payerLoop(wallet, index))), interrupted]);
  const runSeconds = (Date.now() - started) / 1000;
  stopping = true;
  await Promise.all([chaos, monitor]);
  // Everything killed is running again; wait for the queues to drain (late ledger writes, expiry jobs are delayed).
  const drainDeadline = Date.now() + 120_000;
  const busy = async () => {
    let count = 0;
    for (const channel of Object.keys(channels) as Channel[]) {
      const queue = bus.queue(channel);
      count += (await queue.getActiveCount()) + (await queue.getWaitingCount());
    }
    return count;
  };
  while (Date.now() < drainDeadline && (await busy()) > 0) await sleep(1_000);
  const stillActive = await busy();

  // Every upload saved (a listing and its paid, linked payment) or recorded for refund (unfulfilled / refund_due).
  const unaccounted: string[] = [];
  const outcomes = new Map<string, number>();
  for (const upload of posted) {
    const event = upload.outcome?.event ?? 'none';
    outcomes.set(event, (outcomes.get(event) ?? 0) + 1);
    const listing = await db('listings').where({ id: upload.uploadId }).first();
    const payment = await db('payments').where({ upload_id: upload.uploadId }).first();
    const saved = event === 'profile.saved' && listing && payment?.listing_id === upload.uploadId && payment.status === 'paid';
    const forRefund = payment && ['unfulfilled', 'refund_due'].includes(payment.status as string);
    if (!saved && !forRefund) unaccounted.push(`${upload.uploadId} (${event}, payment ${payment?.status ?? 'none'})`);
  }

  // Time to ready: from the accepted form to the saved listing, and to the first playable preview, from the upload's status history.
  const ready: number[] = [];
  const playable: number[] = [];
  for (const upload of posted) {
    const history = await bus.status.history(upload.uploadId);
    const at = (name: string) => history.find((event) => event.event === name)?.at;
    const received = at('upload.received');
    const saved = at('profile.saved');
    const preview = at('preview.ready');
    if (received && saved) ready.push(Date.parse(saved) - Date.parse(received));
    if (received && preview) playable.push(Date.parse(preview) - Date.parse(received));
  }
  const pct = (list: number[], p: number) => {
    const sorted = [...list].sort((a, b) => a - b);
    return sorted.length ? ((sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number) / 1000).toFixed(1) : 'n/a';
  };

  const reconcile = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/payments.ts', 'reconcile', '--settle-seconds', '30'], {
    cwd: repoRoot,
    env: { ...process.env, ...stack.env },
    timeout: 300_000,
  }).then(
    (out) => ({ code: 0, stdout: out.stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );

  const ok = unaccounted.length === 0 && overLimit.length === 0 && stillActive === 0 && reconcile.code === 0 && posted.length === UPLOADS;
  exitCode = ok ? 0 : 1;
  const minutes = runSeconds / 60;
  const report = `## Soak: ${UPLOADS} paid uploads through the whole stack, a random service SIGKILLed every ${GAP_MS[0] / 1000}-${GAP_MS[1] / 1000} s

Run ${new Date().toISOString()} on ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores, shared with other engineers' runs; load average at the end ${loadavg()
    .map((v) => v.toFixed(1))
    .join(' / ')}), Node ${process.version}.
Command: \`pnpm soak --uploads ${UPLOADS} --seed ${SEED} --in-flight ${IN_FLIGHT} --min-gap ${GAP_MS[0] / 1000} --max-gap ${GAP_MS[1] / 1000}\`
(private Redis, Postgres+PostGIS, s3rver and anvil with 1 s blocks; the seven services plus a second transcoder; each upload a 320x180 1 s clip,
paid by one of ${IN_FLIGHT} wallets, each posting its next upload when the last one ended; half sent their tx hash, half left it to the deposit passes;
\`JOB_LOCK_MS=${TIMING.JOB_LOCK_MS}\`, \`JOB_STALLED_INTERVAL_MS=${TIMING.JOB_STALLED_INTERVAL_MS}\`, \`FFMPEG_TIMEOUT_SECONDS=${TIMING.FFMPEG_TIMEOUT_SECONDS}\`, \`CONFIRMATIONS=2\`).

| check | result |
|---|---|
| uploads posted and paid | ${posted.length} of ${UPLOADS} |
| how they ended | ${[...outcomes.entries()].map(([event, n]) => `${event}: ${n}`).join(', ')} |
| saved (listing + paid, linked payment) or recorded for refund (\`unfulfilled\`/\`refund_due\`) | ${posted.length - unaccounted.length} of ${posted.length}${unaccounted.length ? ` (not: ${unaccounted.join('; ')})` : ''} |
| jobs active past their limit (transcoder ${jobLimitMs('payment.confirmed') / 1000} s, preview-extractor ${jobLimitMs('video.transcoded') / 1000} s: their ffmpeg runs' limits; other stages ${jobLimitMs('assets.stored') / 1000} s; each plus a killed holder's hand-back) | ${overLimit.length === 0 ? 'none' : overLimit.join(', ')}; longest seen per channel: ${[...longestActive.entries()].map(([channel, ms]) => `${channel} ${(ms / 1000).toFixed(1)} s`).join(', ')} |
| jobs still active or waiting after the run | ${stillActive} |
| \`pnpm payments reconcile\` | exit ${reconcile.code}: ${reconcile.stdout.trim().split('\n').at(-1)} |
| wall time (first post to last upload ended) | ${runSeconds.toFixed(0)} s |
| throughput | ${(posted.length / minutes).toFixed(1)} uploads/min |
| time to ready (form accepted → listing saved; payment and 2 confirmations included) | p50 ${pct(ready, 50)} s, p95 ${pct(ready, 95)} s (${ready.length} uploads) |
| time to first playable (form accepted → preview stored) | p50 ${pct(playable, 50)} s, p95 ${pct(playable, 95)} s |
| SIGKILLs | ${kills.length} |

Every kill, in order (seed ${SEED}; the same seed replays the same schedule of victims and gaps):

\`\`\`
${kills.join('\n')}
\`\`\`
`;
  mkdirSync(join(repoRoot, 'docs', 'reliability'), { recursive: true });
  writeFileSync(join(repoRoot, 'docs', 'reliability', 'soak.md'), report);
  process.stdout.write(`\n${report}`);
} catch (error) {
  exitCode = 1;
  process.stderr.write(`soak failed: ${String(error)}\n`);
} finally {
  stopping = true;
  await Promise.allSettled([chaos, monitor]);
  await extraTranscoder?.stop('SIGTERM');
  await stack.shutdown();
  await bus.close(1_000);
  await redis.quit();
  await db.destroy();
  await infra.close();
  await rm(work, { recursive: true, force: true });
  process.exit(exitCode);
}
