// The scale-in drill: two transcoder replicas share a paid upload's ladder, one (rung, chunk) job
// each at a time; the one running ffmpeg is sent SIGTERM mid-encode, as Kubernetes does when KEDA
// scales in or a node drains. It must stop taking jobs, finish its chunk if the grace allows or hand
// it back (to wait, no attempt used), and exit 0; the upload must end `saved`, and no chunk be
// encoded from zero more than twice. The suite runs it once (test/faults/scale-in.test.ts);
// scripts/drill-scale-in.ts runs it as a report.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { connectRedis } from '@reelboard/bus';
import { repoRoot } from '@reelboard/testkit/infra-env';
import type { Stack } from '@reelboard/testkit/stack';
import { descendantsOf, outcomeOf, payUpload, postUpload } from './support.js';

export interface ScaleInDrillOptions {
  /** A stack started with the ladder chunked (CHUNK_SECONDS, CHUNK_THRESHOLD_SECONDS) and the grace under test (SHUTDOWN_GRACE_MS). */
  stack: Stack;
  /** The video the upload sends: long enough for several chunks. */
  video: string;
  /** Each step, with its time from the start. */
  log: (line: string) => void;
  /** How long the upload may take to end after the SIGTERM. */
  timeoutMs?: number;
}

/** One (rung, chunk) job of the upload's ladder, from its BullMQ record. */
export interface ChunkRecord {
  /** `240p#1`, `240p#0+1` (chunks side by side in one job), or `audio`. */
  part: string;
  state: string;
  /** Times a replica took it (moved to active): each is an encode from zero unless a whole output was found. */
  runs: number;
  /** Attempts that failed (a hand-back uses none; the one that completed is not counted). */
  failedAttempts: number;
}

export interface ScaleInDrillResult {
  uploadId: string;
  /** The upload's final status event. */
  outcome: string;
  /** Which replica was stopped (the stack's own or the extra one), and its exit code. */
  victim: string;
  victimExit: number | null;
  /** Seconds from the SIGTERM to the victim's exit. */
  secondsToExit: number;
  /** Jobs the victim handed back (its log), and chunks it finished after the SIGTERM. */
  handedBack: number;
  finishedInGrace: number;
  chunks: ChunkRecord[];
  /** The most jobs of the slot queues each replica ran at once (its log), against its limit. */
  mostAtOnce: Record<string, number>;
  limit: number;
  /** Seconds from payment to the upload's end, and from the SIGTERM to it. */
  secondsToSaved: number;
  secondsAfterSigterm: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The queues that share a replica's TRANSCODE_CONCURRENCY slots. */
const SLOT_QUEUES = new Set(['payment.confirmed', 'video.chunk', 'rendition.join', 'video.assemble']);
/** The bus's log lines that end a run of a job on a replica. */
const RUN_ENDS = new Set([
  'stage finished',
  'stage waits for its children',
  'stage interrupted by shutdown; job handed back',
  'stage failed, will retry',
  'stage gave up',
]);

/** The most jobs of the slot queues a replica ran at once, from its log's start and end lines. */
export function mostAtOnce(lines: Array<Record<string, unknown>>): number {
  const steps = lines
    .filter((line) => SLOT_QUEUES.has(String(line.channel)) && (line.message === 'stage started' || RUN_ENDS.has(String(line.message))))
    .map((line) => ({ at: Date.parse(String(line.timestamp)), step: line.message === 'stage started' ? 1 : -1 }))
    // An end and a start in the same millisecond: the end first (the slot was given back).
    .sort((a, b) => a.at - b.at || a.step - b.step);
  let running = 0;
  let most = 0;
  for (const { step } of steps) {
    running += step;
    most = Math.max(most, running);
  }
  return most;
}

/** The `video.chunk` jobs a replica's log shows started and not yet ended. */
function runningChunks(lines: Array<Record<string, unknown>>): number {
  return lines
    .filter((line) => line.channel === 'video.chunk')
    .reduce((running, line) => running + (line.message === 'stage started' ? 1 : RUN_ENDS.has(String(line.message)) ? -1 : 0), 0);
}

/** The log lines a replica wrote about one upload since `since` (its file is appended to across runs). */
async function logLines(logName: string, uploadId: string, since: number): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(repoRoot, 'test-artifacts', 'logs', `${logName}.log`), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.includes(uploadId))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    })
    .filter((entry) => Date.parse(String(entry.timestamp)) >= since);
}

export async function runScaleInDrill({ stack, video, log, timeoutMs = 300_000 }: ScaleInDrillOptions): Promise<ScaleInDrillResult> {
  const started = Date.now();
  const note = (line: string) => log(`t+${((Date.now() - started) / 1000).toFixed(1)}s ${line}`);
  const prefix = stack.env.REDIS_PREFIX ?? '';
  const redis = connectRedis(stack.env.REDIS_URL ?? '', 'scale-in-drill');
  const chunkQueue = new Queue('video.chunk', { connection: redis, prefix });
  try {
    const extra = await stack.startExtra('transcoder', 'scale-in');
    const replicas = [
      { name: 'transcoder', pid: stack.pidOf('transcoder') ?? 0, stop: () => stack.stop('transcoder', 'SIGTERM') },
      { name: 'transcoder-scale-in', pid: extra.pid ?? 0, stop: () => extra.stop('SIGTERM') },
    ];
    note(`two transcoder replicas up (pids ${replicas.map((r) => r.pid).join(', ')}), SHUTDOWN_GRACE_MS=${stack.env.SHUTDOWN_GRACE_MS ?? 'default'}`);

    const upload = await postUpload(stack, video, 'Scale-in drill');
    // The end is read by polling (outcomeOf): the stream's own deadline must not fail the run.
    upload.stream.untilEnd.catch(() => undefined);
    await upload.stream.waitFor('upload.received', 60_000);
    await payUpload(stack, upload);
    const paidAt = Date.now();
    note(`upload ${upload.uploadId} posted and paid`);

    // Mid-encode: a chunk is active and one replica has its ffmpeg running.
    let victim: (typeof replicas)[number] | undefined;
    const deadline = Date.now() + 180_000;
    while (!victim && Date.now() < deadline) {
      if ((await redis.llen(`${prefix}:video.chunk:active`)) > 0) {
        // The replica's ffmpeg must be a chunk's: the speculative preview and rung (stopped by the
        // payment) and the paid path's preview cut run ffmpeg too, and none of them is handed back.
        for (const replica of replicas) {
          if (descendantsOf(replica.pid).length === 0) continue;
          if (runningChunks(await logLines(replica.name, upload.uploadId, started)) > 0) victim = replica;
          if (victim) break;
        }
      }
      if (!victim) await sleep(50);
    }
    if (!victim) throw new Error('no replica was encoding a chunk within 180 s of the payment');
    const done = (await chunkQueue.getJobs(['completed'])).filter((job) => job.data?.uploadId === upload.uploadId).length;
    const sigtermAt = Date.now();
    note(`SIGTERM to ${victim.name} (pid ${victim.pid}) while its ffmpeg runs; ${done} chunk job(s) of the upload done so far`);
    const victimExit = await victim.stop();
    const secondsToExit = (Date.now() - sigtermAt) / 1000;
    note(`${victim.name} exited with ${victimExit} after ${secondsToExit.toFixed(1)} s`);

    const outcome = await outcomeOf(stack, upload, timeoutMs);
    const endedAt = Date.now();
    upload.stream.close();
    note(`upload ended: ${outcome.event}${outcome.reason ? ` (${outcome.reason})` : ''}`);

    const jobs = (await chunkQueue.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized'])).filter(
      (job) => job.data?.uploadId === upload.uploadId,
    );
    const chunks: ChunkRecord[] = await Promise.all(
      jobs.map(async (job) => {
        const part = job.data.part as { kind: string; index?: number; rung?: number; rungs?: number[]; alongside?: Array<{ index: number }> };
        const state = await job.getState();
        return {
          part:
            part.kind === 'audio'
              ? 'audio'
              : `${part.rung ?? part.rungs?.join('-') ?? 'single'}p#${[part.index, ...(part.alongside ?? []).map((chunk) => chunk.index)].join('+')}`,
          state,
          runs: job.attemptsStarted,
          // BullMQ counts the attempt that completed too.
          failedAttempts: state === 'completed' ? Math.max(0, job.attemptsMade - 1) : job.attemptsMade,
        };
      }),
    );
    chunks.sort((a, b) => a.part.localeCompare(b.part, 'en', { numeric: true }));
    for (const chunk of chunks) note(`chunk ${chunk.part}: ${chunk.state}, taken ${chunk.runs}x, failed attempts ${chunk.failedAttempts}`);

    const atOnce: Record<string, number> = {};
    for (const replica of replicas) atOnce[replica.name] = mostAtOnce(await logLines(replica.name, upload.uploadId, started));
    note(`most slot-queue jobs run at once: ${JSON.stringify(atOnce)} (limit ${stack.env.TRANSCODE_CONCURRENCY ?? 1})`);
    const lines = await logLines(victim.name, upload.uploadId, sigtermAt);
    const handedBack = lines.filter((line) => line.message === 'stage interrupted by shutdown; job handed back').length;
    // A chunk of the upper rungs (one decode for all of them) logs its own line.
    const FINISHED = new Set(['chunk encoded', 'audio track encoded', 'rung chunks encoded from one decode']);
    const finishedInGrace = lines.filter((line) => FINISHED.has(String(line.message))).length;
    note(`${victim.name} after the SIGTERM: ${finishedInGrace} chunk(s) finished within the grace, ${handedBack} job(s) handed back`);
    return {
      uploadId: upload.uploadId,
      outcome: outcome.event,
      victim: victim.name,
      victimExit,
      secondsToExit,
      handedBack,
      finishedInGrace,
      chunks,
      mostAtOnce: atOnce,
      limit: Number(stack.env.TRANSCODE_CONCURRENCY ?? 1),
      secondsToSaved: (endedAt - paidAt) / 1000,
      secondsAfterSigterm: (endedAt - sigtermAt) / 1000,
    };
  } finally {
    await chunkQueue.close();
    await redis.quit();
  }
}

/** The drill's verdict: each check, whether it held, and what was seen. */
export function scaleInChecks(result: ScaleInDrillResult): Array<[string, boolean, string]> {
  const worst = result.chunks.reduce((most, chunk) => Math.max(most, chunk.runs), 0);
  const failed = result.chunks.filter((chunk) => chunk.failedAttempts > 0 || chunk.state !== 'completed');
  return [
    ['the upload ends `saved`', result.outcome === 'profile.saved', result.outcome],
    ['the stopped replica exits 0', result.victimExit === 0, `exit ${result.victimExit} after ${result.secondsToExit.toFixed(1)} s`],
    ['no chunk encoded from zero more than twice', result.chunks.length > 0 && worst <= 2, `${result.chunks.length} chunk jobs, most runs of one: ${worst}`],
    [
      'every chunk completed with no failed attempt (a hand-back uses none)',
      result.chunks.length > 0 && failed.length === 0,
      failed.length === 0 ? 'all completed' : failed.map((chunk) => `${chunk.part} ${chunk.state}/${chunk.failedAttempts}`).join(', '),
    ],
    [
      'no replica ran more jobs at once than TRANSCODE_CONCURRENCY, across its queues',
      Object.values(result.mostAtOnce).every((most) => most >= 1 && most <= result.limit),
      `${JSON.stringify(result.mostAtOnce)}, limit ${result.limit}`,
    ],
    [
      'the running chunk finished in the grace or was handed back',
      result.finishedInGrace + result.handedBack > 0,
      `${result.finishedInGrace} finished, ${result.handedBack} handed back`,
    ],
  ];
}
