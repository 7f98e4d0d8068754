import { Router } from 'express';
import { api, type Listing } from '@reelboard/api';
import { autocompleteHashtags, findListing, findUserProfile, type Knex, type ListingSearch, type ListingView, searchListings } from '@reelboard/db';
import type { ObjectStorage } from '@reelboard/storage';
import { HttpError } from '../infra/http-error.js';
import type { Bind } from './bind.js';

export interface ListingRoutesDeps {
  bind: Bind;
  db: Knex;
  storage: ObjectStorage;
  /** Seconds a client or proxy may cache a read answer (kept below the URL lifetime). */
  cacheSeconds: number;
}

/**
 * The lowest rung's object, which a listing's page plays with a plain `<video src>` before the adaptive
 * player has loaded: beside the manifest, named by the rung's short side as the streaming contract
 * names it (`video-<name>p.webm`, packages/media's rungFileName). Null without a manifest.
 */
export function startKey(view: Pick<ListingView, 'objects' | 'renditions'>): string | null {
  const manifest = view.objects.manifest;
  const lowest = [...view.renditions].sort((a, b) => Math.min(a.width, a.height) - Math.min(b.width, b.height))[0];
  if (!manifest || !lowest) return null;
  return `${manifest.slice(0, manifest.lastIndexOf('/') + 1)}video-${Math.min(lowest.width, lowest.height)}p.webm`;
}

/** Turns a stored listing into its public form, with presigned (or CDN) URLs. */
export async function presentListing(storage: ObjectStorage, view: ListingView): Promise<Listing> {
  const start = startKey(view);
  const [video, preview, poster, logo, startUrl] = await Promise.all([
    storage.urlFor(view.objects.video),
    storage.urlFor(view.objects.preview),
    storage.urlFor(view.objects.poster),
    view.objects.logo ? storage.urlFor(view.objects.logo) : Promise.resolve(null),
    start ? storage.urlFor(start) : Promise.resolve(null),
  ]);
  return {
    id: view.id,
    title: view.title,
    description: view.description,
    hashtags: view.hashtags,
    owner: { wallet: view.owner.walletAddress as `0x${string}`, displayName: view.owner.displayName },
    location: view.location,
    ...(view.distanceMeters !== undefined ? { distanceKm: Math.round(view.distanceMeters) / 1000 } : {}),
    video: {
      url: video,
      width: view.width,
      height: view.height,
      durationSeconds: view.durationSeconds,
      bytes: view.videoBytes,
      // Served by this API, not presigned: a manifest's segments (and a storyboard's sprites) are
      // named relative to it, which a presigned URL's signature cannot cover.
      manifestUrl: view.objects.manifest ? `/v1/listings/${view.id}/stream/manifest.mpd` : null,
      renditions: view.renditions,
      startUrl,
    },
    previewUrl: preview,
    posterUrl: poster,
    storyboardUrl: view.objects.storyboard ? `/v1/listings/${view.id}/storyboard.vtt` : null,
    logoUrl: logo,
    price: view.price,
    contact: view.contact,
    state: view.state === 'sold' ? 'sold' : 'active',
    soldAt: view.soldAt,
    expiresAt: view.expiresAt,
    createdAt: view.createdAt,
  };
}

/** Runs a search (a foreign cursor throws InvalidCursorError: a 400 by the domain-error table). */
export async function searchPage(
  db: Knex,
  storage: ObjectStorage,
  search: ListingSearch,
): Promise<{ items: Listing[]; nextCursor: string | null; matched?: 'words' | 'similar' }> {
  const page = await searchListings(db, search);
  return {
    items: await Promise.all(page.items.map((view) => presentListing(storage, view))),
    nextCursor: page.nextCursor,
    ...(page.matched ? { matched: page.matched } : {}),
  };
}

/** The public read API: approved listings by hashtags, distance and owner; hashtag autocomplete; profiles. */
export function listingRoutes({ bind, db, storage, cacheSeconds }: ListingRoutesDeps): Router {
  const router = Router();
  const headers = { 'cache-control': `public, max-age=${cacheSeconds}` };

  bind(router, api.searchListings).to(async ({ query }) => ({ status: 200, headers, body: await searchPage(db, storage, query) }));

  bind(router, api.getListing).to(async ({ params }) => {
    const listing = await findListing(db, params.id);
    if (!listing) {
      // A listing that was public and ran out (expired, or sold past its display) says so: 410, not 404.
      // One held because a reorg took its payment back has not run out: it is simply not public.
      const gone = await findListing(db, params.id, { anyStatus: true });
      if (
        gone?.moderationStatus === 'approved' &&
        (gone.state === 'sold' || (gone.state === 'active' && gone.expiresAt !== null && Date.parse(gone.expiresAt) <= Date.now()))
      ) {
        const state = gone.state === 'sold' ? 'sold' : 'expired';
        throw new HttpError(410, `listing_${state}`, `listing ${gone.id} is ${state} and no longer shown`, { state, title: gone.title });
      }
      throw new HttpError(404, 'listing_not_found', `no public listing ${params.id}`);
    }
    return { status: 200, headers, body: await presentListing(storage, listing) };
  });

  bind(router, api.suggestHashtags).to(async ({ query }) => ({
    status: 200,
    headers,
    body: { prefix: query.prefix, hashtags: await autocompleteHashtags(db, query.prefix, query.limit) },
  }));

  bind(router, api.getUser).to(async ({ params, query }) => {
    const profile = await findUserProfile(db, params.wallet);
    if (!profile) throw new HttpError(404, 'user_not_found', `no user with wallet ${params.wallet.toLowerCase()}`);
    const listings = await searchPage(db, storage, { owner: profile.walletAddress, limit: query.limit, cursor: query.cursor });
    return {
      status: 200,
      headers,
      body: {
        wallet: profile.walletAddress as `0x${string}`,
        displayName: profile.displayName,
        contact: profile.contact,
        logoUrl: profile.logoKey ? await storage.urlFor(profile.logoKey) : null,
        memberSince: profile.createdAt,
        listingCount: profile.listings,
        listings,
      },
    };
  });

  return router;
}
