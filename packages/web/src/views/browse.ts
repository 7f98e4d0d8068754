import { type Listing, type ListingPage, requestJson } from '../api.js';
import { h, mount } from '../dom.js';
import { heartButton } from '../favourites.js';

/** The browse filters, as they appear in the page's address (`#/browse?tags=…&near=…&radiusKm=…`). */
export interface BrowseFilters {
  tags: string;
  near: string;
  radiusKm: string;
  /** One seller's wallet, from a listing page's "Offered by" link. */
  owner?: string;
}

const formatDistance = (km: number) => (km < 1 ? `${Math.round(km * 1000)} m away` : `${km.toFixed(km < 10 ? 1 : 0)} km away`);

/** The query string of the read API for these filters (tags normalised to `a,b`). */
export function listingsQuery(filters: BrowseFilters, cursor?: string): string {
  const params = new URLSearchParams();
  const tags = filters.tags
    .split(/[\s,]+/)
    .map((tag) => tag.replace(/^#+/, ''))
    .filter(Boolean);
  if (tags.length > 0) params.set('tags', tags.join(','));
  if (filters.near.trim()) {
    params.set('near', filters.near.replace(/\s+/g, ''));
    if (filters.radiusKm.trim()) params.set('radiusKm', filters.radiusKm.trim());
  }
  if (filters.owner) params.set('owner', filters.owner);
  if (cursor) params.set('cursor', cursor);
  return params.toString();
}

function listingCard(listing: Listing): HTMLElement {
  const preview = h('video', {
    muted: true,
    loop: true,
    autoplay: true,
    playsinline: true,
    preload: 'metadata',
    src: listing.previewUrl,
    poster: listing.posterUrl,
    'aria-hidden': 'true',
  });
  // `muted` as an attribute is not enough for autoplay everywhere; the property is what counts.
  preview.muted = true;
  const details = [listing.hashtags.map((tag) => `#${tag}`).join(' '), typeof listing.distanceKm === 'number' ? formatDistance(listing.distanceKm) : '']
    .filter(Boolean)
    .join(' · ');
  return h(
    'li',
    { class: 'listing-card' },
    h(
      'a',
      { href: `#/listing/${encodeURIComponent(listing.id)}`, 'data-listing-id': listing.id },
      preview,
      h('h3', {}, listing.title),
      details ? h('p', { class: 'meta' }, details) : null,
    ),
    heartButton(listing.id, listing.title),
  );
}

/** The browse page: approved listings as a grid of muted looping previews, filtered by hashtag and distance. */
export function renderBrowse(view: HTMLElement, initial: BrowseFilters): void {
  const tagsInput = h('input', { type: 'text', id: 'filter-tags', name: 'tags', value: initial.tags, placeholder: '#bikes #berlin', autocomplete: 'off' });
  const nearInput = h('input', { type: 'text', id: 'filter-near', name: 'near', value: initial.near, placeholder: '52.52,13.405', inputmode: 'decimal' });
  const radiusInput = h('input', { type: 'number', id: 'filter-radius', name: 'radiusKm', value: initial.radiusKm, min: 1, step: 1, placeholder: '25' });
  const locateButton = h('button', { type: 'button', class: 'secondary' }, 'Near me');
  const grid = h('ul', { class: 'grid', id: 'listings', 'aria-live': 'polite', 'aria-busy': 'false' });
  const status = h('p', { class: 'notice', role: 'status' });
  const moreButton = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let nextCursor: string | undefined;

  const filters = (): BrowseFilters => ({ tags: tagsInput.value, near: nearInput.value, radiusKm: radiusInput.value, owner: initial.owner });
  const ownerLine = initial.owner
    ? h('p', { class: 'notice' }, `Listings offered by ${initial.owner} · `, h('a', { href: '#/browse' }, "show everyone's"))
    : null;

  const load = async (append: boolean) => {
    grid.setAttribute('aria-busy', 'true');
    status.textContent = 'Loading…';
    try {
      const page = await requestJson<ListingPage>(`/v1/listings?${listingsQuery(filters(), append ? nextCursor : undefined)}`);
      const items = page.items;
      nextCursor = page.nextCursor ?? undefined;
      if (append) grid.append(...items.map(listingCard));
      else mount(grid, ...items.map(listingCard));
      moreButton.hidden = !nextCursor;
      status.textContent =
        grid.children.length === 0 ? 'No listings match these filters yet.' : `${grid.children.length} listing${grid.children.length === 1 ? '' : 's'}`;
    } catch (error) {
      status.textContent = `Could not load listings: ${(error as Error).message}`;
    } finally {
      grid.setAttribute('aria-busy', 'false');
    }
  };

  locateButton.addEventListener('click', () =>
    navigator.geolocation?.getCurrentPosition(
      (position) => {
        nearInput.value = `${position.coords.latitude.toFixed(4)},${position.coords.longitude.toFixed(4)}`;
        if (!radiusInput.value) radiusInput.value = '25';
      },
      (error) => (status.textContent = `Location unavailable: ${error.message}`),
    ),
  );
  moreButton.addEventListener('click', () => void load(true));

  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter listings' },
    h('div', { class: 'field' }, h('label', { for: 'filter-tags' }, 'Hashtags'), tagsInput),
    h('div', { class: 'field' }, h('label', { for: 'filter-near' }, 'Near (latitude,longitude)'), nearInput),
    h('div', { class: 'field' }, h('label', { for: 'filter-radius' }, 'Within (km)'), radiusInput),
    h('div', { class: 'row' }, locateButton, h('button', { type: 'submit', class: 'primary' }, 'Search')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    // The address keeps the filters, so a search can be shared and survives a reload.
    const query = listingsQuery(filters()).replace(/(^|&)cursor=[^&]*/, '');
    const hash = `#/browse${query ? `?${query}` : ''}`;
    if (window.location.hash === hash) void load(false);
    else window.location.hash = hash;
  });

  mount(view, h('h1', {}, 'Browse listings'), form, ownerLine, status, grid, moreButton);
  void load(false);
}
