import { ApiError, type ListingPage, requestJson, type UserProfile } from '../api.js';
import { contactLine } from '../contact.js';
import { h, mount } from '../dom.js';
import { listingCard } from './cards.js';

/** A seller's page (`/sellers/<wallet>`): display name, logo, member since, contact and active listings. */
export async function renderSeller(view: HTMLElement, wallet: string): Promise<void> {
  mount(view, h('p', { class: 'notice', role: 'status' }, 'Loading…'));
  let profile: UserProfile;
  try {
    profile = await requestJson<UserProfile>(`/v1/users/${encodeURIComponent(wallet)}?limit=24`, { cache: 'no-cache' });
  } catch (error) {
    const message =
      error instanceof ApiError && error.status === 404
        ? 'No seller with this wallet has listed anything here.'
        : `Could not load the seller: ${(error as Error).message}`;
    mount(view, h('h1', {}, 'Seller'), h('p', { class: 'alert', role: 'alert' }, message), h('a', { href: '/' }, 'Browse listings'));
    return;
  }
  const name = profile.displayName ?? `${profile.wallet.slice(0, 6)}…${profile.wallet.slice(-4)}`;
  document.title = `${name} · Reelboard`;
  const grid = h('ul', { class: 'grid', id: 'seller-listings' }, ...profile.listings.items.map((listing) => listingCard(listing)));
  const more = h('button', { type: 'button', class: 'secondary', hidden: !profile.listings.nextCursor }, 'Load more');
  let cursor = profile.listings.nextCursor;
  more.addEventListener('click', async () => {
    if (!cursor) return;
    more.disabled = true;
    try {
      const page = await requestJson<ListingPage>(`/v1/users/${encodeURIComponent(wallet)}?limit=24&cursor=${encodeURIComponent(cursor)}`);
      grid.append(...page.items.map((listing) => listingCard(listing)));
      cursor = page.nextCursor;
      more.hidden = !cursor;
    } finally {
      more.disabled = false;
    }
  });
  const since = new Date(profile.memberSince).toLocaleDateString(undefined, { year: 'numeric', month: 'long' });
  mount(
    view,
    h(
      'header',
      { class: 'seller-head' },
      profile.logoUrl ? h('img', { class: 'logo', src: profile.logoUrl, alt: '', width: 64, height: 64 }) : null,
      h('div', {}, h('h1', { id: 'seller-name' }, name), h('p', { class: 'meta', id: 'member-since' }, `Member since ${since}`)),
    ),
    h('p', { class: 'wallet' }, 'Wallet: ', h('code', {}, profile.wallet)),
    profile.contact ? h('p', { class: 'contact', id: 'seller-contact' }, 'Contact: ', contactLine(profile.contact)) : null,
    h('h2', {}, `Active listings (${profile.listingCount})`),
    profile.listings.items.length === 0 ? h('p', { class: 'notice' }, 'No active listings right now.') : grid,
    more,
  );
}
