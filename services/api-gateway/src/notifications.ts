import { randomBytes } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import { notificationJobIds, type notificationQueue, type WebhookJob } from '@reelboard/bus';
import { statusEventNames, unnotifiedEvents } from '@reelboard/contracts';
import {
  createWebhookEndpoint,
  deletePushSubscription,
  deleteWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  reopenWebhookDelivery,
  rotateWebhookSecret,
  webhookDeliveryById,
  savePushSubscription,
  updateWebhookEndpoint,
  webhookEndpointById,
  type Knex,
  type WebhookDeliveryStatus,
} from '@reelboard/db';
import type { Logger } from '@reelboard/logger';
import { z } from '@reelboard/config';
import { requireAdmin, type AdminRoutesDeps } from './admin.js';
import { HttpError } from './http-error.js';

export interface NotificationRoutesDeps extends Pick<AdminRoutesDeps, 'adminAddresses' | 'adminToken' | 'requireSession'> {
  db: Knex;
  log: Logger;
  /** The VAPID public key browsers subscribe with; undefined when Web Push is off. */
  vapidPublicKey: string | undefined;
  /** Host names (or their parent domains) a push subscription's endpoint may be on. */
  pushAllowedHosts: readonly string[];
  /** The notifier's webhook queue, where replays go. */
  webhookQueue: ReturnType<typeof notificationQueue>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const base64url = (bytes: number) => z.string().regex(new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((bytes * 4) / 3)}}={0,2}$`), { error: `must be ${bytes} bytes in base64url` });

/** A browser's PushSubscription as `JSON.stringify(subscription)` gives it. */
const pushSubscriptionSchema = z.object({
  endpoint: z.url({ protocol: /^https$/, error: 'endpoint must be an https URL (the browser push service)' }).max(2048),
  expirationTime: z.number().nullable().optional(),
  keys: z.object({ p256dh: base64url(65), auth: base64url(16) }, { error: 'keys.p256dh and keys.auth are required' }),
});

/** Names a webhook may subscribe to: every status event that changes a state, or `*`. */
const webhookEventNames = statusEventNames.filter((name) => !unnotifiedEvents.has(name));
const eventsSchema = z
  .array(z.string())
  .min(1, { error: 'events must name at least one event, or "*"' })
  .max(50)
  .refine((events) => events.every((event) => event === '*' || (webhookEventNames as readonly string[]).includes(event)), {
    error: `events must be "*" or among: ${webhookEventNames.join(', ')}`,
  });
const webhookUrlSchema = z.url({ protocol: /^https?$/, error: 'url must be an http or https URL' }).max(2048);
const createWebhookSchema = z.object({
  url: webhookUrlSchema,
  events: eventsSchema,
  /** Given by the admin, or generated; at least 24 characters. */
  secret: z.string().min(24, { error: 'secret must be at least 24 characters' }).max(200).optional(),
});
const updateWebhookSchema = z.object({ url: webhookUrlSchema.optional(), events: eventsSchema.optional(), enabled: z.boolean().optional() }).strict();
const rotateSchema = z.object({ overlapSeconds: z.number().int().min(0).max(7 * 24 * 3600).optional() }).strict();
const DELIVERY_STATUSES: readonly WebhookDeliveryStatus[] = ['pending', 'delivered', 'failed', 'gone'];

function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new HttpError(400, 'invalid_body', issue?.message ?? 'invalid body', { field: issue?.path.join('.') || undefined });
  }
  return result.data;
}

const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

/** True if `host` is one of the allowed hosts or under one of them. */
const hostAllowed = (host: string, allowed: readonly string[]) => allowed.some((entry) => host === entry || host.endsWith(`.${entry}`));

/**
 * Web Push subscriptions of the signed-in wallet, the VAPID public key, and (for admins) webhook
 * endpoints with their delivery log and replay.
 */
export function notificationRoutes(deps: NotificationRoutesDeps): Router {
  const { db, log } = deps;
  const router = Router();

  router.get('/v1/push/vapid-public-key', (_req, res) => {
    if (!deps.vapidPublicKey) throw new HttpError(503, 'push_not_configured', 'Web Push is not configured on this server (VAPID_PUBLIC_KEY)');
    res.json({ publicKey: deps.vapidPublicKey });
  });

  router.post('/v1/me/push-subscriptions', deps.requireSession, async (req, res) => {
    if (!deps.vapidPublicKey) throw new HttpError(503, 'push_not_configured', 'Web Push is not configured on this server (VAPID_PUBLIC_KEY)');
    const body = parseBody(pushSubscriptionSchema, req.body);
    const host = new URL(body.endpoint).hostname;
    if (!hostAllowed(host, deps.pushAllowedHosts)) {
      throw new HttpError(400, 'invalid_body', `endpoint host ${host} is not a known push service (PUSH_ALLOWED_HOSTS)`, { field: 'endpoint' });
    }
    const saved = await savePushSubscription(db, { walletAddress: String(res.locals.address), endpoint: body.endpoint, p256dh: body.keys.p256dh, auth: body.keys.auth });
    res.status(saved.created ? 201 : 200).json({ id: saved.id });
  });

  router.delete('/v1/me/push-subscriptions', deps.requireSession, async (req, res) => {
    const body = parseBody(z.object({ endpoint: z.string({ error: 'endpoint is required' }).min(1, { error: 'endpoint is required' }) }), req.body);
    if (!(await deletePushSubscription(db, String(res.locals.address), body.endpoint))) {
      throw new HttpError(404, 'subscription_not_found', 'this wallet has no push subscription with that endpoint');
    }
    res.status(204).end();
  });

  const admin: RequestHandler = requireAdmin(deps);
  const endpointId = (raw: unknown): string => {
    const id = String(raw);
    if (!UUID.test(id)) throw new HttpError(404, 'webhook_not_found', `no webhook endpoint ${id}`);
    return id.toLowerCase();
  };

  router.post('/v1/admin/webhooks', admin, async (req, res) => {
    const body = parseBody(createWebhookSchema, req.body);
    const secret = body.secret ?? newSecret();
    const endpoint = await createWebhookEndpoint(db, { url: body.url, events: body.events, secret, createdBy: String(res.locals.actor) });
    log.info('webhook endpoint registered', { endpointId: endpoint.id, url: endpoint.url, events: endpoint.events, actor: res.locals.actor });
    // The secret is shown once, here; it is never listed again.
    res.status(201).json({ ...endpoint, secret });
  });

  router.get('/v1/admin/webhooks', admin, async (_req, res) => {
    res.set('cache-control', 'no-store').json({ endpoints: await listWebhookEndpoints(db) });
  });

  router.patch('/v1/admin/webhooks/:id', admin, async (req, res) => {
    const id = endpointId(req.params.id);
    const body = parseBody(updateWebhookSchema, req.body);
    const endpoint = await updateWebhookEndpoint(db, id, body);
    if (!endpoint) throw new HttpError(404, 'webhook_not_found', `no webhook endpoint ${id}`);
    res.json(endpoint);
  });

  router.delete('/v1/admin/webhooks/:id', admin, async (req, res) => {
    const id = endpointId(req.params.id);
    if (!(await deleteWebhookEndpoint(db, id))) throw new HttpError(404, 'webhook_not_found', `no webhook endpoint ${id}`);
    res.status(204).end();
  });

  router.post('/v1/admin/webhooks/:id/rotate-secret', admin, async (req, res) => {
    const id = endpointId(req.params.id);
    const body = parseBody(rotateSchema, req.body);
    const secret = newSecret();
    const endpoint = await rotateWebhookSecret(db, id, secret, body.overlapSeconds ?? 24 * 3600);
    if (!endpoint) throw new HttpError(404, 'webhook_not_found', `no webhook endpoint ${id}`);
    log.info('webhook secret rotated', { endpointId: id, actor: res.locals.actor, previousSecretExpiresAt: endpoint.previousSecretExpiresAt });
    res.json({ ...endpoint, secret });
  });

  router.get('/v1/admin/webhooks/:id/deliveries', admin, async (req, res) => {
    const id = endpointId(req.params.id);
    const status = req.query.status as WebhookDeliveryStatus | undefined;
    if (status !== undefined && !DELIVERY_STATUSES.includes(status)) throw new HttpError(400, 'invalid_query', `status must be one of ${DELIVERY_STATUSES.join(', ')}`, { field: 'status' });
    const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new HttpError(400, 'invalid_query', 'limit must be an integer from 1 to 200', { field: 'limit' });
    if (!(await webhookEndpointById(db, id))) throw new HttpError(404, 'webhook_not_found', `no webhook endpoint ${id}`);
    res.set('cache-control', 'no-store').json({ deliveries: await listWebhookDeliveries(db, id, { ...(status ? { status } : {}), limit }) });
  });

  router.post('/v1/admin/webhooks/deliveries/:deliveryId/replay', admin, async (req, res) => {
    const raw = String(req.params.deliveryId);
    if (!UUID.test(raw)) throw new HttpError(404, 'delivery_not_found', `no webhook delivery ${raw}`);
    const current = await webhookDeliveryById(db, raw.toLowerCase());
    if (!current) throw new HttpError(404, 'delivery_not_found', `no webhook delivery ${raw}`);
    // A pending delivery is still being sent (or retried): a second sender would double it.
    if (current.status === 'pending') throw new HttpError(409, 'delivery_pending', 'this delivery is still being sent; replay it once it is delivered, failed or gone');
    const delivery = await reopenWebhookDelivery(db, current.id);
    if (!delivery) throw new HttpError(404, 'delivery_not_found', `no webhook delivery ${raw}`);
    const job: WebhookJob = { deliveryId: delivery.id };
    await deps.webhookQueue.add('webhook', job, { jobId: notificationJobIds.webhookReplay(delivery.id, Date.now()) });
    log.info('webhook delivery replayed', { deliveryId: delivery.id, actor: res.locals.actor });
    res.status(202).json({ deliveryId: delivery.id, status: delivery.status });
  });

  return router;
}
