import { type Request, type Response, Router } from 'express';
import { api } from '@reelboard/api';
import { findListing, type Knex } from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';
import { dashKeys } from '@reelboard/storage';
import { HttpError } from '../infra/http-error.js';
import type { Viewer } from '../infra/viewer.js';
import { type ManifestStorage, servedManifest } from '../use-cases/stream-manifest.js';
import type { Bind } from './bind.js';

export interface StreamRoutesDeps {
  bind: Bind;
  db: Knex;
  storage: ManifestStorage;
  uploads: Pick<Uploads, 'owner'>;
  /** Who calls (owner, admin or anyone), for listings that are not public. */
  viewer: (req: Request) => Promise<Viewer>;
  /** Seconds a public manifest may be cached: below the segment URLs' lifetime (READ_CACHE_SECONDS). */
  cacheSeconds: number;
}

const sendManifest = (res: Response, mpd: string, cacheControl: string) => {
  res.status(200).type('application/dash+xml').set('cache-control', cacheControl).send(mpd);
  return undefined;
};

/** Adaptive streaming: the DASH manifests, with segment URLs the client fetches from object storage. */
export function streamRoutes({ bind, db, storage, uploads, viewer, cacheSeconds }: StreamRoutesDeps): Router {
  const router = Router();

  bind(router, api.getListingManifest).to(async ({ params, req, res }) => {
    const listing = await findListing(db, params.id);
    if (listing) return sendManifest(res, await servedManifest(storage, listing.objects.manifest), `public, max-age=${cacheSeconds}`);
    // Not public (pending, rejected, held, expired...): its owner and admins still watch it.
    const hidden = await findListing(db, params.id, { anyStatus: true });
    const who = hidden ? await viewer(req) : undefined;
    if (!hidden || !who || !(who.admin || who.address === hidden.owner.walletAddress.toLowerCase())) {
      throw new HttpError(404, 'listing_not_found', `no listing ${params.id} visible to you`);
    }
    return sendManifest(res, await servedManifest(storage, hidden.objects.manifest), 'private, no-store');
  });

  bind(router, api.getUploadManifest).to(async ({ params, caller, res }) => {
    if ((await uploads.owner(params.id)) !== caller.address) throw new HttpError(404, 'upload_not_found', 'no such upload');
    // Rungs join this manifest while the owner watches: never cached.
    return sendManifest(res, await servedManifest(storage, dashKeys(params.id).manifest), 'private, no-store');
  });

  return router;
}
