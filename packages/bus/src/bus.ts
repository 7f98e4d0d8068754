import {
  DelayedError,
  type FlowJob,
  FlowProducer,
  type Job,
  type JobsOptions,
  type MinimalJob,
  Queue,
  UnrecoverableError,
  WaitingChildrenError,
  WaitingError,
  Worker,
} from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type Channel,
  type ChannelPolicy,
  ContractError,
  isChannel,
  type PayloadOf,
  parsePayload,
  type QueueName,
  queues as queueTable,
  type ServiceQueue as ServiceQueueName,
  type StatusCode,
  type StatusEventName,
  serviceQueues,
  type UploadState,
} from '@reelboard/contracts';
import { errorFields, forUpload, type Logger } from '@reelboard/logger';
import { PermanentError, RetryLaterError } from './errors.js';
import { jobDuration, jobsCompleted, jobsFailed, jobsStarted, type QueueSource, unwatchQueues, watchQueues } from './metrics.js';
import { assertUsableRedis, connectRedis, type RedisSettings } from './redis.js';
import { type SharedSlots, SharedSlotWorker } from './shared-slots.js';

/** What a stage says about an upload; the status store adds the sequence number, the time and the upload's state. */
export interface StatusInput {
  uploadId: string;
  event: StatusEventName;
  stage: string;
  /**
   * Only for an upload the lifecycle holds no state for (never registered, e.g. a listing saved
   * before the status store existed): the state to report. Otherwise events carry the stored state.
   */
  state?: UploadState;
  progress?: number;
  reason?: string;
  /** The event's typed code (statusEventCodes): required on the events that have one, refused on others. */
  code?: StatusCode;
  message?: string;
  /** On `rendition.ready`: the rung's height (name) and the manifest's key. */
  rendition?: { height: number; manifest: string };
}

/**
 * Where the bus reports its stages' status events. packages/lifecycle's StatusStore is the one
 * implementation: the lifecycle owns states and their events, the bus only carries them, so it
 * takes the store from outside rather than importing it.
 */
export interface StatusSink {
  /** Publishes a status event; returns its sequence number, or 0 if the upload's state dropped it. */
  publish(input: StatusInput): Promise<number>;
  /** Removes status log entries past their retention (the bus's periodic sweep calls it). */
  trimLog(): Promise<void>;
  close(): Promise<void>;
}

/** What a stage's handler gets besides its payload. */
export interface StageContext {
  /** Logger whose every line carries the service and the upload id. */
  log: Logger;
  /** 1 on the first try. */
  attempt: number;
  /** Reports the matching status event, then adds the next channel's job (deterministic id). */
  emit<N extends Channel>(next: N, payload: PayloadOf<N>): Promise<void>;
  /** Aborted when the service shuts down and its grace period ran out: stop (kill ffmpeg); the job is handed back. */
  signal?: AbortSignal;
  /** Reports a status event for this upload, from this stage (it carries the upload's current state). */
  status(event: StatusEventName, extra?: Pick<StatusInput, 'progress' | 'reason' | 'code' | 'message' | 'rendition'>): Promise<void>;
  /**
   * Adds a flow: a parent job that runs once every child job has completed (see Bus.publishFlow).
   * The parent's handler reads the children's results with `childrenValues`. (The flow members are
   * optional so single-job stages' unit-test contexts need not fake them; the bus always sets them.)
   */
  emitFlow?<P extends Channel, K extends Channel>(parent: FlowStep<P>, children: FlowStep<K>[]): Promise<void>;
  /** The values the children of this job's flow returned, keyed by BullMQ job key (empty for a job with no children). */
  childrenValues?(): Promise<Record<string, unknown>>;
  /**
   * For a flow's parent: if some of its children are not done (an operator retried a failed child
   * and the parent with it), puts the job back to wait for them and ends this run without using an
   * attempt (BullMQ moveToWaitingChildren); it runs again once they are done. Returns when none is pending.
   */
  waitForChildren?(): Promise<void>;
  /**
   * Records this job's part of a shared piece of work (percent, 0-100, never lowered) and returns the
   * whole's percent, weighted: the parts of a flow run on different replicas, and each reports the sum.
   * Returns -1 when another part already reported a higher whole (publish nothing then).
   */
  shareProgress?(work: string, part: string, percent: number, weights: Record<string, number>): Promise<number>;
}

/** One job of a flow: its channel and payload (its job id comes from the channel's row). */
export interface FlowStep<C extends Channel> {
  channel: C;
  payload: PayloadOf<C>;
  /** BullMQ priority (1 is taken first; a job without one before any with one): a ladder's lowest rung first. */
  priority?: number;
  /** Jobs this one waits for (a nested flow: a rung's join waits for its chunks and the rung below). */
  children?: FlowStep<Channel>[];
}

/**
 * What a service does when one of its stages gives up on a job for good, following the channel's
 * `giveUp` policy (packages/lifecycle provides it: the bus only transports).
 */
export type GiveUpHandler = (channel: Channel, payload: unknown, error: Error, context: StageContext) => Promise<void>;

/** A stage's logic; what it returns is kept as the job's value (a flow's parent reads its children's). */
export type StageHandler<C extends QueueName> = (payload: PayloadOf<C>, context: StageContext) => Promise<unknown>;

export interface ConsumeOptions {
  /** Jobs this replica runs at once; a replica never takes more. */
  concurrency: number;
  /** Slots shared with other queues this replica consumes: all of them together run at most `slots.limit` jobs. */
  slots?: SharedSlots;
}

/** How a replica holds its jobs: a job whose holder stops renewing its lock (killed, frozen) goes back to the queue. */
export interface JobTiming {
  /** How long a running job's lock lasts; the worker renews it at half this. BullMQ's default is 30 s. */
  lockMs?: number;
  /** How often a worker looks for jobs whose lock expired (stalled) and hands them back. BullMQ's default is 30 s. */
  stalledIntervalMs?: number;
  /** How many times a job may stall (its worker died) before it fails for good, through the give-up path. BullMQ's default is 1. */
  maxStalledCount?: number;
}

/** The reason BullMQ's stalled checker gives a job it fails for good. */
const STALLED_FOR_GOOD = 'job stalled more than allowable limit';

/** How long finished jobs are kept by default, so a deterministic job id keeps deduplicating re-publishes. */
const KEEP_COMPLETED_SECONDS = 7 * 24 * 3600;
const KEEP_FAILED_SECONDS = 30 * 24 * 3600;

/** How long what the bus writes stays in Redis (REDIS_*_TTL_SECONDS); every default is in docs/operations.md. */
export interface Retention {
  /** An upload's status hash and history, counted from its last event (the status store's). */
  uploadSeconds?: number;
  /** Entries of the status log stream (the status store's). */
  statusLogSeconds?: number;
  /** A completed job (its id keeps deduplicating re-publishes for this long). */
  completedJobSeconds?: number;
  /** A job that failed for good (kept for operators). */
  failedJobSeconds?: number;
}

/** BullMQ's per-queue event stream cap (its default is 10,000): a fixed ceiling, whatever the traffic. */
export const EVENTS_STREAM_LENGTH = 1_000;
/** Jobs removed per clean call; calls repeat while a full batch came back. */
const CLEAN_BATCH = 1_000;

/**
 * Removes finished jobs older than the retention from `queues` now. BullMQ applies removeOnComplete's
 * age only when another job of the queue finishes, so on a queue that went quiet old jobs would stay
 * for ever; every consuming replica runs this periodically (Bus.consume starts it). Returns how many went.
 */
export async function sweepFinishedJobs(queues: Queue[], retention: Retention = {}): Promise<number> {
  const { removeOnComplete, removeOnFail } = finishedJobRemoval(retention);
  let removed = 0;
  for (const queue of queues) {
    for (const [type, age] of [
      ['completed', removeOnComplete.age],
      ['failed', removeOnFail.age],
    ] as const) {
      for (;;) {
        const batch = await queue.clean(age * 1000, CLEAN_BATCH, type);
        removed += batch.length;
        if (batch.length < CLEAN_BATCH) break;
      }
    }
  }
  return removed;
}

/** How often a replica sweeps: a tenth of the shortest retention, between 1 s and 10 min. */
export function sweepIntervalMs(retention: Retention = {}): number {
  const { removeOnComplete, removeOnFail } = finishedJobRemoval(retention);
  const shortest = Math.min(removeOnComplete.age, removeOnFail.age, retention.statusLogSeconds ?? Infinity);
  return Math.min(600_000, Math.max(1_000, (shortest * 1000) / 10));
}

/** BullMQ's removeOnComplete/removeOnFail for a retention: by age, so a job id deduplicates for that long. */
export function finishedJobRemoval(retention: Retention = {}): { removeOnComplete: { age: number }; removeOnFail: { age: number } } {
  return {
    removeOnComplete: { age: retention.completedJobSeconds ?? KEEP_COMPLETED_SECONDS },
    removeOnFail: { age: retention.failedJobSeconds ?? KEEP_FAILED_SECONDS },
  };
}
/** After the grace period, how long aborted handlers get to hand their jobs back before workers are force-closed. */
const HAND_BACK_MS = 3_000;
/** How long the parts' progress of a shared piece of work is kept. */
const SHARED_PROGRESS_TTL_SECONDS = 24 * 3600;

// Keeps the highest percent of each part (a re-run part starts from 0 again, the whole must not go
// back), computes the weighted whole (ARGV[4]: weights as JSON) and claims it for publishing: a whole
// below the last one claimed (another replica's newer report) returns -1 and is not published.
const SHARE_PROGRESS_SCRIPT = `
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if tonumber(ARGV[2]) > old then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
local total, done = 0, 0
for part, weight in pairs(cjson.decode(ARGV[4])) do
  total = total + weight
  done = done + weight * tonumber(redis.call('HGET', KEYS[1], part) or '0')
end
local whole = 0
if total > 0 then whole = math.min(100, math.floor(done / total)) end
local claimed = tonumber(redis.call('HGET', KEYS[1], '_published') or '-1')
if whole < claimed then return -1 end
redis.call('HSET', KEYS[1], '_published', whole)
return whole
`;

/** True if `work` is still pending after `ms`. */
async function outlasts(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    work.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), ms);
    }),
  ]);
  clearTimeout(timer);
  return timedOut;
}

/**
 * The work channels of the chain as durable BullMQ queues (one per channel; its consumer owns it)
 * plus the status store it is given. Publishing validates the payload against the channel's contract.
 */
export class Bus<S extends StatusSink = StatusSink> implements QueueSource {
  private readonly queues = new Map<QueueName, Queue>();
  private readonly workers: Worker[] = [];
  private readonly consumed = new Set<QueueName>();
  private sweeper: NodeJS.Timeout | undefined;
  private flows: FlowProducer | undefined;
  private readonly shuttingDown = new AbortController();
  /** Jobs this replica's handlers are running, with their lock tokens: what a shutdown hands back. */
  private readonly running = new Map<Job, string | undefined>();
  /** Jobs already handed back by close() while their handler still ran (its own hand-back is then skipped). */
  private readonly handedBack = new WeakSet<Job>();
  private giveUp: GiveUpHandler;

  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
    private readonly service: string,
    private readonly log: Logger,
    /** The status store (packages/lifecycle's StatusStore; `createBus` there makes both). */
    readonly status: S,
    /** Per-channel changes to the retry policy table (operators tune them; tests shorten them). */
    private readonly policyOverrides: Partial<Record<QueueName, Partial<ChannelPolicy>>> = {},
    /** Lock and stalled-check periods of this replica's workers (JOB_LOCK_MS, JOB_STALLED_INTERVAL_MS). */
    private readonly timing: JobTiming = {},
    /** How long finished jobs, upload records and the status log are kept (REDIS_*_TTL_SECONDS). */
    readonly retention: Retention = {},
  ) {
    watchQueues(this);
    this.giveUp = async (channel, _payload, error, context) => {
      context.log.error('stage gave up; no give-up handler is set', { channel, error: error.message });
    };
  }

  /** Sets what happens when a stage gives up for good (packages/lifecycle's policy executor). */
  onGiveUp(handler: GiveUpHandler): void {
    this.giveUp = handler;
  }

  /** Every queue of the table (created on first use): /metrics and the dashboard report them all from any service. */
  watchedQueues(): Queue[] {
    return (Object.keys(queueTable) as QueueName[]).map((name) => this.queue(name));
  }

  /** Changes a queue's retry policy for the jobs this replica adds from now on (a service's own settings, e.g. PUSH_ATTEMPTS). */
  overridePolicy(name: QueueName, policy: Partial<ChannelPolicy>): void {
    this.policyOverrides[name] = { ...this.policyOverrides[name], ...policy };
  }

  /** The retry policy in force for a queue. */
  policy(name: QueueName): ChannelPolicy {
    return { ...queueTable[name].policy, ...this.policyOverrides[name] };
  }

  /** The queue of a row of the table (for publishing, inspection and the dashboard). */
  queue(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, {
        connection: this.redis,
        prefix: this.prefix,
        // Nothing reads BullMQ's per-queue event stream (no QueueEvents): keep it short.
        streams: { events: { maxLen: EVENTS_STREAM_LENGTH } },
        defaultJobOptions: this.rowJobOptions(name),
      });
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Retries and retention of a queue's jobs, from its row (and the policy overrides). */
  private rowJobOptions(name: QueueName): JobsOptions {
    const policy = this.policy(name);
    const keepLast = (queueTable[name] as { keepLast?: { completed: number; failed: number } }).keepLast;
    return {
      attempts: policy.attempts,
      // A type BullMQ does not know sends it to the worker's backoffStrategy (consume sets one).
      backoff: { type: policy.backoff === 'retry-after' ? RETRY_AFTER_BACKOFF : 'exponential', delay: policy.backoffMs },
      ...(keepLast ? { removeOnComplete: { count: keepLast.completed }, removeOnFail: { count: keepLast.failed } } : finishedJobRemoval(this.retention)),
    };
  }

  /** Adds a job to a queue of the table. Publishing the same payload twice leaves one job (the row's job id). */
  async publish<C extends QueueName>(channel: C, payload: PayloadOf<C>, options: { delayMs?: number } = {}): Promise<void> {
    await this.addJob(channel, parsePayload(channel, payload), options);
  }

  /** Adds a payload already checked against its channel's contract. */
  private async addJob<C extends QueueName>(channel: C, valid: PayloadOf<C>, options: { delayMs?: number } = {}): Promise<void> {
    // The options in force now, not the queue's defaults: a policy override set after the queue was made still counts.
    await this.queue(channel).add(channel, valid, { ...this.jobOptions(channel, valid), ...(options.delayMs ? { delay: options.delayMs } : {}) });
  }

  /** A job's options from its channel's row: deterministic id, retries, how long it is kept. */
  private jobOptions<C extends QueueName>(channel: C, payload: PayloadOf<C>): JobsOptions & { jobId: string } {
    return { jobId: (queueTable[channel].jobId as (p: PayloadOf<C>) => string)(payload), ...this.rowJobOptions(channel) };
  }

  /**
   * Feeds a scheduled queue (a row with a `scheduler` id) from a BullMQ job scheduler: every replica
   * upserts the same scheduler, so each slot is one job however many replicas run, and one consumer
   * takes it. `every` (ms) or a cron `pattern` read in the time zone `tz`.
   */
  async schedule(name: ServiceQueueName, repeat: { every: number } | { pattern: string; tz?: string }): Promise<void> {
    const scheduler = (serviceQueues[name] as { scheduler?: string }).scheduler;
    if (!scheduler) throw new Error(`queue ${name} has no scheduler id in its row (packages/contracts/src/channels.ts); add one to schedule it`);
    await this.queue(name).upsertJobScheduler(scheduler, repeat, { name, data: {}, opts: this.rowJobOptions(name) });
  }

  /**
   * Adds a BullMQ flow: the children go to their channels' queues at once (every consumer replica
   * shares them), the parent waits and runs when all of them have completed. Job ids come from the
   * channels' rows, so adding the same flow again (a retried stage) adds nothing. A child that fails
   * for good takes its channel's give-up path and fails the parent with it (it never runs).
   */
  async publishFlow<P extends Channel, K extends Channel>(parent: FlowStep<P>, children: FlowStep<K>[]): Promise<void> {
    const parentPayload = parsePayload(parent.channel, parent.payload);
    const parentOptions = this.jobOptions(parent.channel, parentPayload);
    // A flow added before (a retried stage) is left as it is: its finished children are not run again.
    if (await this.queue(parent.channel).getJob(parentOptions.jobId)) return;
    this.flows ??= new FlowProducer({ connection: this.redis, prefix: this.prefix });
    await this.flows.add({
      name: parent.channel,
      queueName: parent.channel,
      data: parentPayload,
      opts: parentOptions,
      children: children.map((child) => this.flowChild(child)),
    });
  }

  /** A flow's child, and its own children (nested flows): a failure fails every job above it. */
  private flowChild(child: FlowStep<Channel>): FlowJob {
    const payload = parsePayload(child.channel, child.payload);
    return {
      name: child.channel,
      queueName: child.channel,
      data: payload,
      opts: { ...this.jobOptions(child.channel, payload), failParentOnFailure: true, ...(child.priority ? { priority: child.priority } : {}) },
      ...(child.children?.length ? { children: child.children.map((grandchild) => this.flowChild(grandchild)) } : {}),
    };
  }

  /** Starts consuming a work channel with `handler`; payloads are validated before it runs. */
  consume<C extends QueueName>(channel: C, handler: StageHandler<C>, options: ConsumeOptions): Worker {
    const processor = async (job: Job, token?: string) => this.run(channel, job, token, handler);
    const workerOptions = {
      connection: this.redis,
      prefix: this.prefix,
      concurrency: options.concurrency,
      autorun: true,
      ...(this.timing.lockMs ? { lockDuration: this.timing.lockMs } : {}),
      ...(this.timing.stalledIntervalMs ? { stalledInterval: this.timing.stalledIntervalMs } : {}),
      ...(this.timing.maxStalledCount !== undefined ? { maxStalledCount: this.timing.maxStalledCount } : {}),
      settings: { backoffStrategy: retryAfterBackoff },
    };
    const worker = options.slots ? new SharedSlotWorker(channel, processor, workerOptions, options.slots) : new Worker(channel, processor, workerOptions);
    worker.on('error', (error) => this.log.error('worker error', { channel, ...errorFields(error) }));
    // A job whose workers kept dying is failed by the stalled checker without running the handler's
    // catch: it takes the same give-up path as any other final failure.
    worker.on('failed', (job, error) => {
      if (!job || error?.message !== STALLED_FOR_GOOD) return;
      const rawId = (job.data as { uploadId?: unknown })?.uploadId;
      const context = this.contextFor(typeof rawId === 'string' ? rawId : 'unknown', job.attemptsMade + 1);
      context.log.warn('stage gave up: its workers kept dying', { channel, jobId: job.id });
      jobsFailed.inc({ channel, final: 'true' });
      this.giveUpOn(channel, job.data, error, context).catch((giveUpError: unknown) =>
        context.log.error('give-up after stalls failed', {
          channel,
          ...errorFields(giveUpError instanceof Error ? giveUpError : new Error(String(giveUpError))),
        }),
      );
    });
    this.workers.push(worker);
    this.consumed.add(channel);
    this.startSweeper();
    return worker;
  }

  /** Periodically removes this replica's channels' finished jobs past their retention, and trims the status log. */
  private startSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      this.sweep().catch((error: unknown) =>
        this.log.warn('sweeping finished jobs failed', errorFields(error instanceof Error ? error : new Error(String(error)))),
      );
    }, sweepIntervalMs(this.retention));
    this.sweeper.unref();
  }

  /** One sweep now: finished jobs of the channels this replica consumes, and status log entries past their retention. */
  async sweep(): Promise<number> {
    // Queues that keep their last runs by count are trimmed by BullMQ as each run finishes.
    const byAge = [...this.consumed].filter((name) => !(queueTable[name] as { keepLast?: unknown }).keepLast);
    const removed = await sweepFinishedJobs(
      byAge.map((name) => this.queue(name)),
      this.retention,
    );
    await this.status.trimLog();
    return removed;
  }

  private contextFor(uploadId: string, attempt: number, job?: Job, token?: string): StageContext {
    // A maintenance run or a webhook delivery is no upload's: its lines carry no made-up upload id.
    const log = uploadId === 'unknown' ? this.log : forUpload(this.log, uploadId);
    return {
      log,
      attempt,
      signal: this.shuttingDown.signal,
      emit: async (next, payload) => {
        // The event is recorded before the job exists: the next stage, which may finish at once (the
        // preview-extractor's early-cut path does), can never announce its own step ahead of this one.
        // A crash between the two repeats the event when the stage runs again; it never loses it.
        const valid = parsePayload(next, payload);
        await this.status.publish({ uploadId, event: next as StatusEventName, stage: this.service });
        await this.addJob(next, valid);
      },
      status: async (event, extra = {}) => {
        await this.status.publish({ uploadId, event, stage: this.service, ...extra });
      },
      emitFlow: (parent, children) => this.publishFlow(parent, children),
      childrenValues: async () => (job ? ((await job.getChildrenValues()) as Record<string, unknown>) : {}),
      waitForChildren: async () => {
        if (job && token && (await job.moveToWaitingChildren(token))) throw new WaitingForChildren();
      },
      shareProgress: async (work, part, percent, weights) =>
        Number(
          await this.redis.eval(
            SHARE_PROGRESS_SCRIPT,
            1,
            `${this.prefix}:progress:${work}`,
            part,
            String(percent),
            String(SHARED_PROGRESS_TTL_SECONDS),
            JSON.stringify(weights),
          ),
        ),
    };
  }

  /** A chain channel's give-up goes to the lifecycle's handler; a queue beside the chain never fails an upload, the bus carries out its row. */
  private async giveUpOn(channel: QueueName, payload: unknown, error: Error, context: StageContext): Promise<void> {
    if (isChannel(channel)) return this.giveUp(channel, payload, error, context);
    if (serviceQueues[channel].giveUp === 'keep-for-operator')
      context.log.error('job failed for good; kept in the failed set for an operator', { queue: channel, error: error.message });
    else context.log.warn('job gave up; nothing depends on it', { queue: channel, error: error.message });
  }

  private async run<C extends QueueName>(channel: C, job: Job, token: string | undefined, handler: StageHandler<C>): Promise<unknown> {
    const rawId = (job.data as { uploadId?: unknown })?.uploadId;
    const uploadId = typeof rawId === 'string' ? rawId : 'unknown';
    const context = this.contextFor(uploadId, job.attemptsMade + 1, job, token);
    const started = Date.now();
    const seconds = () => (Date.now() - started) / 1000;
    jobsStarted.inc({ channel });
    this.running.set(job, token);
    try {
      const payload = parsePayload(channel, job.data);
      // A queue beside the chain runs often (a notification per event, a maintenance slot a minute): its handler logs what it did.
      const logRun = isChannel(channel) ? context.log.info.bind(context.log) : context.log.debug.bind(context.log);
      logRun('stage started', { channel, jobId: job.id, attempt: context.attempt });
      const value = await handler(payload, context);
      logRun('stage finished', { channel, jobId: job.id, ms: Date.now() - started });
      jobsCompleted.inc({ channel });
      jobDuration.observe({ channel, outcome: 'completed' }, seconds());
      return value;
    } catch (error) {
      if (error instanceof WaitingForChildren) {
        context.log.info('stage waits for its children', { channel, jobId: job.id });
        jobDuration.observe({ channel, outcome: 'waiting' }, seconds());
        throw new WaitingChildrenError();
      }
      if (this.shuttingDown.signal.aborted) {
        // Cut short by shutdown, not by the upload: back to waiting (the wait list, or the
        // prioritized set for a job with a priority), where any replica takes it next, without
        // using an attempt or counting as a stall.
        if (!this.handedBack.has(job)) await this.handBack(channel, job, token, context.log);
        throw new WaitingError();
      }
      if (error instanceof RetryLaterError) {
        jobDuration.observe({ channel, outcome: 'waiting' }, seconds());
        if (error.nextPayload !== undefined) await job.updateData(parsePayload(channel, error.nextPayload));
        await job.moveToDelayed(Date.now() + error.delayMs, token);
        throw new DelayedError();
      }
      const err = error instanceof Error ? error : new Error(String(error));
      const permanent = err instanceof PermanentError || err instanceof ContractError;
      const lastAttempt = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      context.log.warn(lastAttempt ? 'stage gave up' : 'stage failed, will retry', {
        channel,
        jobId: job.id,
        attempt: context.attempt,
        permanent,
        ...errorFields(err),
      });
      jobsFailed.inc({ channel, final: String(lastAttempt) });
      jobDuration.observe({ channel, outcome: 'failed' }, seconds());
      if (lastAttempt) await this.giveUpOn(channel, job.data, err, context);
      throw permanent ? new UnrecoverableError(err.message) : err;
    } finally {
      this.running.delete(job);
    }
  }

  /** Moves a running job back to waiting in its queue: not failed, no attempt used, no stall counted. */
  private async handBack(channel: QueueName, job: Job, token: string | undefined, log: Logger): Promise<void> {
    this.handedBack.add(job);
    await job.moveToWait(token);
    log.warn('stage interrupted by shutdown; job handed back', { channel, jobId: job.id, attempt: job.attemptsMade + 1 });
  }

  /**
   * Stops taking jobs and waits for the running ones to finish (up to `graceMs`). Handlers still
   * running then are aborted (their `signal`) and their jobs handed back to wait unused. A handler
   * that ignores the signal for HAND_BACK_MS has its job handed back for it, and close returns
   * without it: leaving the job to BullMQ's stalled checker would count a stall each time, and
   * JOB_MAX_STALLED_COUNT stalls fail a paid upload (worker.close(true) cannot help: while a close
   * is pending BullMQ returns that close, so it waited for the handler anyway).
   */
  async close(graceMs = 30_000): Promise<void> {
    clearInterval(this.sweeper);
    const closing = Promise.all(this.workers.map((worker) => worker.close()));
    if (await outlasts(closing, graceMs)) {
      this.shuttingDown.abort();
      if (await outlasts(closing, HAND_BACK_MS)) {
        for (const [job, token] of this.running) {
          if (this.handedBack.has(job)) continue;
          const channel = job.queueName as QueueName;
          await this.handBack(channel, job, token, this.log).catch((error: unknown) =>
            this.log.error('job not handed back; the stalled checker will return it', { channel, jobId: job.id, ...errorFields(error) }),
          );
        }
      }
    }
    unwatchQueues(this);
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    await this.flows?.close();
    await this.status.close();
  }
}

/** The backoff type of rows whose policy is `retry-after`. */
const RETRY_AFTER_BACKOFF = 'retry-after';

/**
 * BullMQ asks this for backoff types it does not know (only `retry-after` here): the doubling delay,
 * or the failure's own `retryAfterMs` when longer (a push service's 429 Retry-After).
 */
function retryAfterBackoff(attemptsMade: number, _type?: string, error?: Error, job?: MinimalJob): number {
  const first = (job?.opts.backoff as { delay?: number } | undefined)?.delay ?? 1_000;
  const doubling = first * 2 ** Math.max(0, attemptsMade - 1);
  const asked = (error as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return Math.max(doubling, typeof asked === 'number' && Number.isFinite(asked) ? asked : 0);
}

/** Thrown by `waitForChildren` once the job is back waiting for its children: not a failure. */
class WaitingForChildren extends Error {
  constructor() {
    super('waiting for children');
  }
}

/** The Redis settings every service reads (packages/config's commonSchema). */
export interface BusSettings extends RedisSettings {
  REDIS_PREFIX: string;
  JOB_LOCK_MS: number;
  JOB_STALLED_INTERVAL_MS: number;
  JOB_MAX_STALLED_COUNT: number;
  REDIS_UPLOAD_TTL_SECONDS?: number;
  REDIS_COMPLETED_JOB_TTL_SECONDS?: number;
  REDIS_FAILED_JOB_TTL_SECONDS?: number;
  REDIS_STATUS_LOG_TTL_SECONDS?: number;
}

/** The retention a service's configuration asks for. */
export function retentionFrom(config: BusSettings): Retention {
  return {
    ...(config.REDIS_UPLOAD_TTL_SECONDS ? { uploadSeconds: config.REDIS_UPLOAD_TTL_SECONDS } : {}),
    ...(config.REDIS_COMPLETED_JOB_TTL_SECONDS ? { completedJobSeconds: config.REDIS_COMPLETED_JOB_TTL_SECONDS } : {}),
    ...(config.REDIS_FAILED_JOB_TTL_SECONDS ? { failedJobSeconds: config.REDIS_FAILED_JOB_TTL_SECONDS } : {}),
    ...(config.REDIS_STATUS_LOG_TTL_SECONDS ? { statusLogSeconds: config.REDIS_STATUS_LOG_TTL_SECONDS } : {}),
  };
}

/**
 * A service's Redis connection and bus, from its validated configuration. Refuses (throws, naming
 * `maxmemory-policy`) when Redis may evict keys: nothing here survives an eviction; and refuses a
 * Redis Cluster node (not supported). `statusFor` makes the status store on the connection
 * (packages/lifecycle's connectPipeline passes its StatusStore).
 */
export async function connectBus<S extends StatusSink>(
  config: BusSettings,
  service: string,
  log: Logger,
  statusFor: (redis: Redis, retention: Retention) => S,
): Promise<{ redis: Redis; bus: Bus<S> }> {
  const redis = connectRedis(config, service);
  try {
    await assertUsableRedis(redis);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const retention = retentionFrom(config);
  const bus = new Bus(
    redis,
    config.REDIS_PREFIX,
    service,
    log,
    statusFor(redis, retention),
    {},
    { lockMs: config.JOB_LOCK_MS, stalledIntervalMs: config.JOB_STALLED_INTERVAL_MS, maxStalledCount: config.JOB_MAX_STALLED_COUNT },
    retention,
  );
  return { redis, bus };
}
