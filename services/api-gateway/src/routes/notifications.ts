import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { api, type WebhookDelivery, type WebhookEndpoint } from '@reelboard/api';
import type { Bus } from '@reelboard/bus';
import {
  createWebhookEndpoint,
  deletePushSubscription,
  deleteWebhookEndpoint,
  type Knex,
  listWebhookDeliveries,
  listWebhookEndpoints,
  reopenWebhookDelivery,
  rotateWebhookSecret,
  savePushSubscription,
  updateWebhookEndpoint,
  webhookDeliveryById,
  webhookEndpointById,
} from '@reelboard/db';
import type { Logger } from '@reelboard/logger';
import { HttpError } from '../infra/http-error.js';
import type { Bind } from './bind.js';

type WebhookWithSecret = WebhookEndpoint & { secret: string };

export interface NotificationRoutesDeps {
  bind: Bind;
  db: Knex;
  log: Logger;
  /** The VAPID public key browsers subscribe with; undefined when Web Push is off. */
  vapidPublicKey: string | undefined;
  /** Host names (or their parent domains) a push subscription's endpoint may be on. */
  pushAllowedHosts: readonly string[];
  /** Replays go to the notifier's `notify.webhook` queue. */
  bus: Pick<Bus, 'publish'>;
}

const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

/** True if `host` is one of the allowed hosts or under one of them. */
const hostAllowed = (host: string, allowed: readonly string[]) => allowed.some((entry) => host === entry || host.endsWith(`.${entry}`));

/**
 * Web Push subscriptions of the signed-in wallet, the VAPID public key, and (for admins) webhook
 * endpoints with their delivery log and replay.
 */
export function notificationRoutes(deps: NotificationRoutesDeps): Router {
  const { bind, db, log } = deps;
  const router = Router();
  const pushConfigured = () => {
    if (!deps.vapidPublicKey) throw new HttpError(503, 'push_not_configured', 'Web Push is not configured on this server (VAPID_PUBLIC_KEY)');
    return deps.vapidPublicKey;
  };
  const webhookNotFound = (id: string) => new HttpError(404, 'webhook_not_found', `no webhook endpoint ${id}`);

  bind(router, api.getVapidKey).to(async () => ({ status: 200, body: { publicKey: pushConfigured() } }));

  bind(router, api.subscribePush).to(async ({ body, caller }) => {
    pushConfigured();
    const host = new URL(body.endpoint).hostname;
    if (!hostAllowed(host, deps.pushAllowedHosts)) {
      throw new HttpError(400, 'invalid_body', `endpoint host ${host} is not a known push service (PUSH_ALLOWED_HOSTS)`, { field: 'endpoint' });
    }
    const saved = await savePushSubscription(db, { walletAddress: caller.address, endpoint: body.endpoint, p256dh: body.keys.p256dh, auth: body.keys.auth });
    return { status: saved.created ? 201 : 200, body: { id: saved.id } };
  });

  bind(router, api.unsubscribePush).to(async ({ body, caller }) => {
    if (!(await deletePushSubscription(db, caller.address, body.endpoint))) {
      throw new HttpError(404, 'subscription_not_found', 'this wallet has no push subscription with that endpoint');
    }
    return { status: 204, body: undefined };
  });

  bind(router, api.createWebhook).to(async ({ body, caller }) => {
    const secret = body.secret ?? newSecret();
    const endpoint = await createWebhookEndpoint(db, { url: body.url, events: body.events, secret, createdBy: caller.actor });
    log.info('webhook endpoint registered', { endpointId: endpoint.id, url: endpoint.url, events: endpoint.events, actor: caller.actor });
    // The secret is shown once, here; it is never listed again.
    return { status: 201, body: { ...endpoint, secret } as WebhookWithSecret };
  });

  bind(router, api.listWebhooks).to(async () => ({
    status: 200,
    headers: { 'cache-control': 'no-store' },
    body: { endpoints: (await listWebhookEndpoints(db)) as WebhookEndpoint[] },
  }));

  bind(router, api.updateWebhook).to(async ({ params, body }) => {
    const endpoint = await updateWebhookEndpoint(db, params.id, body);
    if (!endpoint) throw webhookNotFound(params.id);
    return { status: 200, body: endpoint as WebhookEndpoint };
  });

  bind(router, api.deleteWebhook).to(async ({ params }) => {
    if (!(await deleteWebhookEndpoint(db, params.id))) throw webhookNotFound(params.id);
    return { status: 204, body: undefined };
  });

  bind(router, api.rotateWebhookSecret).to(async ({ params, body, caller }) => {
    const secret = newSecret();
    const endpoint = await rotateWebhookSecret(db, params.id, secret, body.overlapSeconds ?? 24 * 3600);
    if (!endpoint) throw webhookNotFound(params.id);
    log.info('webhook secret rotated', { endpointId: params.id, actor: caller.actor, previousSecretExpiresAt: endpoint.previousSecretExpiresAt });
    return { status: 200, body: { ...endpoint, secret } as WebhookWithSecret };
  });

  bind(router, api.listWebhookDeliveries).to(async ({ params, query }) => {
    if (!(await webhookEndpointById(db, params.id))) throw webhookNotFound(params.id);
    const deliveries = await listWebhookDeliveries(db, params.id, { ...(query.status ? { status: query.status } : {}), limit: query.limit });
    return { status: 200, headers: { 'cache-control': 'no-store' }, body: { deliveries: deliveries as WebhookDelivery[] } };
  });

  bind(router, api.replayWebhookDelivery).to(async ({ params, caller }) => {
    const current = await webhookDeliveryById(db, params.deliveryId);
    if (!current) throw new HttpError(404, 'delivery_not_found', `no webhook delivery ${params.deliveryId}`);
    // A pending delivery is still being sent (or retried): a second sender would double it.
    if (current.status === 'pending')
      throw new HttpError(409, 'delivery_pending', 'this delivery is still being sent; replay it once it is delivered, failed or gone');
    const delivery = await reopenWebhookDelivery(db, current.id);
    if (!delivery) throw new HttpError(404, 'delivery_not_found', `no webhook delivery ${params.deliveryId}`);
    await deps.bus.publish('notify.webhook', { deliveryId: delivery.id, replayRequestedAt: Date.now() });
    log.info('webhook delivery replayed', { deliveryId: delivery.id, actor: caller.actor });
    return { status: 202, body: { deliveryId: delivery.id, status: 'pending' as const } };
  });

  return router;
}
