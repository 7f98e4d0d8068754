import { Router } from 'express';
import { api } from '@reelboard/api';
import { worldGazetteer } from '../places/gazetteer.js';
import type { Bind } from './bind.js';

/** Place names for the buyer's Near and the seller's location: answered from memory, never from a network service. */
export function placeRoutes({ bind }: { bind: Bind }): Router {
  const router = Router();
  // The gazetteer only changes with the package: a day of caching is safe.
  const headers = { 'cache-control': 'public, max-age=86400' };
  bind(router, api.suggestPlaces).to(async ({ query }) => ({
    status: 200,
    headers,
    body: { q: query.q, places: worldGazetteer().search(query.q, query.limit) },
  }));
  return router;
}
