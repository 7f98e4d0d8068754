import type { z } from 'zod';
import {
  assetsStoredSchema,
  type ChunkPart,
  paymentConfirmedSchema,
  paymentCreditedSchema,
  paymentSubmittedSchema,
  previewEarlySchema,
  previewExtractedSchema,
  pushJobSchema,
  renditionJoinSchema,
  renditionStoreSchema,
  renewalQuotedSchema,
  savedSearchJobSchema,
  scheduledRunSchema,
  uploadExpireSchema,
  uploadFailedSchema,
  uploadReceivedSchema,
  videoAssembleSchema,
  videoChunkSchema,
  videoTranscodedSchema,
  webhookJobSchema,
} from './payloads.js';

/** How a channel's jobs are retried and timed out: one row per channel, in one table. */
export interface ChannelPolicy {
  /** Tries before the stage gives up for good (the first run counts). */
  attempts: number;
  /** First retry delay; later retries double it. */
  backoffMs: number;
  /**
   * `retry-after`: a failure that says how long to wait (an error with `retryAfterMs`, e.g. a push
   * service's 429 Retry-After) waits that long when it is longer than the doubling delay.
   */
  backoff?: 'exponential' | 'retry-after';
}

/**
 * What happens when a channel's stage gives up on a job for good (attempts used up, a permanent
 * error, or a job the stalled checker failed because its workers kept dying):
 * - `fail-upload`: the upload ends `failed` and goes to `upload.failed`, where a paid upload's
 *   payment is recorded `unfulfilled` for retry or refund;
 * - `drop-hint`: the job was only a hint (a client's tx hash); the owner is told it could not be
 *   checked, and the upload is untouched (the deposit watcher still sees the money);
 * - `keep-for-operator`: a ledger write; the job stays in the failed set (bull-board,
 *   `pnpm failed-uploads`) and an error is logged; retrying it records what it carries;
 * - `log-only`: an optimisation nothing depends on (the early preview); a warning is logged.
 */
export type GiveUpPolicy = 'fail-upload' | 'drop-hint' | 'keep-for-operator' | 'log-only';

interface ChannelDefinition<S extends z.ZodType> {
  schema: S;
  /** The service whose queue this is (it alone consumes it). */
  consumer: string;
  policy: ChannelPolicy;
  giveUp: GiveUpPolicy;
  /** Deterministic job id: a retried stage that publishes again does not double the next one. */
  jobId: (payload: z.infer<S>) => string;
  /**
   * How many finished jobs are kept, for a queue whose job ids never repeat (a scheduler's slots):
   * no deduplication window to keep, so the last few runs are kept for operators instead of
   * REDIS_*_JOB_TTL_SECONDS of them. Absent: kept by age, as every chain channel.
   */
  keepLast?: { completed: number; failed: number };
  /**
   * For a queue fed by a job scheduler (Bus.schedule): the scheduler's id, one per queue, which every
   * replica upserts (so one job per slot). Kept as first deployed: a new id would leave the old
   * scheduler in Redis adding a second job per slot.
   */
  scheduler?: string;
}

const byUpload = (channel: string) => (payload: { uploadId: string }) => `${payload.uploadId}.${channel}`;

/**
 * A chunk job's id after the upload's: the audio, a chunk of one rung, of several rungs (one decode),
 * of the single rendition, or chunks of one rung side by side (`240p.0+1`).
 */
function chunkJobSuffix(part: ChunkPart): string {
  if (part.kind === 'audio') return 'audio';
  if (part.rungs) return `${part.rungs.join('-')}p.${part.index}`;
  const indexes = [part.index, ...(part.alongside ?? []).map((chunk) => chunk.index)].join('+');
  return part.rung ? `${part.rung}p.${indexes}` : indexes;
}

function define<S extends z.ZodType>(definition: ChannelDefinition<S>): ChannelDefinition<S> {
  return definition;
}

/** Every work channel of the chain: its payload schema, its consumer and its retry policy. */
export const channels = {
  'upload.received': define({
    schema: uploadReceivedSchema,
    consumer: 'payment-watcher',
    policy: { attempts: 10, backoffMs: 1_000 },
    giveUp: 'fail-upload',
    jobId: byUpload('upload.received'),
  }),
  // A renewal's quote: watched and expired like an upload's; once paid, the ledger write renews the listing.
  'renewal.quoted': define({
    schema: renewalQuotedSchema,
    consumer: 'payment-watcher',
    policy: { attempts: 10, backoffMs: 1_000 },
    giveUp: 'fail-upload',
    jobId: byUpload('renewal.quoted'),
  }),
  'payment.submitted': define({
    schema: paymentSubmittedSchema,
    consumer: 'payment-watcher',
    // A payment waiting for confirmations is rescheduled, not failed; attempts count RPC failures.
    policy: { attempts: 12, backoffMs: 1_000 },
    giveUp: 'drop-hint',
    // One job per (upload, hash) being checked: the round changes only once the hash was decided (a hash
    // re-sent while it is polled is the same job). A hash's case does not make it another transaction.
    jobId: (payload) => `${payload.uploadId}.${payload.txHash.toLowerCase()}.${payload.round}`,
  }),
  'upload.expire': define({
    schema: uploadExpireSchema,
    consumer: 'payment-watcher',
    policy: { attempts: 10, backoffMs: 1_000 },
    giveUp: 'fail-upload',
    jobId: byUpload('upload.expire'),
  }),
  'payment.credited': define({
    schema: paymentCreditedSchema,
    consumer: 'profile-writer',
    policy: { attempts: 20, backoffMs: 2_000 },
    giveUp: 'keep-for-operator',
    // One job per observation: the same total seen twice (a retried pass, two replicas) is one job.
    jobId: (payload) =>
      payload.kind === 'deposit'
        ? `${payload.address}.${payload.token ?? 'native'}.${payload.totalReceived}${payload.epoch ? `.e${payload.epoch}` : ''}.payment.credited`
        : payload.kind === 'merchant'
          ? `${payload.transfer.txHash}.${payload.transfer.logIndex ?? 'native'}${payload.epoch ? `.e${payload.epoch}` : ''}.payment.credited`
          : payload.kind === 'merchant_reversed'
            ? `${payload.transfer.txHash}.${payload.transfer.logIndex ?? 'native'}.reversed.e${payload.epoch}.payment.credited`
            : payload.kind === 'reversed'
              ? `${payload.address}.${payload.token ?? 'native'}.reversed.e${payload.epoch}.payment.credited`
              : `${payload.uploadId}.closed.payment.credited`,
  }),
  'payment.confirmed': define({
    schema: paymentConfirmedSchema,
    consumer: 'transcoder',
    policy: { attempts: 3, backoffMs: 5_000 },
    giveUp: 'fail-upload',
    jobId: byUpload('payment.confirmed'),
  }),
  // A side channel, not a link of the chain: the uploader stores the early preview and poster. If it
  // gives up, the upload goes on (assets.stored puts the same keys), so its consumer must not fail it.
  'preview.early': define({
    schema: previewEarlySchema,
    consumer: 'uploader',
    policy: { attempts: 3, backoffMs: 1_000 },
    // An optimisation only: assets.stored puts the same keys later.
    giveUp: 'log-only',
    jobId: byUpload('preview.early'),
  }),
  // A long video's chunked encode (a BullMQ flow): one child per chunk and one for the audio, on a
  // queue every transcoder replica consumes, and a parent that joins them when all are done. A part
  // whose replica died is run again alone; a part already encoded returns at once.
  'video.chunk': define({
    schema: videoChunkSchema,
    consumer: 'transcoder',
    policy: { attempts: 3, backoffMs: 2_000 },
    giveUp: 'fail-upload',
    jobId: (payload) => `${payload.uploadId}.video.chunk.${chunkJobSuffix(payload.part)}`,
  }),
  // A ladder's rung, once its chunks are encoded: joined into its DASH file with the manifest of the
  // rungs up to it (a flow node: its children are its chunks and the rung below's store).
  'rendition.join': define({
    schema: renditionJoinSchema,
    consumer: 'transcoder',
    policy: { attempts: 3, backoffMs: 2_000 },
    giveUp: 'fail-upload',
    jobId: (payload) => `${payload.uploadId}.rendition.join.${payload.rung}`,
  }),
  // The rung and its manifest in object storage (`rendition.ready`); the next rung's join waits for it.
  'rendition.store': define({
    schema: renditionStoreSchema,
    consumer: 'uploader',
    policy: { attempts: 8, backoffMs: 2_000 },
    giveUp: 'fail-upload',
    jobId: (payload) => `${payload.uploadId}.rendition.store.${payload.rung.name}`,
  }),
  'video.assemble': define({
    schema: videoAssembleSchema,
    consumer: 'transcoder',
    policy: { attempts: 3, backoffMs: 2_000 },
    giveUp: 'fail-upload',
    jobId: byUpload('video.assemble'),
  }),
  'video.transcoded': define({
    schema: videoTranscodedSchema,
    consumer: 'preview-extractor',
    policy: { attempts: 3, backoffMs: 2_000 },
    giveUp: 'fail-upload',
    jobId: byUpload('video.transcoded'),
  }),
  'preview.extracted': define({
    schema: previewExtractedSchema,
    consumer: 'uploader',
    policy: { attempts: 8, backoffMs: 2_000 },
    giveUp: 'fail-upload',
    jobId: byUpload('preview.extracted'),
  }),
  'assets.stored': define({
    schema: assetsStoredSchema,
    consumer: 'profile-writer',
    policy: { attempts: 10, backoffMs: 2_000 },
    giveUp: 'fail-upload',
    jobId: byUpload('assets.stored'),
  }),
  'upload.failed': define({
    schema: uploadFailedSchema,
    consumer: 'profile-writer',
    policy: { attempts: 20, backoffMs: 2_000 },
    giveUp: 'keep-for-operator',
    jobId: byUpload('upload.failed'),
  }),
} as const;

export type Channel = keyof typeof channels;

/** What a queue beside the chain does when its consumer gives up: it never fails an upload (the bus carries it out). */
type ServiceQueueDefinition<S extends z.ZodType> = ChannelDefinition<S> & { giveUp: 'keep-for-operator' | 'log-only' };

function defineServiceQueue<S extends z.ZodType>(definition: ServiceQueueDefinition<S>): ServiceQueueDefinition<S> {
  return definition;
}

/**
 * The queues beside the chain, rows of the same shape: the notifier's (apart from the work channels
 * so a slow push service or webhook receiver never holds up a stage) and the maintenance jobs run
 * by a job scheduler (Bus.schedule: one job per slot however many replicas run). Their jobs are not
 * an upload's, so none of them takes the `fail-upload` path.
 */
export const serviceQueues = {
  // The push service's Retry-After wins when longer; PUSH_ATTEMPTS and PUSH_FIRST_RETRY_MS override the row.
  'notify.push': defineServiceQueue({
    schema: pushJobSchema,
    consumer: 'notifier',
    policy: { attempts: 8, backoffMs: 5_000, backoff: 'retry-after' },
    giveUp: 'log-only',
    // Every notifier replica that sees the event adds the same job: one push per (event, browser).
    jobId: (job) => `${job.uploadId}.${job.message.seq}.push.${job.subscriptionId}`,
  }),
  // One BullMQ attempt: a delivery keeps its own retry count and schedule (WEBHOOK_RETRY_FOR_SECONDS)
  // in the job and in Postgres, and waits between sends without using an attempt.
  'notify.webhook': defineServiceQueue({
    schema: webhookJobSchema,
    consumer: 'notifier',
    policy: { attempts: 1, backoffMs: 0 },
    // The delivery row stays pending: an admin sees it and can replay it.
    giveUp: 'keep-for-operator',
    // A replay is a new job for the same delivery, one per admin request.
    jobId: (job) => (job.replayRequestedAt ? `${job.deliveryId}.replay.${job.replayRequestedAt}` : `${job.deliveryId}.webhook`),
  }),
  // A listing approved: the saved searches it matches each get one alert (pushes through notify.push).
  'notify.saved-searches': defineServiceQueue({
    schema: savedSearchJobSchema,
    consumer: 'notifier',
    policy: { attempts: 5, backoffMs: 5_000 },
    giveUp: 'log-only',
    // One per listing however many replicas see its approval; should a listing be matched again, the
    // alert table (saved_search_alerts) still keeps each saved search from hearing of it twice.
    jobId: (job) => `${job.listingId}.saved-searches`,
  }),
  // Expired listings' owners told, due S3 objects deleted, every LISTING_JOB_INTERVAL_SECONDS.
  'listings.maintenance': defineServiceQueue({
    schema: scheduledRunSchema,
    consumer: 'api-gateway',
    // The next slot is the retry: what failed is still due then.
    policy: { attempts: 1, backoffMs: 0 },
    giveUp: 'log-only',
    jobId: (run) => `listings.maintenance.${run.requestedAt ?? 'now'}`,
    scheduler: 'listings-maintenance',
    keepLast: { completed: 20, failed: 50 },
  }),
  // Staging files past STAGING_MAX_AGE_HOURS removed, at CLEANUP_CRON in CLEANUP_TIME_ZONE.
  'staging.cleanup': defineServiceQueue({
    schema: scheduledRunSchema,
    consumer: 'uploader',
    policy: { attempts: 3, backoffMs: 60_000 },
    giveUp: 'log-only',
    jobId: (run) => `staging.cleanup.${run.requestedAt ?? 'now'}`,
    scheduler: 'staging-cleanup-daily',
    keepLast: { completed: 30, failed: 30 },
  }),
  // The preview and poster cut while the person pays (the gateway adds one per accepted upload), on
  // the transcoder's own queue and SPECULATIVE_CONCURRENCY, so unpaid work never takes a paid slot.
  'preview.speculative': defineServiceQueue({
    schema: uploadReceivedSchema,
    consumer: 'transcoder',
    policy: { attempts: 2, backoffMs: 2_000 },
    // An optimisation only: the paid path cuts what is missing when the payment confirms.
    giveUp: 'log-only',
    jobId: byUpload('preview.speculative'),
  }),
} as const;

export type ServiceQueue = keyof typeof serviceQueues;

/** Every queue of the deployment, one row each: the chain's channels and the queues beside it. */
export const queues = { ...channels, ...serviceQueues } as const;
export type QueueName = keyof typeof queues;
export type PayloadOf<Q extends QueueName> = z.infer<(typeof queues)[Q]['schema']>;

/** True for a link of the chain (its give-up path is the lifecycle's), false for a queue beside it. */
export const isChannel = (name: QueueName): name is Channel => Object.hasOwn(channels, name);

/** Raised when a payload does not match its channel's contract. */
export class ContractError extends Error {
  override readonly name = 'ContractError';
  constructor(
    readonly channel: string,
    readonly issues: string[],
  ) {
    super(`payload for ${channel} breaks its contract: ${issues.join('; ')}`);
  }
}

/** Validates a payload against its channel's schema, on publish and again on consume. */
export function parsePayload<C extends QueueName>(channel: C, payload: unknown): PayloadOf<C> {
  const result = queues[channel].schema.safeParse(payload);
  if (!result.success) {
    throw new ContractError(
      channel,
      result.error.issues.map((issue) => `${issue.path.join('.') || '(payload)'}: ${issue.message}`),
    );
  }
  return result.data as PayloadOf<C>;
}
