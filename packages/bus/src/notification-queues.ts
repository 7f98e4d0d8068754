import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PushMessage } from '@reelboard/contracts';
import { EVENTS_STREAM_LENGTH, finishedJobRemoval, type Retention } from './bus.js';

/**
 * The notifier's queues, apart from the chain's work channels so a slow push service or webhook
 * receiver never holds up a stage. The notifier consumes them; the gateway adds replays.
 */
export const notificationQueues = {
  /** One job per (status event, browser subscription). */
  push: 'notify.push',
  /** One job per webhook delivery (status event, endpoint); replays add more for the same delivery. */
  webhook: 'notify.webhook',
} as const;
export type NotificationQueue = (typeof notificationQueues)[keyof typeof notificationQueues];

export interface PushJob {
  subscriptionId: string;
  uploadId: string;
  message: PushMessage;
}

export interface WebhookJob {
  deliveryId: string;
  /** Failed sends of this job so far (its own retry count, kept in the job across delays). */
  tries?: number;
  /** Times this job waited behind an earlier event of the same upload (its wait grows). */
  orderingWaits?: number;
}

/** Deterministic ids: every notifier replica that sees the event adds the same job, BullMQ keeps one. */
export const notificationJobIds = {
  push: (uploadId: string, seq: number, subscriptionId: string) => `${uploadId}.${seq}.push.${subscriptionId}`,
  webhook: (deliveryId: string) => `${deliveryId}.webhook`,
  /** A replay is a new job for the same delivery; `requestedAt` keeps one per admin request. */
  webhookReplay: (deliveryId: string, requestedAt: number) => `${deliveryId}.replay.${requestedAt}`,
};


/**
 * A notification queue on the deployment's Redis prefix. `retry.custom`: delays come from the
 * consuming worker's backoffStrategy (the push worker honours a push service's Retry-After).
 */
export function notificationQueue(
  redis: Redis,
  prefix: string,
  name: NotificationQueue,
  retry: { attempts: number; backoffMs: number; custom?: boolean } = { attempts: 1, backoffMs: 0 },
  /** How long finished jobs are kept, so their ids keep deduplicating (as the work channels). */
  retention: Retention = {},
): Queue {
  return new Queue(name, {
    connection: redis,
    prefix,
    streams: { events: { maxLen: EVENTS_STREAM_LENGTH } },
    defaultJobOptions: {
      attempts: retry.attempts,
      backoff: { type: retry.custom ? 'custom' : 'exponential', delay: retry.backoffMs },
      ...finishedJobRemoval(retention),
    },
  });
}
