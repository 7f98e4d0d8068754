import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DefaultTreeAdapterMap, parse } from 'parse5';
import { connectRedis } from '@reelboard/bus';
import { saveListing } from '@reelboard/db';
import { listingInput, randomWallet } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { APP_PATHS } from '../../../packages/web/src/router.js';
import { type Gateway, startGateway } from './harness.js';

// The gateway serves the web client on its own paths, and a public listing's page with the tags a
// messenger or search engine reads; the pages are fetched and parsed as a crawler would (parse5, the
// HTML standard's parsing), so an escape that fails shows as a tag or text out of place.

type Element = DefaultTreeAdapterMap['element'];
type Node = DefaultTreeAdapterMap['node'];

const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'share-pages-test');
const HOSTILE = `"><script>alert(1)</script><!-- & 'x' </title></head>`;
const HOSTILE_DESCRIPTION = `Nice </script><script>alert(2)</script> \u2028 bike & "more"`;
let gw: Gateway;
const ids: Record<string, string> = {};
const owner = randomWallet();

const elements = (node: Node, found: Element[] = []): Element[] => {
  if ('tagName' in node) found.push(node);
  for (const child of 'childNodes' in node ? node.childNodes : []) elements(child as Node, found);
  if ('content' in node && node.content) elements(node.content as unknown as Node, found);
  return found;
};
const attr = (element: Element, name: string) => element.attrs.find((a) => a.name === name)?.value;
const text = (element: Element) => element.childNodes.map((child) => ('value' in child ? child.value : '')).join('');

async function page(path: string) {
  const res = await fetch(`${gw.base}${path}`, { headers: { accept: 'text/html' } });
  const html = await res.text();
  const all = elements(parse(html));
  const head = all.find((element) => element.tagName === 'head')!;
  const inHead = elements(head);
  const meta = (key: string) =>
    inHead.filter((e) => e.tagName === 'meta' && (attr(e, 'property') === key || attr(e, 'name') === key)).map((e) => attr(e, 'content'));
  return { res, html, all, inHead, meta };
}

beforeAll(async () => {
  gw = await startGateway(redis);
  for (const name of ['priced', 'plain', 'pending'] as const) {
    const input = listingInput({ wallet: owner, displayName: 'Bike shop', title: name === 'priced' ? HOSTILE : `Listing ${name}` });
    await saveListing(gw.db, input);
    ids[name] = input.listingId;
    await gw.bus.status.publish({ uploadId: input.listingId, event: 'profile.saved', stage: 'profile-writer', state: 'saved' });
    if (name !== 'pending') {
      const approved = await fetch(`${gw.base}/v1/admin/listings/${input.listingId}/approve`, { method: 'POST', headers: { 'x-admin-token': gw.adminToken } });
      expect(approved.status).toBe(200);
    }
  }
  await gw.db('listings').where({ id: ids.priced }).update({ price_amount: '120.50', price_currency: 'EUR', description: HOSTILE_DESCRIPTION });
});

afterAll(async () => {
  await gw?.db('listings').whereIn('id', Object.values(ids)).delete();
  await gw?.db('users').where({ wallet_address: owner.toLowerCase() }).delete();
  await gw?.close();
  await redis.quit();
});

describe('the client on real paths', () => {
  it('serves the page on every path the client routes, a 404 page elsewhere, and leaves the API and assets as they were', async () => {
    for (const path of ['/', ...APP_PATHS.map((p) => p.replace(':id', ids.plain!).replace(':wallet', owner.toLowerCase()))]) {
      const { res, html } = await page(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(html, path).toMatch(/src="\/assets\/app\.[0-9a-f]{16}\.js"/);
    }
    const unknown = await page('/no/such/page');
    expect(unknown.res.status).toBe(404);
    expect(unknown.html).toMatch(/src="\/assets\/app\.[0-9a-f]{16}\.js"/);
    // The API keeps its JSON 404, the client's script is still the script.
    const api = await fetch(`${gw.base}/v1/nothing-here`, { headers: { accept: 'text/html' } });
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: 'not_found' });
    // The probes and metrics live on the internal port: here they stay the API's JSON 404, not a page.
    for (const path of ['/metrics', '/healthz', '/readyz']) {
      const probe = await fetch(`${gw.base}${path}`, { headers: { accept: 'text/html' } });
      expect(probe.status, path).toBe(404);
      expect(probe.headers.get('content-type'), path).toMatch(/json/);
    }
    expect((await fetch(`${gw.base}/assets/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${gw.base}/openapi.json`)).headers.get('content-type')).toMatch(/json/);
  });
});

describe("a listing's page", () => {
  it('carries Open Graph, Twitter card and JSON-LD tags, escaped so a hostile title stays text', async () => {
    const { res, all, inHead, meta } = await page(`/listings/${ids.priced}`);
    expect(res.status).toBe(200);
    const url = `${gw.base}/listings/${ids.priced}`;
    expect(meta('og:title')).toEqual([`${HOSTILE} · 120.50 EUR`]);
    expect(meta('twitter:title')).toEqual([`${HOSTILE} · 120.50 EUR`]);
    expect(meta('og:url')).toEqual([url]);
    expect(meta('og:type')).toEqual(['video.other']);
    expect(meta('twitter:card')).toEqual(['summary_large_image']);
    expect(meta('og:description')[0]).toContain('</script><script>alert(2)</script>');
    const poster = meta('og:image')[0]!;
    expect(new URL(poster).pathname).toContain(`listings/${ids.priced}/poster.webp`);
    expect(meta('twitter:image')).toEqual([poster]);
    expect(new URL(meta('og:video')[0]!).pathname).toContain(`listings/${ids.priced}/video.webm`);
    expect(meta('og:video:width')).toEqual(['1280']);
    expect(inHead.find((e) => e.tagName === 'link' && attr(e, 'rel') === 'canonical')?.attrs).toContainEqual({ name: 'href', value: url });
    expect(text(inHead.find((e) => e.tagName === 'title')!)).toBe(`${HOSTILE} · 120.50 EUR · Reelboard`);

    // The hostile text made no element of its own: one script that runs (the app's), one JSON-LD block, the listing's data.
    const scripts = all.filter((e) => e.tagName === 'script');
    expect(scripts.map((e) => attr(e, 'type'))).toEqual(['module', 'application/ld+json', 'application/json']);
    const ld = JSON.parse(text(scripts[1]!));
    expect(ld).toMatchObject({
      '@context': 'https://schema.org',
      '@type': 'Product',
      name: HOSTILE,
      url,
      image: poster,
      offers: { '@type': 'Offer', price: '120.50', priceCurrency: 'EUR', availability: 'https://schema.org/InStock' },
      subjectOf: { '@type': 'VideoObject', name: HOSTILE, duration: 'PT4S' },
    });
    expect(ld.description).toContain('</script><script>alert(2)</script>');
  });

  it('writes what the first frame needs into the page: a video playing the lowest rung, and the listing; no player or manifest asked for ahead', async () => {
    await gw
      .db('listings')
      .where({ id: ids.plain })
      .update({
        manifest_key: `listings/${ids.plain}/dash/manifest.mpd`,
        // Not in order: the start file is the lowest rung's whatever the order.
        renditions: JSON.stringify([
          { width: 640, height: 360, bitrateKbps: 600 },
          { width: 426, height: 240, bitrateKbps: 300 },
        ]),
      });
    const { inHead, all } = await page(`/listings/${ids.plain}`);
    // Every byte before the first frame delays it on a slow link: the player and the manifest come after it.
    expect(inHead.filter((e) => e.tagName === 'link' && /preload/.test(attr(e, 'rel') ?? ''))).toEqual([]);
    // The data is the API's own answer for the listing (the client reads it instead of asking again).
    const data = JSON.parse(text(all.find((e) => attr(e, 'id') === 'listing-data')!));
    const api = (await (await fetch(`${gw.base}/v1/listings/${ids.plain}`)).json()) as typeof data;
    expect(Object.keys(data).sort()).toEqual(Object.keys(api).sort());
    const unsigned = (listing: typeof data) => ({ ...listing, posterUrl: undefined, video: { ...listing.video, url: undefined, startUrl: undefined } });
    expect(unsigned(data)).toEqual(unsigned(api));
    expect(new URL(api.video.startUrl).pathname).toContain(`listings/${ids.plain}/dash/video-240p.webm`);

    // The start element, in the view the client draws in, plays the start file muted and inline by itself.
    const view = all.find((e) => attr(e, 'id') === 'view')!;
    const video = elements(view).find((e) => e.tagName === 'video')!;
    expect(attr(video, 'src')).toBe(data.video.startUrl);
    expect(attr(video, 'poster')).toBe(data.posterUrl);
    for (const name of ['muted', 'autoplay', 'playsinline', 'controls']) expect(attr(video, name), name).toBe('');
    expect({ id: attr(video, 'id'), playback: attr(video, 'data-playback'), listing: attr(video, 'data-listing-id') }).toEqual({
      id: 'player',
      playback: 'start',
      listing: ids.plain,
    });

    // A listing without a ladder: no start element (its page plays the progressive file as before), and the hostile listing's data stays inside its script element.
    const hostile = await page(`/listings/${ids.priced}`);
    expect(hostile.all.some((e) => e.tagName === 'video')).toBe(false);
    const hostileData = JSON.parse(text(hostile.all.find((e) => attr(e, 'id') === 'listing-data')!));
    expect(hostileData).toMatchObject({ title: HOSTILE, video: { startUrl: null, manifestUrl: null } });
  });

  it('describes a listing without a price as a VideoObject', async () => {
    const { meta, all } = await page(`/listings/${ids.plain}`);
    expect(meta('og:title')).toEqual(['Listing plain']);
    const ld = JSON.parse(text(all.find((e) => attr(e, 'type') === 'application/ld+json')!));
    expect(ld).toMatchObject({ '@type': 'VideoObject', name: 'Listing plain', description: 'red, 3 gears', width: 1280, height: 720 });
    expect(ld.offers).toBeUndefined();
  });

  it('leaks nothing of a listing the public may not see: a 404 page without tags', async () => {
    for (const id of [ids.pending!, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const { res, html, meta, all } = await page(`/listings/${id}`);
      expect(res.status, id).toBe(404);
      expect(meta('og:title'), id).toEqual([]);
      expect(
        all.some((e) => attr(e, 'type') === 'application/ld+json'),
        id,
      ).toBe(false);
      expect(html, id).not.toContain('Listing pending');
      expect(html, id).toMatch(/src="\/assets\/app\.[0-9a-f]{16}\.js"/);
    }
  });
});

describe('sitemap and robots', () => {
  it('lists approved, visible listings only, and robots.txt points at the sitemap', async () => {
    const res = await fetch(`${gw.base}/sitemap.xml`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
    const xml = await res.text();
    const locs = [...xml.matchAll(/<loc>([^<]*)<\/loc>/g)].map((m) => m[1]);
    expect(locs).toContain(`${gw.base}/`);
    expect(locs).toContain(`${gw.base}/listings/${ids.priced}`);
    expect(locs).toContain(`${gw.base}/listings/${ids.plain}`);
    expect(locs).not.toContain(`${gw.base}/listings/${ids.pending}`);
    // Parsed as XML the sitemap is well formed (parse5 reads it as HTML: here a strict check of its shape).
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<urlset xmlns="http:\/\/www.sitemaps.org\/schemas\/sitemap\/0.9">/);
    expect(xml.match(/<lastmod>[^<]+<\/lastmod>/g)?.every((m) => !Number.isNaN(Date.parse(m.slice(9, -10))))).toBe(true);

    // A listing taken down leaves the sitemap.
    await gw.db('listings').where({ id: ids.plain }).update({ state: 'withdrawn' });
    try {
      expect(await (await fetch(`${gw.base}/sitemap.xml`)).text()).not.toContain(ids.plain);
    } finally {
      await gw.db('listings').where({ id: ids.plain }).update({ state: 'active' });
    }

    const robots = await fetch(`${gw.base}/robots.txt`);
    expect(robots.headers.get('content-type')).toMatch(/^text\/plain/);
    const body = await robots.text();
    expect(body).toContain(`Sitemap: ${gw.base}/sitemap.xml`);
    expect(body).toContain('Disallow: /admin/');
  });
});
