import { RetryLaterError } from '@reelboard/bus';
import { unnotifiedEvents, type WebhookJob } from '@reelboard/contracts';
import {
  disableWebhookEndpoint,
  finishWebhookDelivery,
  hasEarlierPendingDelivery,
  type Knex,
  missingWebhookDeliveries,
  recordWebhookAttempt,
  webhookDeliveryById,
  webhookEndpointById,
} from '@reelboard/db';
import type { Logger } from '@reelboard/logger';
import { SIGNATURE_HEADER, signatureHeader } from './sign-webhook.js';

export interface WebhookSettings {
  /** Retries stop once the next one would start later than this after the first try. */
  retryForMs: number;
  /** First retry delay; each later one doubles. */
  firstRetryMs: number;
  /** How long the receiver has to answer. */
  timeoutMs: number;
}

/** What to do with the job after one step. */
export type WebhookStep =
  | { next: 'done'; outcome: 'delivered' | 'failed' | 'gone' | 'endpoint_disabled' | 'not_pending' }
  | { next: 'later'; delayMs: number; job: WebhookJob; why: 'retry' | 'ordering' };

/** Longest wait between two looks at an earlier delivery of the same upload that is still pending. */
const MAX_ORDERING_WAIT_MS = 60_000;
/**
 * Looks for an earlier event's delivery that no replica has created yet, before the event is sent
 * anyway (about 8 minutes of waits): the status log hands every entry out at least once, so a
 * missing delivery comes unless its replica died holding it for longer than the log's claim time.
 */
const MAX_MISSING_WAITS = 12;

/** An upload's events before this one, as the status history keeps them (for the ordering check). */
export type EarlierEvents = (uploadId: string, beforeSeq: number) => Promise<{ seq: number; event: string; at: string }[]>;
/** How much of a receiver's answer is kept in the attempt log. */
const RESPONSE_LOG_CHARS = 500;

/** The delay before retry number `retry` (1 = the first retry), or undefined when the retry window is used up. */
export function retryDelay(settings: Pick<WebhookSettings, 'retryForMs' | 'firstRetryMs'>, retry: number): number | undefined {
  const delay = settings.firstRetryMs * 2 ** (retry - 1);
  // Start of retry n after the first try: firstRetry * (2^n - 1).
  const startsAt = settings.firstRetryMs * (2 ** retry - 1);
  return startsAt <= settings.retryForMs ? delay : undefined;
}

/**
 * One step of delivering one webhook: waits behind an earlier event of the same upload still
 * being delivered to the same endpoint (so each receiver gets an upload's events in sequence
 * order), POSTs the signed body, logs the attempt, and decides: delivered (2xx), gone (410: the
 * endpoint is disabled, never retried), retry later with exponential backoff, or failed for good
 * once the retry window is used up.
 */
export async function deliverWebhook(db: Knex, job: WebhookJob, settings: WebhookSettings, log: Logger, earlierEvents?: EarlierEvents): Promise<WebhookStep> {
  const delivery = await webhookDeliveryById(db, job.deliveryId);
  if (delivery?.status !== 'pending') return { next: 'done', outcome: 'not_pending' };
  const waitInOrder = (): WebhookStep => {
    const waits = (job.orderingWaits ?? 0) + 1;
    return {
      next: 'later',
      delayMs: Math.min(MAX_ORDERING_WAIT_MS, 500 * 2 ** Math.min(waits - 1, 7)),
      job: { ...job, orderingWaits: waits },
      why: 'ordering',
    };
  };
  if (await hasEarlierPendingDelivery(db, delivery)) return waitInOrder();
  const endpoint = await webhookEndpointById(db, delivery.endpointId);
  // With several notifier replicas, an earlier event of the upload may be in another replica's
  // hands, its delivery not created yet: this one waits for it too, as for a pending one.
  if (endpoint?.enabled && earlierEvents && (job.orderingWaits ?? 0) < MAX_MISSING_WAITS) {
    const registered = Date.parse(endpoint.createdAt);
    const expected = (await earlierEvents(delivery.uploadId, delivery.seq))
      .filter(
        (event) =>
          !unnotifiedEvents.has(event.event) && (endpoint.events.includes('*') || endpoint.events.includes(event.event)) && Date.parse(event.at) >= registered,
      )
      .map((event) => event.seq);
    if (expected.length > 0 && (await missingWebhookDeliveries(db, delivery, expected)) > 0) return waitInOrder();
  }
  if (!endpoint?.enabled) {
    await finishWebhookDelivery(db, delivery.id, 'gone');
    return { next: 'done', outcome: 'endpoint_disabled' };
  }

  const body = JSON.stringify(delivery.payload);
  const started = Date.now();
  let statusCode: number | null = null;
  let response: string;
  try {
    const answer = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Reelboard-Webhooks/1',
        [SIGNATURE_HEADER]: signatureHeader(endpoint.secrets, body),
        'Reelboard-Event': delivery.event,
        'Reelboard-Delivery': delivery.id,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    statusCode = answer.status;
    response = (await answer.text().catch(() => '')).slice(0, RESPONSE_LOG_CHARS);
  } catch (error) {
    response = `no answer: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`.slice(
      0,
      RESPONSE_LOG_CHARS,
    );
  }
  const attempt = await recordWebhookAttempt(db, delivery.id, { statusCode, response, durationMs: Date.now() - started });
  const fields = {
    deliveryId: delivery.id,
    endpointId: endpoint.id,
    uploadId: delivery.uploadId,
    seq: delivery.seq,
    event: delivery.event,
    attempt,
    statusCode,
  };

  if (statusCode !== null && statusCode >= 200 && statusCode < 300) {
    await finishWebhookDelivery(db, delivery.id, 'delivered');
    log.info('webhook delivered', fields);
    return { next: 'done', outcome: 'delivered' };
  }
  if (statusCode === 410) {
    await finishWebhookDelivery(db, delivery.id, 'gone');
    await disableWebhookEndpoint(db, endpoint.id, `the receiver answered 410 Gone at ${new Date().toISOString()}`);
    log.warn('webhook endpoint answered 410 Gone; disabled', fields);
    return { next: 'done', outcome: 'gone' };
  }
  const tries = (job.tries ?? 0) + 1;
  const delayMs = retryDelay(settings, tries);
  if (delayMs === undefined) {
    await finishWebhookDelivery(db, delivery.id, 'failed');
    log.warn('webhook delivery failed for good', { ...fields, response });
    return { next: 'done', outcome: 'failed' };
  }
  log.info('webhook delivery will be retried', { ...fields, delayMs, response });
  return { next: 'later', delayMs, job: { ...job, tries }, why: 'retry' };
}

/**
 * The `notify.webhook` consumer: one step, and a delivery to try again later waits in the queue with
 * its own retry count, without using the queue's one attempt (its retry window is its own).
 */
export async function handleWebhookJob(db: Knex, job: WebhookJob, settings: WebhookSettings, log: Logger, earlierEvents?: EarlierEvents): Promise<string> {
  const step = await deliverWebhook(db, job, settings, log, earlierEvents);
  if (step.next === 'done') return step.outcome;
  throw new RetryLaterError(
    step.delayMs,
    step.why === 'retry' ? 'webhook receiver did not take it; retried later' : 'waits behind an earlier event of the same upload',
    step.job,
  );
}
