import { Router } from 'express';
import { api } from '@reelboard/api';
import type { GatewayConfig } from '../config.js';
import { cancelUnpaidUpload, currentPricing, listUnpaidUploads, type UnpaidUploadsDeps } from '../use-cases/unpaid-uploads.js';
import type { Bind } from './bind.js';

/** What a seller reads before and while paying: the fee, their unpaid uploads, and cancelling one. */
export function sellerRoutes(deps: UnpaidUploadsDeps & { bind: Bind; config: GatewayConfig }): Router {
  const { bind, config } = deps;
  const router = Router();
  const pricing = currentPricing(config);
  // The fee changes only with a redeploy: a minute of caching spares a request per form view.
  bind(router, api.getPricing).to(async () => ({ status: 200, headers: { 'cache-control': 'public, max-age=60' }, body: pricing }));
  bind(router, api.listMyUnpaidUploads).to(async ({ caller }) => ({
    status: 200,
    headers: { 'cache-control': 'private, no-store' },
    body: { items: await listUnpaidUploads(deps, caller.address) },
  }));
  bind(router, api.cancelUpload).to(async ({ params, caller }) => ({ status: 200, body: await cancelUnpaidUpload(deps, caller.address, params.id) }));
  return router;
}
