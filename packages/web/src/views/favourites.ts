import { h, mount } from '../dom.js';
import { loadFavourites } from '../favourites.js';
import { currentSession } from '../session.js';
import { listingCard } from './cards.js';

/** Favourites (`/favourites`): the signed-in wallet's favourite listings that are public now. */
export async function renderFavourites(view: HTMLElement): Promise<void> {
  document.title = 'Favourites · Reelboard';
  const session = currentSession();
  if (!session) {
    mount(view, h('h1', {}, 'Favourites'), h('p', { class: 'notice' }, 'Sign in on the ', h('a', { href: '/sell' }, 'Sell page'), ' to keep favourites.'));
    return;
  }
  mount(view, h('h1', {}, 'Favourites'), h('p', { class: 'notice', role: 'status' }, 'Loading…'));
  try {
    const items = await loadFavourites(session.token);
    const status = h('p', { class: 'notice', role: 'status' }, items.length === 0 ? 'No favourites yet: press ♡ on a listing to keep it here.' : '');
    const grid = h(
      'ul',
      { class: 'grid', id: 'favourites' },
      // A heart pressed off leaves its card in place until the next visit, so a slip can be undone.
      ...items.map((listing) => listingCard(listing)),
    );
    mount(view, h('h1', {}, 'Favourites'), status, grid);
  } catch (error) {
    mount(view, h('h1', {}, 'Favourites'), h('p', { class: 'alert', role: 'alert' }, `Could not load favourites: ${(error as Error).message}`));
  }
}
