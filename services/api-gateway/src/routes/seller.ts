import { Router } from 'express';
import { api, type Pricing } from '@reelboard/api';
import type { GatewayConfig } from '../config.js';
import { baseUnitQuote, type PriceQuoter } from '../use-cases/quote-price.js';
import { cancelUnpaidUpload, currentPricing, listUnpaidUploads, type UnpaidUploadsDeps } from '../use-cases/unpaid-uploads.js';
import type { Bind } from './bind.js';

/** What a seller reads before and while paying: the fee, their unpaid uploads, and cancelling one. */
/** How often the fee shown is priced again (a native coin's follows its feed). */
const PRICING_READ_MS = 30_000;

export function sellerRoutes(deps: UnpaidUploadsDeps & { bind: Bind; config: GatewayConfig; quotePrice?: PriceQuoter | undefined }): Router {
  const { bind, config } = deps;
  const router = Router();
  const quote = deps.quotePrice ?? (async () => baseUnitQuote(config));
  // A native coin's fee follows its feed: read at most every PRICING_READ_MS, not once per form view.
  let read: { at: number; pricing: Promise<Pricing> } | undefined;
  const pricing = () => {
    if (!read || Date.now() - read.at > PRICING_READ_MS) {
      const current = { at: Date.now(), pricing: quote('upload').then((quoted) => currentPricing(config, quoted)) };
      // A refusal (no offer can be made now) is not kept: the next request asks again.
      current.pricing.catch(() => {
        if (read === current) read = undefined;
      });
      read = current;
    }
    return read.pricing;
  };
  // A minute of caching spares a request per form view; the quote itself locks its own rate.
  bind(router, api.getPricing).to(async () => ({ status: 200, headers: { 'cache-control': 'public, max-age=60' }, body: await pricing() }));
  bind(router, api.listMyUnpaidUploads).to(async ({ caller }) => ({
    status: 200,
    headers: { 'cache-control': 'private, no-store' },
    body: { items: await listUnpaidUploads(deps, caller.address) },
  }));
  bind(router, api.cancelUpload).to(async ({ params, caller }) => ({ status: 200, body: await cancelUnpaidUpload(deps, caller.address, params.id) }));
  return router;
}
