// The payments drill: paid uploads while the payment-watcher replicas are SIGKILLed at random
// moments (seeded, every kill logged) and Redis is restarted once. Every upload must end saved
// exactly once, and reconciliation must find nothing. The suite runs a short version
// (test/faults/faults.test.ts); scripts/chaos-payments.ts runs the long one and writes the report.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Knex } from '@reelboard/db';
import { repoRoot } from '@reelboard/testkit/infra-env';
import type { PrivateEngine } from '@reelboard/testkit/private-infra';
import type { ExtraReplica, Stack } from '@reelboard/testkit/stack';
import { outcomeOf, type PostedUpload, payUpload, postUpload } from './support.js';

/** A small seeded PRNG (mulberry32): the same seed replays the same kills. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PaymentChaosOptions {
  stack: Stack;
  redis: PrivateEngine;
  db: Knex;
  /** The video every upload sends (short, so the drill is about payments, not encoding). */
  video: string;
  uploads: number;
  seed: number;
  /** Every kill and restart, with its time from the start. */
  log: (line: string) => void;
}

export interface PaymentChaosResult {
  uploads: string[];
  events: string[];
  /** Each upload's last status event. */
  outcomes: Record<string, string>;
  /** Uploads that did not end with exactly one listing and one paid, linked payment. */
  wrong: string[];
  reconcile: { code: number; stdout: string };
  seconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runPaymentChaos({ stack, redis, db, video, uploads: count, seed, log }: PaymentChaosOptions): Promise<PaymentChaosResult> {
  const random = seededRandom(seed);
  const started = Date.now();
  const events: string[] = [];
  const note = (line: string) => {
    const entry = `t+${((Date.now() - started) / 1000).toFixed(1)}s ${line}`;
    events.push(entry);
    log(entry);
  };
  // Two replicas: the stack's own and one more, each killed and restarted by the loop below.
  let extra: ExtraReplica | undefined = await stack.startExtra('payment-watcher', `chaos-${seed}`);
  let extraRound = 0;
  // Set when a Redis restart begins, not when it ends: the loop below and the forced restart after the
  // payments once both restarted it, the second stopping Redis while the first was starting it.
  let redisRestarted = false;
  let stopping = false;

  const chaos = (async () => {
    while (!stopping) {
      await sleep(1_500 + random() * 3_000);
      if (stopping) break;
      if (!redisRestarted && random() < 0.25) {
        redisRestarted = true;
        note('redis: SIGTERM (append-only file on), restart in 2 s');
        await redis.stop('SIGTERM');
        await sleep(2_000);
        await redis.start();
        note('redis: back');
        continue;
      }
      const victim = random() < 0.5 ? 'main' : 'extra';
      const downMs = 300 + Math.floor(random() * 2_000);
      if (victim === 'main') {
        note(`payment-watcher (main, pid ${stack.pidOf('payment-watcher')}): SIGKILL, restart in ${downMs} ms`);
        await stack.stop('payment-watcher', 'SIGKILL');
        await sleep(downMs);
        await stack.start('payment-watcher');
      } else if (extra) {
        note(`payment-watcher (extra, pid ${extra.pid}): SIGKILL, restart in ${downMs} ms`);
        await extra.stop('SIGKILL');
        await sleep(downMs);
        extra = await stack.startExtra('payment-watcher', `chaos-${seed}-${++extraRound}`);
      }
    }
  })();

  const posted: PostedUpload[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const upload = await postUpload(stack, video, `Chaos ${seed}/${i}`);
      // Half send their hash (the fast path), half leave it to the deposit passes (a closed tab).
      await payUpload(stack, upload, i % 2 === 0);
      posted.push(upload);
    }
    if (!redisRestarted) {
      redisRestarted = true;
      note('redis: SIGTERM (append-only file on), restart in 2 s (none happened at random yet)');
      await redis.stop('SIGTERM');
      await sleep(2_000);
      await redis.start();
      note('redis: back');
    }
    const outcomes: Record<string, string> = {};
    for (const upload of posted) outcomes[upload.uploadId] = (await outcomeOf(stack, upload, 600_000)).event;
    stopping = true;
    await chaos;
    for (const upload of posted) upload.stream.close();

    const wrong: string[] = [];
    for (const upload of posted) {
      const listings = await db('listings').where({ id: upload.uploadId });
      const payments = await db('payments').where({ upload_id: upload.uploadId });
      const ok =
        outcomes[upload.uploadId] === 'profile.saved' &&
        listings.length === 1 &&
        payments.length === 1 &&
        payments[0].status === 'paid' &&
        payments[0].listing_id === upload.uploadId;
      if (!ok) wrong.push(upload.uploadId);
    }
    const reconcile = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/payments.ts', 'reconcile', '--settle-seconds', '30'], {
      cwd: repoRoot,
      env: { ...process.env, ...stack.env },
      timeout: 180_000,
    }).then(
      (out) => ({ code: 0, stdout: out.stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
    return { uploads: posted.map((u) => u.uploadId), events, outcomes, wrong, reconcile, seconds: (Date.now() - started) / 1000 };
  } finally {
    stopping = true;
    await chaos.catch(() => undefined);
    if (!stack.pidOf('payment-watcher')) await stack.start('payment-watcher').catch(() => undefined);
    await extra?.stop('SIGTERM');
  }
}
