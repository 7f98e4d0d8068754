import type { Request } from 'express';
import { Router } from 'express';
import { api } from '@reelboard/api';
import { findListing, type Knex, type ListingView } from '@reelboard/db';
import type { ObjectStorage } from '@reelboard/storage';
import { HttpError } from '../infra/http-error.js';
import type { Viewer } from '../infra/viewer.js';
import type { Bind } from './bind.js';

/** A WebVTT cue's image reference: a relative file name, optionally with a media fragment (#xywh=...). */
const CUE_IMAGE = /^([A-Za-z0-9._-]+\.(?:jpg|jpeg|png|webp))(#.*)?$/;

/**
 * Rewrites each cue's relative image name to the URL a browser fetches it at (storage.urlFor of the
 * file beside the index), keeping its `#xywh=` fragment; every other line is kept as it is.
 */
export async function rewriteStoryboard(vtt: string, folder: string, urlFor: (key: string) => Promise<string>): Promise<string> {
  const lines = vtt.split(/\r?\n/);
  const urls = new Map<string, string>();
  for (const line of lines) {
    const name = CUE_IMAGE.exec(line.trim())?.[1];
    if (name && !urls.has(name)) urls.set(name, await urlFor(`${folder}/${name}`));
  }
  return lines
    .map((line) => {
      const match = CUE_IMAGE.exec(line.trim());
      return match?.[1] ? `${urls.get(match[1])}${match[2] ?? ''}` : line;
    })
    .join('\n');
}

export interface StoryboardRoutesDeps {
  bind: Bind;
  db: Knex;
  storage: ObjectStorage;
  /** Who asks (infra/viewer.ts, shared with the stream routes): the owner and admins see a listing not public yet. */
  viewer: (req: Request) => Promise<Viewer>;
  /** Seconds a client may cache a public listing's index (kept below the presigned URLs' lifetime). */
  cacheSeconds: number;
}

/** The storyboard's WebVTT index, served by the API so its relative sprite names become fetchable URLs. */
export function storyboardRoutes({ bind, db, storage, viewer, cacheSeconds }: StoryboardRoutesDeps): Router {
  const router = Router();
  bind(router, api.getListingStoryboard).to(async ({ params, req, res }) => {
    const listing = await visibleListing(db, params.id, () => viewer(req));
    const key = listing.objects.storyboard;
    if (!key) throw new HttpError(404, 'storyboard_not_found', `listing ${listing.id} has no storyboard`);
    const folder = key.slice(0, key.lastIndexOf('/'));
    const vtt = await rewriteStoryboard((await storage.getBytes(key)).toString('utf8'), folder, (name) => storage.urlFor(name));
    res
      .status(200)
      .type('text/vtt')
      .set('cache-control', listing.public ? `public, max-age=${cacheSeconds}` : 'private, no-store')
      .send(vtt);
    return undefined;
  });
  return router;
}

/** The listing if the caller may see it: anyone a public one, its owner and admins any other; else 404. */
async function visibleListing(db: Knex, id: string, viewer: () => Promise<Viewer>): Promise<ListingView & { public: boolean }> {
  const shown = await findListing(db, id);
  if (shown) return { ...shown, public: true };
  const any = await findListing(db, id, { anyStatus: true });
  if (any) {
    const who = await viewer();
    if (who.admin || (who.address && who.address.toLowerCase() === any.owner.walletAddress.toLowerCase())) return { ...any, public: false };
  }
  throw new HttpError(404, 'listing_not_found', `no listing ${id} visible to you`);
}
