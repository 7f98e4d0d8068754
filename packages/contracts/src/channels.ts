import type { z } from 'zod';
import {
  assetsStoredSchema,
  paymentConfirmedSchema,
  paymentRecordedSchema,
  paymentSubmittedSchema,
  previewEarlySchema,
  previewExtractedSchema,
  uploadExpireSchema,
  uploadFailedSchema,
  uploadReceivedSchema,
  videoTranscodedSchema,
} from './payloads.js';

/** How a channel's jobs are retried and timed out: one row per channel, in one table. */
export interface ChannelPolicy {
  /** Tries before the stage gives up for good (the first run counts). */
  attempts: number;
  /** First retry delay; later retries double it. */
  backoffMs: number;
}

interface ChannelDefinition<S extends z.ZodType> {
  schema: S;
  /** The service whose queue this is (it alone consumes it). */
  consumer: string;
  policy: ChannelPolicy;
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
    jobId: byUpload('upload.received'),
  }),
  'payment.submitted': define({
    schema: paymentSubmittedSchema,
    consumer: 'payment-watcher',
    // A payment waiting for confirmations is rescheduled, not failed; attempts count RPC failures.
    policy: { attempts: 12, backoffMs: 1_000 },
    jobId: (payload) => `${payload.uploadId}.${payload.txHash}`,
  }),
  'upload.expire': define({
    schema: uploadExpireSchema,
    consumer: 'payment-watcher',
    policy: { attempts: 10, backoffMs: 1_000 },
    jobId: byUpload('upload.expire'),
  }),
  'payment.recorded': define({
    schema: paymentRecordedSchema,
    consumer: 'profile-writer',
    policy: { attempts: 20, backoffMs: 2_000 },
    // One job per transfer: the same payment seen twice is recorded once.
    jobId: (payload) => `${payload.uploadId}.${payload.payment.txHash}.${payload.payment.logIndex ?? 'native'}.payment.recorded`,
  }),
  'payment.confirmed': define({
    schema: paymentConfirmedSchema,
    consumer: 'transcoder',
    policy: { attempts: 3, backoffMs: 5_000 },
    jobId: byUpload('payment.confirmed'),
  }),
  // A side channel, not a link of the chain: the uploader stores the early preview and poster. If it
  // gives up, the upload goes on (assets.stored puts the same keys), so its consumer must not fail it.
  'preview.early': define({
    schema: previewEarlySchema,
    consumer: 'uploader',
    policy: { attempts: 3, backoffMs: 1_000 },
    jobId: byUpload('preview.early'),
  }),
  'video.transcoded': define({
    schema: videoTranscodedSchema,
    consumer: 'preview-extractor',
    policy: { attempts: 3, backoffMs: 2_000 },
    jobId: byUpload('video.transcoded'),
  }),
  'preview.extracted': define({
    schema: previewExtractedSchema,
    consumer: 'uploader',
    policy: { attempts: 8, backoffMs: 2_000 },
    jobId: byUpload('preview.extracted'),
  }),
  'assets.stored': define({
    schema: assetsStoredSchema,
    consumer: 'profile-writer',
    policy: { attempts: 10, backoffMs: 2_000 },
    jobId: byUpload('assets.stored'),
  }),
  'upload.failed': define({
    schema: uploadFailedSchema,
    consumer: 'profile-writer',
    policy: { attempts: 20, backoffMs: 2_000 },
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
