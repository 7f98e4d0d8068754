import { ApiError, type Listing, type Price, requestJson } from '../api.js';
import { contactLine } from '../contact.js';
import { h, mount } from '../dom.js';
import { fastStart, startElement, startInPage } from '../fast-start.js';
import { heartButton } from '../favourites.js';
import { playInto } from '../player-loader.js';
import { browsePath, listingPath, sellerPath } from '../router.js';
import { shareButton } from '../share.js';
import { ownListingState } from './own-listing-state.js';
import { reportControl } from './report.js';

/** `120.00 EUR` in the reader's own number format. */
export const formatPrice = (price: Price) => {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: price.currency }).format(Number(price.amount));
  } catch {
    return `${price.amount} ${price.currency}`;
  }
};

const formatDuration = (seconds: number) => `${Math.floor(seconds / 60)}:${String(Math.round(seconds % 60)).padStart(2, '0')}`;

/**
 * The listing the gateway wrote into the page it served for this address (`#listing-data`), taken
 * once: it is as fresh as the page, and saves a round trip before the first frame. Later visits
 * within the app ask the API.
 */
function listingInPage(id: string): Listing | undefined {
  const element = document.getElementById('listing-data');
  if (!element) return undefined;
  element.remove();
  try {
    const listing = JSON.parse(element.textContent ?? '') as Listing;
    return listing.id === id ? listing : undefined;
  } catch {
    return undefined;
  }
}

const stopStart = (start: HTMLVideoElement) => {
  start.removeAttribute('src');
  start.load();
};

/**
 * The listing's player: with a ladder, the fast start (the page's start element, or one made here on
 * a visit within the app) handing off to the adaptive player; without one, the progressive file.
 */
function listingPlayer(listing: Listing, start: HTMLVideoElement | undefined): HTMLElement {
  const source = { manifestUrl: listing.video.manifestUrl, fallbackUrl: listing.video.url, storyboardUrl: listing.storyboardUrl };
  const { startUrl } = listing.video;
  if (startUrl && source.manifestUrl) {
    const video =
      start ??
      startElement({ id: listing.id, title: listing.title, posterUrl: listing.posterUrl, startUrl, width: listing.video.width, height: listing.video.height });
    const box = start?.closest<HTMLElement>('.player') ?? h('div', { class: 'player' }, video, h('div', { class: 'player-slot' }));
    const controls = box.querySelector<HTMLElement>('.player-slot') ?? box.appendChild(h('div', { class: 'player-slot' }));
    void fastStart(video, controls, { ...source, startUrl, renditions: listing.video.renditions });
    return box;
  }
  if (start) stopStart(start);
  const video = h('video', {
    id: 'player',
    controls: true,
    playsinline: true,
    preload: 'metadata',
    poster: listing.posterUrl,
    'aria-label': `Video: ${listing.title}`,
  });
  const controls = h('div', { class: 'player-slot' });
  void playInto(video, controls, source);
  return h('div', { class: 'player' }, video, controls);
}

/** The listing page: plays the video, with the listing's details. */
export async function renderListing(view: HTMLElement, id: string): Promise<void> {
  // The video the gateway wrote into the page, already playing: it stays where it is (not replaced by
  // a notice), and moves into the listing below without leaving the document, so it never pauses.
  const start = startInPage(id);
  if (!start) mount(view, h('p', { class: 'notice', role: 'status' }, 'Loading…'));
  let listing: Listing;
  try {
    // Asked afresh, not from the browser's cache: a listing just edited, sold or renewed shows as it is now.
    listing = listingInPage(id) ?? (await requestJson<Listing>(`/v1/listings/${encodeURIComponent(id)}`, { cache: 'no-cache' }));
  } catch (error) {
    const message =
      error instanceof ApiError && error.status === 404
        ? 'This listing is not published: it appears here once a moderator approves it.'
        : error instanceof ApiError && error.code === 'listing_sold'
          ? 'This item was sold: the listing is no longer shown.'
          : error instanceof ApiError && error.code === 'listing_expired'
            ? 'This listing has expired: its owner can renew it from My listings.'
            : `Could not load the listing: ${(error as Error).message}`;
    // Its owner is told where it stands (waiting for moderation, or why it was not approved).
    const own = error instanceof ApiError && error.status === 404 ? await ownListingState(id) : undefined;
    if (start) stopStart(start);
    mount(view, h('h1', {}, 'Listing'), own ?? h('p', { class: 'alert', role: 'alert' }, message), h('a', { href: '/' }, 'Browse listings'));
    return;
  }
  document.title = `${listing.title} · Reelboard`;
  const player = listingPlayer(listing, start);
  const { latitude, longitude } = listing.location;
  mount(
    view,
    h(
      'article',
      { class: 'listing', 'data-listing-id': listing.id },
      h(
        'header',
        { class: 'listing-head' },
        listing.logoUrl ? h('img', { class: 'logo', src: listing.logoUrl, alt: '', width: 64, height: 64 }) : null,
        h('h1', {}, listing.title),
        listing.state === 'sold' ? h('span', { class: 'badge sold', id: 'sold-badge' }, 'Sold') : null,
        heartButton(listing.id, listing.title),
      ),
      player,
      h(
        'p',
        { class: 'meta' },
        `${listing.video.width}×${listing.video.height} · ${formatDuration(listing.video.durationSeconds)} · `,
        h('a', { href: browsePath(`near=${latitude},${longitude}&radiusKm=25`) }, 'listings nearby'),
      ),
      listing.price ? h('p', { class: 'price', id: 'price' }, formatPrice(listing.price)) : null,
      listing.description ? h('p', { class: 'description' }, listing.description) : null,
      listing.contact ? h('p', { class: 'contact', id: 'contact' }, 'Contact: ', contactLine(listing.contact)) : null,
      shareButton({ title: listing.title, url: new URL(listingPath(listing.id), window.location.origin).href }),
      listing.expiresAt && listing.state !== 'sold' ? h('p', { class: 'meta' }, `Listed until ${new Date(listing.expiresAt).toLocaleDateString()}`) : null,
      h(
        'ul',
        { class: 'tags', 'aria-label': 'Hashtags' },
        ...listing.hashtags.map((tag) => h('li', {}, h('a', { href: browsePath(`tags=${encodeURIComponent(tag)}`) }, `#${tag}`))),
      ),
      h(
        'p',
        { class: 'seller' },
        'Offered by ',
        h('a', { href: sellerPath(listing.owner.wallet), id: 'seller-link' }, listing.owner.displayName ?? `${listing.owner.wallet.slice(0, 8)}…`),
      ),
      reportControl(listing.id),
    ),
  );
}
