import type { Listing } from '../api.js';
import { h } from '../dom.js';
import { heartButton } from '../favourites.js';
import { listingPath } from '../router.js';
import { formatPrice } from './listing.js';

/**
 * A listing as a card on the seller's page and in favourites: its poster (no video plays until the
 * listing is opened), title and price, linking to its page, and a heart; `extra` goes below.
 */
export function listingCard(listing: Listing, extra?: HTMLElement): HTMLElement {
  return h(
    'li',
    { class: 'listing-card' },
    h(
      'a',
      { href: listingPath(listing.id), 'data-listing-id': listing.id },
      h('img', { class: 'poster', src: listing.posterUrl, alt: '', loading: 'lazy', width: 320, height: 180 }),
      h('h3', {}, listing.title),
      h(
        'p',
        { class: 'meta' },
        [listing.price ? formatPrice(listing.price) : '', listing.state === 'sold' ? 'sold' : ''].filter(Boolean).join(' · ') || 'No price given',
      ),
    ),
    heartButton(listing.id, listing.title),
    extra ?? null,
  );
}
