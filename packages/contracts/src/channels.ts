import type { z } from 'zod';
import {
  assetsStoredSchema,
  paymentConfirmedSchema,
  paymentCreditedSchema,
  paymentSubmittedSchema,
  previewEarlySchema,
  previewExtractedSchema,
  renewalQuotedSchema,
  uploadExpireSchema,
  uploadFailedSchema,
  uploadReceivedSchema,
  videoAssembleSchema,
  videoChunkSchema,
  videoTranscodedSchema,
} from './payloads.js';

/** How a channel's jobs are retried and timed out: one row per channel, in one table. */
export interface ChannelPolicy {
  /** Tries before the stage gives up for good (the first run counts). */
  attempts: number;
  /** First retry delay; later retries double it. */
  backoffMs: number;
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
}

const byUpload = (channel: string) => (payload: { uploadId: string }) => `${payload.uploadId}.${channel}`;

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
        ? `${payload.address}.${payload.token ?? 'native'}.${payload.totalReceived}.payment.credited`
        : payload.kind === 'merchant'
          ? `${payload.transfer.txHash}.${payload.transfer.logIndex ?? 'native'}.payment.credited`
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
    jobId: (payload) => `${payload.uploadId}.video.chunk.${payload.part.kind === 'audio' ? 'audio' : payload.part.index}`,
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
export type PayloadOf<C extends Channel> = z.infer<(typeof channels)[C]['schema']>;

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
export function parsePayload<C extends Channel>(channel: C, payload: unknown): PayloadOf<C> {
  const result = channels[channel].schema.safeParse(payload);
  if (!result.success) {
    throw new ContractError(
      channel,
      result.error.issues.map((issue) => `${issue.path.join('.') || '(payload)'}: ${issue.message}`),
    );
  }
  return result.data as PayloadOf<C>;
}
