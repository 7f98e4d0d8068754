import type { Knex } from 'knex';

/** A browser's Web Push subscription (the keys its push messages are encrypted to). */
export interface PushSubscriptionRow {
  id: string;
  walletAddress: string;
  endpoint: string;
  p256dh: string;
  auth: string;
}

/** Stores (or moves to this wallet) a browser's subscription; one row per push endpoint. */
export async function savePushSubscription(db: Knex, subscription: Omit<PushSubscriptionRow, 'id'>): Promise<{ id: string; created: boolean }> {
  const [row] = await db('push_subscriptions')
    .insert({ wallet_address: subscription.walletAddress.toLowerCase(), endpoint: subscription.endpoint, p256dh: subscription.p256dh, auth: subscription.auth })
    .onConflict('endpoint')
    .merge({ wallet_address: subscription.walletAddress.toLowerCase(), p256dh: subscription.p256dh, auth: subscription.auth, updated_at: db.fn.now() })
    .returning(db.raw('id, (xmax = 0) AS created'));
  const result = row as { id: string; created: boolean };
  return { id: result.id, created: result.created };
}

/** Removes a wallet's subscription by its endpoint; false if that wallet had none there. */
export async function deletePushSubscription(db: Knex, walletAddress: string, endpoint: string): Promise<boolean> {
  return (await db('push_subscriptions').where({ wallet_address: walletAddress.toLowerCase(), endpoint }).delete()) > 0;
}

/** Removes a subscription the push service said is gone (404/410). */
export async function removePushSubscription(db: Knex, id: string): Promise<void> {
  await db('push_subscriptions').where({ id }).delete();
}

export async function pushSubscriptionsOf(db: Knex, walletAddress: string): Promise<PushSubscriptionRow[]> {
  const rows: { id: string; wallet_address: string; endpoint: string; p256dh: string; auth: string }[] = await db('push_subscriptions')
    .where({ wallet_address: walletAddress.toLowerCase() })
    .select('id', 'wallet_address', 'endpoint', 'p256dh', 'auth');
  return rows.map((row) => ({ id: row.id, walletAddress: row.wallet_address, endpoint: row.endpoint, p256dh: row.p256dh, auth: row.auth }));
}

export async function pushSubscriptionById(db: Knex, id: string): Promise<PushSubscriptionRow | undefined> {
  const row: { id: string; wallet_address: string; endpoint: string; p256dh: string; auth: string } | undefined = await db('push_subscriptions')
    .where({ id })
    .first();
  return row && { id: row.id, walletAddress: row.wallet_address, endpoint: row.endpoint, p256dh: row.p256dh, auth: row.auth };
}

/** A webhook endpoint as admins see it (never its secrets). */
export interface WebhookEndpoint {
  id: string;
  url: string;
  /** Status event names it receives; `*` for all. */
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  createdBy: string;
  createdAt: string;
  /** Until when deliveries are also signed with the previous secret (after a rotation). */
  previousSecretExpiresAt: string | null;
}

/** An endpoint with the secrets deliveries are signed with: the current one, and the previous one while it is still valid. */
export interface WebhookSigningEndpoint extends WebhookEndpoint {
  secrets: string[];
}

interface EndpointRow {
  id: string;
  url: string;
  events: string[];
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  enabled: boolean;
  disabled_reason: string | null;
  created_by: string;
  created_at: Date;
}

const endpointOf = (row: EndpointRow): WebhookEndpoint => ({
  id: row.id,
  url: row.url,
  events: row.events,
  enabled: row.enabled,
  disabledReason: row.disabled_reason,
  createdBy: row.created_by,
  createdAt: row.created_at.toISOString(),
  previousSecretExpiresAt: row.previous_secret_expires_at && row.previous_secret_expires_at > new Date() ? row.previous_secret_expires_at.toISOString() : null,
});

const signingOf = (row: EndpointRow): WebhookSigningEndpoint => ({
  ...endpointOf(row),
  secrets: [row.secret, ...(row.previous_secret && row.previous_secret_expires_at && row.previous_secret_expires_at > new Date() ? [row.previous_secret] : [])],
});

export async function createWebhookEndpoint(db: Knex, input: { url: string; events: string[]; secret: string; createdBy: string }): Promise<WebhookEndpoint> {
  const [row] = await db('webhook_endpoints')
    .insert({ url: input.url, events: input.events, secret: input.secret, created_by: input.createdBy })
    .returning('*');
  return endpointOf(row as EndpointRow);
}

export async function listWebhookEndpoints(db: Knex): Promise<WebhookEndpoint[]> {
  const rows: EndpointRow[] = await db('webhook_endpoints').orderBy('created_at');
  return rows.map(endpointOf);
}

export async function webhookEndpointById(db: Knex, id: string): Promise<WebhookSigningEndpoint | undefined> {
  const row: EndpointRow | undefined = await db('webhook_endpoints').where({ id }).first();
  return row && signingOf(row);
}

/** Enabled endpoints that want this event name. */
export async function webhookEndpointsFor(db: Knex, event: string): Promise<WebhookSigningEndpoint[]> {
  const rows: EndpointRow[] = await db('webhook_endpoints').where({ enabled: true }).whereRaw(`events && ARRAY[?, '*']::text[]`, [event]);
  return rows.map(signingOf);
}

export async function deleteWebhookEndpoint(db: Knex, id: string): Promise<boolean> {
  return (await db('webhook_endpoints').where({ id }).delete()) > 0;
}

/** Changes an endpoint's URL, events or enabled flag (enabling clears the reason it was disabled). */
export async function updateWebhookEndpoint(
  db: Knex,
  id: string,
  change: { url?: string; events?: string[]; enabled?: boolean },
): Promise<WebhookEndpoint | undefined> {
  const [row] = await db('webhook_endpoints')
    .where({ id })
    .update({
      ...(change.url !== undefined ? { url: change.url } : {}),
      ...(change.events !== undefined ? { events: change.events } : {}),
      ...(change.enabled !== undefined ? { enabled: change.enabled, disabled_reason: null } : {}),
    })
    .returning('*');
  return row ? endpointOf(row as EndpointRow) : undefined;
}

/** Disables an endpoint (its receiver answered 410 Gone); an admin can enable it again. */
export async function disableWebhookEndpoint(db: Knex, id: string, reason: string): Promise<void> {
  await db('webhook_endpoints').where({ id }).update({ enabled: false, disabled_reason: reason });
}

/** Replaces an endpoint's secret; the old one keeps signing (as a second signature) for `overlapSeconds`. */
export async function rotateWebhookSecret(db: Knex, id: string, newSecret: string, overlapSeconds: number): Promise<WebhookEndpoint | undefined> {
  const [row] = await db('webhook_endpoints')
    .where({ id })
    .update({ previous_secret: db.ref('secret'), previous_secret_expires_at: db.raw(`now() + make_interval(secs => ?)`, [overlapSeconds]), secret: newSecret })
    .returning('*');
  return row ? endpointOf(row as EndpointRow) : undefined;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed' | 'gone';

export interface WebhookAttempt {
  attempt: number;
  at: string;
  statusCode: number | null;
  response: string | null;
  durationMs: number;
}

export interface WebhookDelivery {
  id: string;
  endpointId: string;
  uploadId: string;
  seq: number;
  event: string;
  payload: unknown;
  status: WebhookDeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  createdAt: string;
  finishedAt: string | null;
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  upload_id: string;
  seq: number;
  event: string;
  payload: unknown;
  status: WebhookDeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  created_at: Date;
  finished_at: Date | null;
}

const deliveryOf = (row: DeliveryRow): WebhookDelivery => ({
  id: row.id,
  endpointId: row.endpoint_id,
  uploadId: row.upload_id,
  seq: row.seq,
  event: row.event,
  payload: row.payload,
  status: row.status,
  attempts: row.attempts,
  lastStatusCode: row.last_status_code,
  createdAt: row.created_at.toISOString(),
  finishedAt: row.finished_at?.toISOString() ?? null,
});

/** Creates the delivery of one event to one endpoint, or returns the one that exists (another replica made it). */
export async function createWebhookDelivery(
  db: Knex,
  input: { endpointId: string; uploadId: string; seq: number; event: string; payload: unknown },
): Promise<WebhookDelivery> {
  const [inserted] = await db('webhook_deliveries')
    .insert({ endpoint_id: input.endpointId, upload_id: input.uploadId, seq: input.seq, event: input.event, payload: JSON.stringify(input.payload) })
    .onConflict(['endpoint_id', 'upload_id', 'seq'])
    .ignore()
    .returning('*');
  const row: DeliveryRow =
    inserted ?? (await db('webhook_deliveries').where({ endpoint_id: input.endpointId, upload_id: input.uploadId, seq: input.seq }).first());
  return deliveryOf(row);
}

export async function webhookDeliveryById(db: Knex, id: string): Promise<WebhookDelivery | undefined> {
  const row: DeliveryRow | undefined = await db('webhook_deliveries').where({ id }).first();
  return row && deliveryOf(row);
}

/** True while an earlier event of the same upload to the same endpoint is still being delivered: this one waits behind it. */
export async function hasEarlierPendingDelivery(db: Knex, delivery: Pick<WebhookDelivery, 'endpointId' | 'uploadId' | 'seq'>): Promise<boolean> {
  const row = await db('webhook_deliveries')
    .where({ endpoint_id: delivery.endpointId, upload_id: delivery.uploadId, status: 'pending' })
    .andWhere('seq', '<', delivery.seq)
    .first('id');
  return row !== undefined;
}

/** How many of the upload's events `seqs` have no delivery to this endpoint yet (in any state). */
export async function missingWebhookDeliveries(db: Knex, delivery: Pick<WebhookDelivery, 'endpointId' | 'uploadId'>, seqs: number[]): Promise<number> {
  const rows: { seq: number }[] = await db('webhook_deliveries')
    .where({ endpoint_id: delivery.endpointId, upload_id: delivery.uploadId })
    .whereIn('seq', seqs)
    .select('seq');
  return new Set(seqs).size - new Set(rows.map((row) => Number(row.seq))).size;
}

/** Logs one attempt and its answer, and counts it on the delivery. */
export async function recordWebhookAttempt(db: Knex, deliveryId: string, attempt: Omit<WebhookAttempt, 'at' | 'attempt'>): Promise<number> {
  return db.transaction(async (trx) => {
    const [row] = await trx('webhook_deliveries')
      .where({ id: deliveryId })
      .increment('attempts', 1)
      .update({ last_status_code: attempt.statusCode })
      .returning('attempts');
    const number = (row as { attempts: number }).attempts;
    await trx('webhook_attempts').insert({
      delivery_id: deliveryId,
      attempt: number,
      status_code: attempt.statusCode,
      response: attempt.response,
      duration_ms: attempt.durationMs,
    });
    return number;
  });
}

/** Ends a delivery: delivered, failed for good, or gone (the receiver answered 410). */
export async function finishWebhookDelivery(db: Knex, deliveryId: string, status: Exclude<WebhookDeliveryStatus, 'pending'>): Promise<void> {
  await db('webhook_deliveries').where({ id: deliveryId }).update({ status, finished_at: db.fn.now() });
}

/** Puts a delivery back to pending for an admin's replay; undefined if there is no such delivery. */
export async function reopenWebhookDelivery(db: Knex, deliveryId: string): Promise<WebhookDelivery | undefined> {
  const [row] = await db('webhook_deliveries').where({ id: deliveryId }).update({ status: 'pending', finished_at: null }).returning('*');
  return row ? deliveryOf(row as DeliveryRow) : undefined;
}

/** An endpoint's deliveries, newest first, each with its attempts. */
export async function listWebhookDeliveries(
  db: Knex,
  endpointId: string,
  options: { status?: WebhookDeliveryStatus; limit: number },
): Promise<(WebhookDelivery & { attemptLog: WebhookAttempt[] })[]> {
  const rows: DeliveryRow[] = await db('webhook_deliveries')
    .where({ endpoint_id: endpointId, ...(options.status ? { status: options.status } : {}) })
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'seq', order: 'desc' },
    ])
    .limit(options.limit);
  const attempts: { delivery_id: string; attempt: number; at: Date; status_code: number | null; response: string | null; duration_ms: number }[] =
    rows.length === 0
      ? []
      : await db('webhook_attempts')
          .whereIn(
            'delivery_id',
            rows.map((row) => row.id),
          )
          .orderBy('id');
  return rows.map((row) => ({
    ...deliveryOf(row),
    attemptLog: attempts
      .filter((a) => a.delivery_id === row.id)
      .map((a) => ({ attempt: a.attempt, at: a.at.toISOString(), statusCode: a.status_code, response: a.response, durationMs: a.duration_ms })),
  }));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whom a status event concerns, from Postgres, for events long after the upload (a listing expired,
 * removed, an edit decided) whose record in Redis may have expired: a listing's owner and title, or
 * for a profile edit's decision (published under the revision's id) its author. Undefined otherwise.
 */
export async function statusSubjectOf(db: Knex, id: string): Promise<{ owner: string; title: string } | undefined> {
  if (!UUID.test(id)) return undefined;
  const listing = await db('listings')
    .join('users', 'users.id', 'listings.user_id')
    .where('listings.id', id)
    .first<{ owner: string; title: string } | undefined>('users.wallet_address as owner', 'listings.title as title');
  if (listing) return { owner: listing.owner, title: listing.title };
  const profileEdit = await db('listing_revisions')
    .join('users', 'users.id', 'listing_revisions.user_id')
    .where({ 'listing_revisions.id': id, 'listing_revisions.kind': 'profile' })
    .first<{ owner: string } | undefined>('users.wallet_address as owner');
  return profileEdit ? { owner: profileEdit.owner, title: 'your profile' } : undefined;
}
