import type { Bus } from '@reelboard/bus';
import type { ChainSetting } from '@reelboard/config';
import { type PushJob, pushMessageFor, type SavedSearchJob, type StatusEvent, unnotifiedEvents, type WebhookJob } from '@reelboard/contracts';
import { createWebhookDelivery, type Knex, pushSubscriptionsOf, quotePlaceOf, statusSubjectOf, webhookEndpointsFor } from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';
import type { Logger } from '@reelboard/logger';

export interface NotificationAdapters {
  db: Knex;
  /** The upload's record: its owner and title (a listing's row in `db` when the record has expired). */
  uploads: Pick<Uploads, 'get'>;
  /** Adds the `notify.push`, `notify.saved-searches` and `notify.webhook` jobs (their ids come from the queue table's rows). */
  bus: Pick<Bus, 'publish'>;
  log: Logger;
  /** Where links in push messages point (the gateway's public origin). */
  publicUrl: string;
  /** False when no VAPID keys are configured: nothing is pushed. */
  pushEnabled: boolean;
  /** The watched chains (CHAINS): their names and asset symbols for push texts. */
  chains?: readonly Pick<ChainSetting, 'id' | 'name' | 'native' | 'tokens'>[] | undefined;
}

/** The chain's name and the asset's symbol as people know them; `chain <id>` and the token's address where CHAINS does not list them. */
export function moneyWords(chains: NotificationAdapters['chains'], place: { chainId: number; token: string | null }): { chain: string; asset: string } {
  const chain = chains?.find((c) => c.id === place.chainId);
  const token = place.token?.toLowerCase() ?? null;
  const asset = token === null ? (chain?.native.symbol ?? 'native coin') : (chain?.tokens.find((t) => t.address.toLowerCase() === token)?.symbol ?? token);
  return { chain: chain?.name ?? `chain ${place.chainId}`, asset };
}

/** What a webhook receiver gets for one status event (the body that is signed). */
export interface WebhookPayload {
  /** Unique per event: `<uploadId>.<seq>`; receivers deduplicate on it. */
  id: string;
  /** The status event name (`payment.confirmed`, `profile.saved`, ...). */
  type: string;
  uploadId: string;
  /** The upload's event sequence number: events of one upload arrive in this order. */
  seq: number;
  createdAt: string;
  data: {
    stage: string;
    state: string;
    reason?: string;
    message?: string;
    owner?: string;
    title?: string;
    /** On payment and refund events: the chain of the upload's quote (several chains may be watched). */
    chainId?: number;
    /** On payment and refund events: the asset quoted, `native` or the ERC-20's address. */
    asset?: string;
    /** On payment and refund events: the chain's name as CHAINS gives it (`chain <id>` when it does not). */
    chainName?: string;
    /** On payment and refund events: the asset's symbol as CHAINS gives it (the token's address when it does not). */
    assetSymbol?: string;
  };
}

/**
 * Turns one status event into durable notification jobs: a push job per browser of the upload's
 * owner (if the event is one the person is told about) and a webhook delivery per endpoint that
 * wants it. Job ids and delivery rows are deterministic, so replicas and retries add each once.
 */
export async function handleStatusEvent(event: StatusEvent, adapters: NotificationAdapters): Promise<{ pushes: number; webhooks: number }> {
  // deliver-webhook.ts skips the same events when it waits for an upload's earlier deliveries.
  if (unnotifiedEvents.has(event.event)) return { pushes: 0, webhooks: 0 };
  const upload = await adapters.uploads.get(event.uploadId);
  // A listing's events weeks later (expired, removed, an edit decided) outlive the upload's record
  // in Redis (REDIS_UPLOAD_TTL_SECONDS), and a profile edit has none: the owner and title then come
  // from Postgres (the listing's row, or the profile edit's author).
  const subject = upload ? { owner: upload.owner, title: upload.form.title } : await statusSubjectOf(adapters.db, event.uploadId);
  const title = subject?.title;
  const owner = subject?.owner;

  // Where the money was asked for: the upload's quote, or (its record gone, a refund days later) the ledger's.
  const isMoney = /^(payment|refund)\./.test(event.event);
  const place = !isMoney
    ? undefined
    : upload?.quote
      ? { chainId: upload.quote.chainId, token: upload.quote.token ?? null }
      : await quotePlaceOf(adapters.db, event.uploadId);

  let pushes = 0;
  const message = adapters.pushEnabled ? pushMessageFor(event, title, adapters.publicUrl, place ? moneyWords(adapters.chains, place) : undefined) : undefined;
  if (message && owner) {
    for (const subscription of await pushSubscriptionsOf(adapters.db, owner)) {
      const job: PushJob = { subscriptionId: subscription.id, uploadId: event.uploadId, message };
      await adapters.bus.publish('notify.push', job);
      pushes += 1;
    }
  }

  // A listing went public: buyers' saved searches are matched in a queue of their own, so a slow match never holds up this event's notifications.
  if (event.event === 'moderation.approved' && adapters.pushEnabled) {
    const job: SavedSearchJob = { listingId: event.uploadId };
    await adapters.bus.publish('notify.saved-searches', job);
  }

  let webhooks = 0;
  const endpoints = await webhookEndpointsFor(adapters.db, event.event);
  if (endpoints.length > 0) {
    const payload: WebhookPayload = {
      id: `${event.uploadId}.${event.seq}`,
      type: event.event,
      uploadId: event.uploadId,
      seq: event.seq,
      createdAt: event.at,
      data: {
        stage: event.stage,
        state: event.state,
        ...(event.reason !== undefined ? { reason: event.reason } : {}),
        ...(event.message !== undefined ? { message: event.message } : {}),
        ...(owner ? { owner } : {}),
        ...(title ? { title } : {}),
        // With several chains and assets watched, a receiver must know where the money was asked for.
        ...(place
          ? {
              chainId: place.chainId,
              asset: place.token ?? 'native',
              chainName: moneyWords(adapters.chains, place).chain,
              assetSymbol: moneyWords(adapters.chains, place).asset,
            }
          : {}),
      },
    };
    for (const endpoint of endpoints) {
      const delivery = await createWebhookDelivery(adapters.db, {
        endpointId: endpoint.id,
        uploadId: event.uploadId,
        seq: event.seq,
        event: event.event,
        payload,
      });
      const job: WebhookJob = { deliveryId: delivery.id };
      await adapters.bus.publish('notify.webhook', job);
      webhooks += 1;
    }
  }
  if (pushes + webhooks > 0) adapters.log.info('notifications queued', { uploadId: event.uploadId, seq: event.seq, event: event.event, pushes, webhooks });
  return { pushes, webhooks };
}
