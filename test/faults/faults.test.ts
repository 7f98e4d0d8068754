// Faults done for real to a private copy of the infrastructure (its own Redis, Postgres, S3 server
// and anvil, see packages/testkit/src/private-infra.ts) under the six real services. Each test breaks one
// thing in the middle of real uploads and asserts the outcome, never timings.
// An outage lasts until the service under test has failed against it (its failure counter moved),
// then OUTAGE_TAIL_MS more, so its next retries in backoff meet it too; at most OUTAGE_MS (15 s).
// Retries back off exponentially from 1-2 s, so a longer outage only adds waiting (and pushes the
// first retry after the restart further out), not a different path; docs/reliability.md records this.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { connectRedis } from '@reelboard/bus';
import { connectDatabase, type Knex } from '@reelboard/db';
import { createBus, type PipelineBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { ffprobe, makeClip, makePng } from '@reelboard/testkit/media';
import { type PrivateInfra, startPrivateInfra } from '@reelboard/testkit/private-infra';
import { SERVICES, type Stack, startStack } from '@reelboard/testkit/stack';
import { runPaymentChaos } from './payment-chaos.js';
import { DEV_WALLETS, descendantsOf, metricValue, outcomeOf, payUpload, postUpload, progressFrom, unaccountedPayments, waitMined } from './support.js';

const run = promisify(execFile);
const OUTAGE_MS = 15_000;
const OUTAGE_TAIL_MS = 3_000;
const LONG_CLIP_SECONDS = 10;
const BASE_PORT = Number(process.env.TEST_BASE_PORT ?? 18080);
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let infra: PrivateInfra;
let stack: Stack;
let db: Knex;
let redis: Redis;
let bus: PipelineBus;
let work: string;
const clips = { long: '', short: '', logo: '', garbage: '' };
/** Every upload whose payment went through in this file: each must end as a listing or an unfulfilled payment. */
const paidUploads: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'reelboard-faults-'));
  Object.assign(clips, { long: join(work, 'long.mp4'), short: join(work, 'short.mp4'), logo: join(work, 'logo.png'), garbage: join(work, 'garbage.mp4') });
  // Private engines on ports after the stack's (base+6.. are extra replicas).
  [infra] = await Promise.all([
    startPrivateInfra(BASE_PORT + 20),
    makeClip(clips.long, { width: 1280, height: 720, seconds: LONG_CLIP_SECONDS }),
    makeClip(clips.short, { width: 640, height: 360, seconds: 2 }),
    makePng(clips.logo),
  ]);
  // An MP4 that passes the gateway's sniff (a real ftyp box) and is garbage after it.
  const real = await readFile(clips.short);
  await writeFile(clips.garbage, Buffer.concat([real.subarray(0, real.readUInt32BE(0)), randomBytes(256 * 1024)]));
  stack = await startStack({
    ...infra.env,
    // Short locks so a killed replica's job is recovered in seconds, not BullMQ's default 30 s.
    JOB_LOCK_MS: '4000',
    JOB_STALLED_INTERVAL_MS: '2000',
    SHUTDOWN_GRACE_MS: '4000',
    PREVIEW_SECONDS: '1',
    // Leaves a few seconds between a payment being mined and confirmed, for the RPC outage to hit.
    CONFIRMATIONS: '4',
    // These faults are staged against the single-rendition encode (one long ffmpeg a SIGTERM or SIGKILL
    // lands in); the ladder's small (rung, chunk) jobs are covered by test/e2e/ladder.test.ts, not here.
    STREAM_LADDER: 'false',
  });
  db = connectDatabase(infra.env.DATABASE_URL ?? '', { min: 0, max: 2 });
  redis = connectRedis(infra.env.REDIS_URL ?? '', 'faults-test');
  bus = createBus(redis, stack.env.REDIS_PREFIX ?? '', 'faults-test', createLogger('faults-test', 'error'));
});

afterAll(async () => {
  await stack?.shutdown();
  await bus?.close(1_000);
  await redis?.quit();
  await db?.destroy();
  await infra?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/**
 * Keeps an engine down until the service on `port` has counted a failure against it (`metric` rose
 * above `before`), then OUTAGE_TAIL_MS more; never longer than OUTAGE_MS.
 */
async function holdOutage(what: string, port: number, metric: string, labels: Record<string, string>, before: number): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < OUTAGE_MS - OUTAGE_TAIL_MS && (await metricValue(port, metric, labels)) <= before) await sleep(250);
  await sleep(OUTAGE_TAIL_MS);
  process.stdout.write(`[faults] ${what} down for ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

/** The keys of the objects s3rver holds under an upload's prefix. */
async function storedKeys(uploadId: string): Promise<string[]> {
  const dir = join(infra.bucketDir, 'listings', uploadId);
  const files = await readdir(dir).catch(() => [] as string[]);
  return files
    .filter((file) => file.endsWith('._S3rver_object'))
    .map((file) => file.replace('._S3rver_object', ''))
    .sort();
}

async function expectSavedListing(uploadId: string): Promise<void> {
  const listings = await db('listings').where({ id: uploadId });
  expect(listings).toHaveLength(1);
  const payment = await db('payments').where({ upload_id: uploadId });
  expect(payment).toHaveLength(1);
  expect(payment[0]).toMatchObject({ listing_id: uploadId, status: 'paid' });
}

describe('faults survived', () => {
  it('(1) kill -9 of the transcoder mid-encode: another replica finishes it, one listing results', async () => {
    const second = await stack.startExtra('transcoder', 'b');
    const upload = await postUpload(stack, clips.long, 'Killed mid-encode');
    await upload.stream.waitFor('upload.received', 30_000);
    await payUpload(stack, upload);
    paidUploads.push(upload.uploadId);
    await progressFrom(upload.stream, 'transcoder');

    // The replica running ffmpeg is the one to kill, with its ffmpeg, as a crashed machine would lose both.
    const replicas = [
      { name: 'first', pid: stack.pidOf('transcoder') ?? 0, port: stack.portOf('transcoder') },
      { name: 'second', pid: second.pid ?? 0, port: second.port },
    ];
    // Between two ffmpeg runs of one encode (the preview cut, then the transcode) neither replica has
    // a child for a moment: look again until one does.
    let victim: (typeof replicas)[number] | undefined;
    for (const deadline = Date.now() + 15_000; !victim && Date.now() < deadline; await sleep(100)) {
      victim = replicas.find((replica) => descendantsOf(replica.pid).length > 0);
    }
    expect(victim, 'one replica runs ffmpeg after a progress event').toBeDefined();
    const survivor = replicas.find((replica) => replica !== victim)!;
    for (const pid of [victim!.pid, ...descendantsOf(victim!.pid)]) process.kill(pid, 'SIGKILL');
    if (victim!.name === 'first') await stack.stop('transcoder', 'SIGKILL');
    else await second.stop('SIGKILL');

    const outcome = await outcomeOf(stack, upload);
    expect(outcome.event, JSON.stringify(outcome)).toBe('profile.saved');
    expect(await metricValue(survivor.port, 'reelboard_jobs_completed_total', { channel: 'payment.confirmed' })).toBe(1);
    await expectSavedListing(upload.uploadId);
    expect(await storedKeys(upload.uploadId)).toEqual(['poster.webp', 'preview.webm', 'video.webm']);
    const video = join(work, 'killed.webm');
    await copyFile(join(infra.bucketDir, 'listings', upload.uploadId, 'video.webm._S3rver_object'), video);
    expect(Math.abs(Number((await ffprobe(video)).format.duration) - LONG_CLIP_SECONDS)).toBeLessThanOrEqual(0.5);

    if (victim!.name === 'first') await stack.start('transcoder');
    await second.stop();
  });

  it('(2) Redis restarted mid-chain (append-only file on): every in-flight upload completes', async () => {
    const uploads = [
      await postUpload(stack, clips.short, 'Redis restart A'),
      await postUpload(stack, clips.short, 'Redis restart B', { account: DEV_WALLETS.five }),
    ];
    for (const upload of uploads) {
      await upload.stream.waitFor('upload.received', 30_000);
      await payUpload(stack, upload);
      paidUploads.push(upload.uploadId);
    }
    await uploads[0]!.stream.waitFor('payment.confirmed', 60_000);
    await infra.redis.stop('SIGTERM');
    await sleep(3_000);
    await infra.redis.start();
    for (const upload of uploads) {
      const outcome = await outcomeOf(stack, upload);
      expect(outcome.event, JSON.stringify(outcome)).toBe('profile.saved');
      await expectSavedListing(upload.uploadId);
    }
  });

  it('(3) Postgres stopped while profile-writer works: retried with backoff, saved afterwards', async () => {
    const failedBefore = await metricValue(stack.portOf('profile-writer'), 'reelboard_jobs_failed_total', { channel: 'assets.stored', final: 'false' });
    const upload = await postUpload(stack, clips.short, 'Postgres outage');
    await upload.stream.waitFor('upload.received', 30_000);
    await payUpload(stack, upload);
    paidUploads.push(upload.uploadId);
    await upload.stream.waitFor('video.transcoded', 120_000);
    await infra.postgres.stop();
    await upload.stream.waitFor('assets.stored', 60_000);
    await holdOutage('postgres', stack.portOf('profile-writer'), 'reelboard_jobs_failed_total', { channel: 'assets.stored', final: 'false' }, failedBefore);
    await infra.postgres.start();
    const outcome = await outcomeOf(stack, upload);
    expect(outcome.event, JSON.stringify(outcome)).toBe('profile.saved');
    expect(await metricValue(stack.portOf('profile-writer'), 'reelboard_jobs_failed_total', { channel: 'assets.stored', final: 'false' })).toBeGreaterThan(
      failedBefore,
    );
    await expectSavedListing(upload.uploadId);
  });

  it('(4) the S3 server stopped during uploads: retried, completed, no partial objects left', async () => {
    const failedBefore = await metricValue(stack.portOf('uploader'), 'reelboard_jobs_failed_total', { channel: 'preview.extracted', final: 'false' });
    const upload = await postUpload(stack, clips.short, 'S3 outage', { logo: clips.logo });
    await upload.stream.waitFor('upload.received', 30_000);
    await payUpload(stack, upload);
    paidUploads.push(upload.uploadId);
    await upload.stream.waitFor('video.transcoded', 120_000);
    await infra.s3.stop('SIGKILL');
    await holdOutage('s3', stack.portOf('uploader'), 'reelboard_jobs_failed_total', { channel: 'preview.extracted', final: 'false' }, failedBefore);
    await infra.s3.start();
    const outcome = await outcomeOf(stack, upload);
    expect(outcome.event, JSON.stringify(outcome)).toBe('profile.saved');
    expect(await metricValue(stack.portOf('uploader'), 'reelboard_jobs_failed_total', { channel: 'preview.extracted', final: 'false' })).toBeGreaterThan(
      failedBefore,
    );
    // Exactly the four objects, each whole: the video plays for the source's length.
    expect(await storedKeys(upload.uploadId)).toEqual(['logo.webp', 'poster.webp', 'preview.webm', 'video.webm']);
    const video = join(work, 's3-outage.webm');
    await copyFile(join(infra.bucketDir, 'listings', upload.uploadId, 'video.webm._S3rver_object'), video);
    expect(Math.abs(Number((await ffprobe(video)).format.duration) - 2)).toBeLessThanOrEqual(0.5);
    await expectSavedListing(upload.uploadId);
  });

  it('(5) the RPC unreachable: payment-watcher resumes, confirms, and misses no payment (also one never submitted)', async () => {
    const submitted = await postUpload(stack, clips.short, 'RPC outage, hash sent');
    const tabClosed = await postUpload(stack, clips.short, 'RPC outage, tab closed', { account: DEV_WALLETS.four });
    for (const upload of [submitted, tabClosed]) await upload.stream.waitFor('upload.received', 30_000);
    await payUpload(stack, submitted);
    await payUpload(stack, tabClosed, false);
    paidUploads.push(submitted.uploadId, tabClosed.uploadId);
    // Mined first: a node's restart may drop its mempool, but never a mined block (--state).
    for (const upload of [submitted, tabClosed]) await waitMined(stack.env.RPC_URL ?? '', upload.txHash!);
    const rpcErrorsBefore = await metricValue(stack.portOf('payment-watcher'), 'reelboard_rpc_errors_total', {});
    await infra.anvil.stop('SIGTERM');
    const confirmedBeforeOutage = [submitted, tabClosed].filter((u) => u.stream.events.some((e) => e.name === 'payment.confirmed'));
    await holdOutage('anvil', stack.portOf('payment-watcher'), 'reelboard_rpc_errors_total', {}, rpcErrorsBefore);
    await infra.anvil.start();
    for (const upload of [submitted, tabClosed]) {
      const outcome = await outcomeOf(stack, upload);
      expect(outcome.event, JSON.stringify(outcome)).toBe('profile.saved');
      await expectSavedListing(upload.uploadId);
      const payment = await db('payments').where({ upload_id: upload.uploadId }).first();
      expect(payment.tx_hash).toBe(upload.txHash?.toLowerCase());
    }
    // The outage hit before the confirmations were in (4 blocks of 1 s): the watcher confirmed after it.
    expect(confirmedBeforeOutage).toEqual([]);
  });

  it('(6) SIGTERM to each service under load: exits 0, work finishes or is handed back, nothing half-written', async () => {
    const long = await postUpload(stack, clips.long, 'SIGTERM long');
    const short = await postUpload(stack, clips.short, 'SIGTERM short', { account: DEV_WALLETS.six, logo: clips.logo });
    for (const upload of [long, short]) {
      await upload.stream.waitFor('upload.received', 30_000);
      await payUpload(stack, upload);
      paidUploads.push(upload.uploadId);
    }
    const exits: Record<string, number | null> = {};
    const orphans: number[] = [];
    const restart = async (name: (typeof SERVICES)[number]) => {
      const children = descendantsOf(stack.pidOf(name) ?? 0);
      exits[name] = await stack.stop(name, 'SIGTERM');
      orphans.push(...children.filter(isAlive));
      await stack.start(name);
    };
    await restart('payment-watcher');
    await progressFrom(long.stream, 'transcoder');
    // Mid-encode: the grace period (4 s) is shorter than the encode, so ffmpeg is stopped and the job handed back.
    // The first report (0 %) goes out just before ffmpeg is spawned: wait for the encoder itself.
    const encoding = Date.now() + 30_000;
    while (descendantsOf(stack.pidOf('transcoder') ?? 0).length === 0 && Date.now() < encoding) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(descendantsOf(stack.pidOf('transcoder') ?? 0).length).toBeGreaterThan(0);
    await restart('transcoder');
    await short.stream.waitFor('video.transcoded', 120_000);
    await restart('preview-extractor');
    await short.stream.waitFor('preview.extracted', 120_000);
    await restart('uploader');
    await short.stream.waitFor('assets.stored', 120_000);
    await restart('profile-writer');
    await restart('api-gateway');
    await restart('notifier');
    expect(exits).toEqual(Object.fromEntries(SERVICES.map((name) => [name, 0])));
    // No ffmpeg outlived its transcoder to keep writing into staging.
    expect(orphans).toEqual([]);

    for (const upload of [long, short]) {
      const outcome = await outcomeOf(stack, upload);
      expect(outcome.event, JSON.stringify(outcome)).toBe('profile.saved');
      await expectSavedListing(upload.uploadId);
    }
    // The interrupted encode ran again (handed back, not lost) and finished once.
    const job = await bus.queue('payment.confirmed').getJob(`${long.uploadId}.payment.confirmed`);
    expect(await job?.getState()).toBe('completed');
    expect(job?.attemptsStarted).toBeGreaterThanOrEqual(2);
    const video = join(work, 'sigterm.webm');
    await copyFile(join(infra.bucketDir, 'listings', long.uploadId, 'video.webm._S3rver_object'), video);
    expect(Math.abs(Number((await ffprobe(video)).format.duration) - LONG_CLIP_SECONDS)).toBeLessThanOrEqual(0.5);
    expect(await storedKeys(short.uploadId)).toEqual(['logo.webp', 'poster.webp', 'preview.webm', 'video.webm']);
    // No ffmpeg left running by a stopped transcoder, and no .part file in staging.
    const leftovers = await readdir(stack.stagingDir, { recursive: true });
    expect(leftovers.filter((file) => String(file).endsWith('.part'))).toEqual([]);
  });

  it('(7) a stage failing for good after payment: failed with stage and reason, recorded unfulfilled, listed and retried by the operator', async () => {
    const upload = await postUpload(stack, clips.garbage, 'Undecodable after payment');
    await upload.stream.waitFor('upload.received', 30_000);
    await payUpload(stack, upload);
    paidUploads.push(upload.uploadId);
    const outcome = await outcomeOf(stack, upload);
    expect(outcome).toMatchObject({ event: 'failed', state: 'failed', stage: 'transcoder' });
    expect(outcome.reason).toMatch(/^transcoder: .+/);

    let payment: Record<string, unknown> | undefined;
    for (let i = 0; i < 60 && payment?.status !== 'unfulfilled'; i++) {
      payment = await db('payments').where({ upload_id: upload.uploadId }).first();
      if (payment?.status !== 'unfulfilled') await sleep(500);
    }
    expect(payment).toMatchObject({ status: 'unfulfilled', failed_stage: 'transcoder', listing_id: null, tx_hash: upload.txHash?.toLowerCase() });
    expect(String(payment?.failure_reason)).not.toBe('');

    const cli = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'scripts/failed-uploads.ts', ...args], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', REDIS_URL: stack.env.REDIS_URL ?? '', REDIS_PREFIX: stack.env.REDIS_PREFIX ?? '' },
      });
    const listed = (await cli('list')).stdout;
    const line = listed.split('\n').find((l) => l.includes(upload.uploadId));
    expect(line, listed).toMatch(/transcoder\s+PAID/);

    // The operator replaces the source with a good file, then retries the failed stage.
    await copyFile(clips.short, join(stack.stagingDir, upload.uploadId, 'source'));
    expect((await cli('retry', upload.uploadId)).stdout).toContain(`${upload.uploadId}: retrying transcoder`);
    const retried = await outcomeOf(stack, upload);
    expect(retried.event, JSON.stringify(retried)).toBe('profile.saved');
    await expectSavedListing(upload.uploadId);
    expect((await cli('list')).stdout).not.toContain(upload.uploadId);
  });

  it('(8) payment-watcher replicas SIGKILLed at random and Redis restarted while uploads are paid: each ends saved once, reconciliation finds nothing', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? 20261201);
    const result = await runPaymentChaos({
      stack,
      redis: infra.redis,
      db,
      video: clips.short,
      uploads: 6,
      seed,
      log: (line) => process.stdout.write(`[payment chaos seed ${seed}] ${line}\n`),
    });
    paidUploads.push(...result.uploads);
    expect(result.events.some((e) => e.includes('SIGKILL'))).toBe(true);
    expect(result.events.some((e) => e.includes('redis: back'))).toBe(true);
    expect(result.wrong, JSON.stringify(result.outcomes)).toEqual([]);
    expect(result.reconcile, result.reconcile.stdout).toMatchObject({ code: 0, stdout: expect.stringContaining('the ledger matches the chain') });
  });

  it('nothing lost: every confirmed payment of these runs ended as a listing or a recorded unfulfilled payment', async () => {
    expect(paidUploads.length).toBeGreaterThanOrEqual(10);
    expect(await unaccountedPayments(db, paidUploads)).toEqual([]);
    // And no payment row in the database is orphaned either.
    const orphans = await db('payments').whereNull('listing_id').whereNot({ status: 'unfulfilled' }).whereIn('status', ['paid']);
    expect(orphans).toEqual([]);
  });
});
