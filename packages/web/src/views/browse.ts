import { type Listing, type ListingPage, requestJson } from '../api.js';
import { h, mount } from '../dom.js';
import { heartButton } from '../favourites.js';
import { parseCoordinates, placeSearch } from '../place-search.js';
import { previewScheduler } from '../previews.js';
import { browsePath, listingPath } from '../router.js';

/**
 * The browse filters, as they appear in the page's address (`?q=…&tags=…&near=…&place=…`), so a
 * search can be shared and survives a reload.
 */
export interface BrowseFilters {
  q: string;
  tags: string;
  /** `latitude,longitude`, the point searched from. */
  near: string;
  /** The place name the point came from (what the Near field shows). */
  place: string;
  radiusKm: string;
  priceMin: string;
  priceMax: string;
  currency: string;
  sort: string;
  /** One seller's wallet, from a listing page's "Offered by" link. */
  owner?: string | undefined;
}

const FILTER_KEYS = ['q', 'tags', 'near', 'place', 'radiusKm', 'priceMin', 'priceMax', 'currency', 'sort', 'owner'] as const;

/** The filters a page address holds (absent ones empty). */
export function filtersFrom(params: URLSearchParams): BrowseFilters {
  const get = (key: string) => params.get(key) ?? '';
  return {
    q: get('q'),
    tags: get('tags'),
    near: get('near'),
    place: get('place'),
    radiusKm: get('radiusKm'),
    priceMin: get('priceMin'),
    priceMax: get('priceMax'),
    currency: get('currency'),
    sort: get('sort'),
    owner: params.get('owner') ?? undefined,
  };
}

/** The page address's query for these filters (empty ones left out). */
export function addressQuery(filters: BrowseFilters): string {
  const params = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = filters[key]?.trim();
    if (value) params.set(key, value);
  }
  return params.toString();
}

/** The query string of the read API for these filters: tags normalised to `a,b`, a sort only where it applies. */
export function listingsQuery(filters: BrowseFilters, cursor?: string, language = navigator.language): string {
  const params = new URLSearchParams();
  const q = filters.q.trim();
  if (q) {
    params.set('q', q);
    const primary = language.split('-')[0]?.toLowerCase() ?? '';
    if (/^[a-z]{2}$/.test(primary)) params.set('language', primary);
  }
  const tags = filters.tags
    .split(/[\s,]+/)
    .map((tag) => tag.replace(/^#+/, ''))
    .filter(Boolean);
  if (tags.length > 0) params.set('tags', tags.join(','));
  const near = filters.near.replace(/\s+/g, '');
  if (near) {
    params.set('near', near);
    if (filters.radiusKm.trim()) params.set('radiusKm', filters.radiusKm.trim());
  }
  if (filters.priceMin.trim()) params.set('priceMin', filters.priceMin.trim());
  if (filters.priceMax.trim()) params.set('priceMax', filters.priceMax.trim());
  if (filters.currency.trim()) params.set('currency', filters.currency.trim().toUpperCase());
  const sort = filters.sort;
  if (sort && !(sort === 'relevance' && !q) && !(sort === 'nearest' && !near)) params.set('sort', sort);
  if (filters.owner) params.set('owner', filters.owner);
  if (cursor) params.set('cursor', cursor);
  return params.toString();
}

const formatDistance = (km: number) => (km < 1 ? `${Math.round(km * 1000)} m away` : `${km.toFixed(km < 10 ? 1 : 0)} km away`);

/** A price in the reader's locale: `€120.00`, `120,00 €`. */
export function formatPrice(price: { amount: string; currency: string }, locale?: string): string {
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency: price.currency }).format(Number(price.amount));
  } catch {
    return `${price.amount} ${price.currency}`;
  }
}

const AGE_UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** How long ago, in the reader's words: "3 days ago", "vor 3 Tagen", "just now" under a minute. */
export function formatAge(createdAt: string, now = Date.now(), locale?: string): string {
  const seconds = Math.max(0, (now - Date.parse(createdAt)) / 1000);
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  for (const [unit, size] of AGE_UNITS) if (seconds >= size) return format.format(-Math.floor(seconds / size), unit);
  return format.format(0, 'second');
}

function listingCard(listing: Listing): { card: HTMLElement; video: HTMLVideoElement } {
  // Posters first: no `src` (and preload none) until the scheduler gives this card its turn.
  const video = h('video', {
    muted: true,
    loop: true,
    playsinline: true,
    preload: 'none',
    poster: listing.posterUrl,
    'data-preview': listing.previewUrl,
    'aria-hidden': 'true',
  });
  // `muted` as an attribute is not enough for autoplay everywhere; the property is what counts.
  video.muted = true;
  const details = [listing.hashtags.map((tag) => `#${tag}`).join(' '), typeof listing.distanceKm === 'number' ? formatDistance(listing.distanceKm) : '']
    .filter(Boolean)
    .join(' · ');
  const age = h('time', { datetime: listing.createdAt, title: new Date(listing.createdAt).toLocaleString() }, formatAge(listing.createdAt));
  const card = h(
    'li',
    { class: 'listing-card' },
    h(
      'a',
      { href: listingPath(listing.id), 'data-listing-id': listing.id },
      video,
      h('h3', {}, listing.title),
      h('p', { class: 'card-price' }, listing.price ? formatPrice(listing.price) : 'No price given'),
      h('p', { class: 'meta' }, details ? `${details} · ` : '', age),
    ),
    heartButton(listing.id, listing.title),
  );
  return { card, video };
}

const SORTS: [string, string][] = [
  ['', 'Best match'],
  ['newest', 'Newest'],
  ['nearest', 'Nearest'],
  ['price_asc', 'Price: low to high'],
  ['price_desc', 'Price: high to low'],
];

/**
 * The browse page: a search box, hashtags, a place and radius, a price range and a sort; cards with
 * price and age whose previews play only while on screen. `navigate` writes the filters to the
 * address (the router then renders the page again); returns what to call when the view is left.
 */
export function renderBrowse(
  view: HTMLElement,
  params: URLSearchParams,
  navigate: (query: string) => void = (query) => {
    window.location.assign(browsePath(query));
  },
): () => void {
  const initial = filtersFrom(params);
  const input = (name: keyof BrowseFilters, attributes: Record<string, string | number | boolean>) =>
    h('input', { id: `filter-${name}`, name, value: initial[name] ?? '', ...attributes });
  const qInput = input('q', { type: 'search', placeholder: 'bike, "red sofa", -kids', autocomplete: 'off', maxlength: 200 });
  const tagsInput = input('tags', { type: 'text', placeholder: '#bikes #berlin', autocomplete: 'off' });
  const nearError = h('p', { class: 'field-error', id: 'filter-near-error', hidden: true });
  const place = placeSearch({
    id: 'filter-near',
    value: initial.place || initial.near,
    describedBy: 'filter-near-error',
    onError: (message) => {
      nearError.textContent = message;
      nearError.hidden = false;
    },
  });
  const radiusInput = input('radiusKm', { type: 'number', min: 1, step: 1, placeholder: '25', inputmode: 'numeric' });
  const minInput = input('priceMin', { type: 'number', min: 0, step: 'any', inputmode: 'decimal', placeholder: '0' });
  const maxInput = input('priceMax', { type: 'number', min: 0, step: 'any', inputmode: 'decimal', placeholder: 'any' });
  const currencyInput = input('currency', { type: 'text', maxlength: 3, placeholder: 'EUR', autocomplete: 'off' });
  const sortSelect = h(
    'select',
    { id: 'filter-sort', name: 'sort' },
    ...SORTS.map(([value, label]) => h('option', { value, selected: value === initial.sort }, label)),
  );
  const locateButton = h('button', { type: 'button', class: 'secondary' }, 'Use my location');
  const grid = h('ul', { class: 'grid', id: 'listings', 'aria-busy': 'false' });
  const status = h('p', { class: 'notice', role: 'status' });
  const moreButton = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const previews = previewScheduler();
  let nextCursor: string | undefined;

  const ownerLine = initial.owner
    ? h('p', { class: 'notice' }, `Listings offered by ${initial.owner} · `, h('a', { href: browsePath() }, "show everyone's"))
    : null;

  const load = async (append: boolean) => {
    grid.setAttribute('aria-busy', 'true');
    status.textContent = 'Loading…';
    try {
      const page = await requestJson<ListingPage>(`/v1/listings?${listingsQuery(initial, append ? nextCursor : undefined)}&limit=20`);
      nextCursor = page.nextCursor ?? undefined;
      const cards = page.items.map(listingCard);
      if (append) grid.append(...cards.map((item) => item.card));
      else mount(grid, ...cards.map((item) => item.card));
      for (const { video } of cards) previews.watch(video);
      moreButton.hidden = !nextCursor;
      const count = grid.children.length;
      const similar = page.matched === 'similar' ? ` No listing has the words “${initial.q.trim()}”: these are spelt alike.` : '';
      status.textContent = count === 0 ? 'No listings match these filters yet.' : `${count} listing${count === 1 ? '' : 's'}.${similar}`;
    } catch (error) {
      status.textContent = `Could not load listings: ${(error as Error).message}`;
    } finally {
      grid.setAttribute('aria-busy', 'false');
    }
  };

  locateButton.addEventListener('click', () =>
    navigator.geolocation?.getCurrentPosition(
      (position) => {
        place.input.value = `${position.coords.latitude.toFixed(4)},${position.coords.longitude.toFixed(4)}`;
        if (!radiusInput.value) radiusInput.value = '25';
      },
      (error) => (status.textContent = `Location unavailable: ${error.message}`),
    ),
  );
  moreButton.addEventListener('click', () => void load(true));

  const field = (id: string, label: string, control: HTMLElement, ...extra: (HTMLElement | null)[]) =>
    h('div', { class: 'field' }, h('label', { for: id }, label), control, ...extra);
  const form = h(
    'form',
    { class: 'filters browse-filters', role: 'search', 'aria-label': 'Search listings' },
    field('filter-q', 'Search', qInput),
    field('filter-tags', 'Hashtags', tagsInput),
    h(
      'div',
      { class: 'row' },
      field('filter-near', 'Near (town or latitude,longitude)', place.input, place.list, nearError),
      field('filter-radiusKm', 'Within (km)', radiusInput),
    ),
    h(
      'div',
      { class: 'row' },
      field('filter-priceMin', 'Price from', minInput),
      field('filter-priceMax', 'to', maxInput),
      field('filter-currency', 'Currency', currencyInput),
    ),
    field('filter-sort', 'Sort by', sortSelect),
    h('div', { class: 'row' }, locateButton, h('button', { type: 'submit', class: 'primary' }, 'Search')),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    nearError.hidden = true;
    void (async () => {
      let near = '';
      let placeName = '';
      try {
        // The place this page was searched from, unchanged: its point is in the address already.
        const kept =
          place.input.value === (initial.place || initial.near) && initial.near ? { label: initial.place, ...parseCoordinates(initial.near) } : undefined;
        const point = kept?.latitude !== undefined ? kept : await place.resolve();
        if (point) {
          near = `${point.latitude},${point.longitude}`;
          placeName = point.label;
        }
      } catch (error) {
        nearError.textContent = (error as Error).message;
        nearError.hidden = false;
        place.input.focus();
        return;
      }
      const text = place.input.value.trim();
      if (near && !placeName && !parseCoordinates(text)) placeName = text;
      const query = addressQuery({
        q: qInput.value,
        tags: tagsInput.value,
        near,
        place: placeName,
        radiusKm: near ? radiusInput.value : '',
        priceMin: minInput.value,
        priceMax: maxInput.value,
        currency: currencyInput.value,
        sort: sortSelect.value,
        owner: initial.owner,
      });
      // The same search again (no change of address, so no new render): load it afresh.
      if (query === addressQuery(initial)) void load(false);
      else navigate(query);
    })();
  });

  mount(view, h('h1', {}, 'Find a listing'), form, ownerLine, status, grid, moreButton);
  void load(false);
  return () => previews.stop();
}
