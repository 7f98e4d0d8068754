import { type RequestHandler, Router } from 'express';
import { api } from '@reelboard/api';
import {
  editOwnListing,
  editOwnProfile,
  type ListingLifeDeps,
  markOwnListingSold,
  myListings,
  myProfile,
  quoteRenewal,
  removeAndDelete,
  replaceOwnLogo,
  withdrawOwnListing,
} from '../use-cases/listing-life.js';
import type { Bind } from './bind.js';

/** The owner's routes over their listings and profile (rows of the route table; every one needs a SIWE session). */
export function listingLifeRoutes(deps: ListingLifeDeps & { bind: Bind; limitQuotes?: RequestHandler | undefined }): Router {
  const { bind } = deps;
  const router = Router();
  const privately = { 'cache-control': 'private, no-store' };
  bind(router, api.listMyListings).to(async ({ caller }) => ({ status: 200, headers: privately, body: { items: await myListings(deps, caller.address) } }));
  bind(router, api.editListing).to(async ({ params, body, caller }) => ({ status: 200, body: await editOwnListing(deps, caller.address, params.id, body) }));
  bind(router, api.replaceListingLogo).to(async ({ params, caller, req, res }) => ({
    status: 200,
    body: await replaceOwnLogo(deps, { wallet: caller.address, listingId: params.id, req, res }),
  }));
  bind(router, api.markListingSold).to(async ({ params, caller }) => ({ status: 200, body: await markOwnListingSold(deps, caller.address, params.id) }));
  bind(router, api.withdrawListing).to(async ({ params, caller }) => ({ status: 200, body: await withdrawOwnListing(deps, caller.address, params.id) }));
  bind(router, api.removeListing).to(async ({ params, caller }) => ({
    status: 200,
    body: await removeAndDelete(deps, { listingId: params.id, actor: caller.address.toLowerCase(), wallet: caller.address }),
  }));
  // A renewal quote costs what an upload's does (a ledger row, a watched address): the same per-wallet limit.
  bind(router, api.renewListing, { before: deps.limitQuotes ? [deps.limitQuotes] : [] }).to(async ({ params, caller }) => ({
    status: 202,
    body: await quoteRenewal(deps, caller.address, params.id),
  }));
  bind(router, api.getMyProfile).to(async ({ caller }) => ({ status: 200, headers: privately, body: await myProfile(deps, caller.address) }));
  bind(router, api.editMyProfile).to(async ({ body, caller }) => ({ status: 202, body: await editOwnProfile(deps, caller.address, body) }));
  return router;
}
