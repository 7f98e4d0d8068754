import { type Request, type Response, Router } from 'express';
import { findListing, type Knex, publicListingsForSitemap } from '@reelboard/db';
import type { ObjectStorage } from '@reelboard/storage';
import { presentListing } from '../routes/listings.js';
import { escapeHtml, listingHead, listingPreloads, listingStartPlayer, withHead, withInView } from './share-tags.js';

export interface AppPagesDeps {
  db: Knex;
  storage: ObjectStorage;
  /** The origin people reach the gateway at (PUBLIC_URL): canonical links, the sitemap and robots.txt name it. */
  publicUrl: string;
}

/**
 * The web client's own paths (packages/web/src/router.ts) the page is served at, besides `/`: a reload
 * or a shared link lands on the right view. `/listings/:id` is served apart, with its share tags.
 */
export const APP_PAGE_PATHS = [
  '/browse',
  '/sell',
  '/mine',
  '/favourites',
  '/saved-searches',
  '/moderate',
  '/unpaid',
  '/sellers/:wallet',
  '/uploads/:id',
] as const;

/** Paths the gateway answers itself: an unknown one under them stays a JSON 404, never the page. */
const SERVER_PATHS = /^\/(v1|docs|openapi\.json|admin|assets|sw\.js|healthz|readyz|metrics)(\/|$)/;

/**
 * Serves the page on the client's paths; a public listing's page with Open Graph, Twitter and JSON-LD
 * tags; `/sitemap.xml` of public listings and `/robots.txt`; and, for any other address a browser asks
 * for, the page with status 404 (the client shows "Page not found").
 */
export function appPageRoutes({ db, storage, publicUrl }: AppPagesDeps, page: () => Promise<string>): Router {
  const origin = publicUrl.replace(/\/+$/, '');
  const router = Router();
  const sendPage = (res: Response, status: number, html: string) => res.status(status).type('html').set('cache-control', 'no-cache').send(html);

  router.get([...APP_PAGE_PATHS], async (_req, res) => void sendPage(res, 200, await page()));

  router.get('/listings/:id', async (req, res) => {
    const html = await page();
    const view = await findListing(db, req.params.id);
    // Not public (pending, rejected, held, expired, removed, or no such id): the bare page, nothing of the listing in it.
    if (!view) return void sendPage(res, 404, html);
    const listing = await presentListing(storage, view);
    const head = listingHead(listing, `${origin}/listings/${listing.id}`);
    const withTags = withHead(html, { title: head.title, head: `${head.head}\n${listingPreloads(listing)}` });
    sendPage(res, 200, withInView(withTags, listingStartPlayer(listing)));
  });

  router.get('/sitemap.xml', async (_req, res) => {
    const entries = await publicListingsForSitemap(db);
    const urls = [
      `  <url><loc>${escapeHtml(`${origin}/`)}</loc></url>`,
      ...entries.map((entry) => `  <url><loc>${escapeHtml(`${origin}/listings/${entry.id}`)}</loc><lastmod>${entry.lastModified}</lastmod></url>`),
    ];
    res
      .type('application/xml')
      .set('cache-control', 'public, max-age=300')
      .send(`<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${urls.join('\n')}\n</urlset>\n`);
  });

  router.get('/robots.txt', (_req, res) => {
    res
      .type('text/plain')
      .set('cache-control', 'public, max-age=3600')
      .send(['User-agent: *', 'Disallow: /v1/', 'Disallow: /admin/', 'Allow: /', '', `Sitemap: ${origin}/sitemap.xml`, ''].join('\n'));
  });

  // Last: an address nobody routed. A browser gets the page (its router says "Page not found") with a 404.
  router.get(/.*/, async (req: Request, res, next) => {
    if (SERVER_PATHS.test(req.path) || !req.accepts('html')) return next();
    sendPage(res, 404, await page());
  });
  return router;
}
