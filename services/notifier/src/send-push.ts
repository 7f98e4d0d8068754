import webpush, { WebPushError } from 'web-push';
import { PermanentError } from '@reelboard/bus';
import type { PushJob } from '@reelboard/contracts';
import { type Knex, pushSubscriptionById, removePushSubscription } from '@reelboard/db';
import type { Logger } from '@reelboard/logger';

export interface PushSettings {
  vapid: { subject: string; publicKey: string; privateKey: string };
  ttlSeconds: number;
}

/**
 * A push service asked to try later (5xx, 429, no answer); `retryAfterMs` when it said how long,
 * which the `notify.push` row's `retry-after` backoff waits when longer than its doubling delay.
 */
export class PushRetryError extends Error {
  override readonly name = 'PushRetryError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export type PushOutcome = 'sent' | 'subscription_gone' | 'subscription_unknown';

/** Retry-After in seconds or as an HTTP date, in milliseconds from now. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Sends one push message to one browser through its push service (web-push: VAPID and RFC 8291
 * aes128gcm encryption). 404/410: the browser unsubscribed, the subscription is removed.
 * 5xx, 429 and network failures throw PushRetryError (retried with backoff); other refusals
 * (a bad request, a VAPID key the service refuses) are final.
 */
export async function sendPush(db: Knex, job: PushJob, settings: PushSettings, log: Logger): Promise<PushOutcome> {
  const subscription = await pushSubscriptionById(db, job.subscriptionId);
  if (!subscription) return 'subscription_unknown';
  try {
    const result = await webpush.sendNotification(
      { endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } },
      JSON.stringify(job.message),
      {
        vapidDetails: settings.vapid,
        TTL: settings.ttlSeconds,
        urgency: 'normal',
        // One pending message per upload at the push service: a newer one replaces an undelivered older one.
        topic: job.uploadId.replaceAll('-', ''),
        contentEncoding: 'aes128gcm',
        timeout: 10_000,
      },
    );
    log.info('push sent', { uploadId: job.uploadId, event: job.message.event, seq: job.message.seq, statusCode: result.statusCode });
    return 'sent';
  } catch (error) {
    if (!(error instanceof WebPushError)) throw new PushRetryError(`push service unreachable: ${String(error)}`);
    const status = error.statusCode;
    if (status === 404 || status === 410) {
      await removePushSubscription(db, subscription.id);
      log.info('push subscription gone; removed', { uploadId: job.uploadId, statusCode: status });
      return 'subscription_gone';
    }
    if (status === 429 || status >= 500) {
      const header = Object.entries(error.headers ?? {}).find(([name]) => name.toLowerCase() === 'retry-after')?.[1];
      throw new PushRetryError(`push service answered ${status}`, retryAfterMs(header));
    }
    throw new PermanentError(`push service refused the message with ${status}: ${String(error.body).slice(0, 200)}`, 'push_refused');
  }
}
