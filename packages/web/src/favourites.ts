import { ApiError, type Listing, requestJson } from './api.js';
import { h } from './dom.js';
import { currentSession } from './session.js';

/** The signed-in wallet's favourite listing ids, asked once per session and kept in step with each click. */
let known: { token: string; ids: Promise<Set<string>> } | undefined;

/** The signed-in wallet's favourite listings (public ones), most recently favourited first. */
export async function loadFavourites(token: string): Promise<Listing[]> {
  const { items } = await requestJson<{ items: Listing[] }>('/v1/me/favourites', { token, cache: 'no-cache' });
  known = { token, ids: Promise.resolve(new Set(items.map((item) => item.id))) };
  return items;
}

function favouriteIds(token: string): Promise<Set<string>> {
  if (known?.token !== token) {
    const ids = requestJson<{ items: Listing[] }>('/v1/me/favourites', { token }).then(
      ({ items }) => new Set(items.map((item) => item.id)),
      () => new Set<string>(),
    );
    known = { token, ids };
  }
  return known.ids;
}

/**
 * A heart that keeps a listing among the signed-in wallet's favourites: a toggle button (aria-pressed)
 * whose name says what pressing it does; signed out, it says where to sign in.
 */
export function heartButton(listingId: string, title: string, onChange?: (favourite: boolean) => void): HTMLElement {
  const button = h('button', { type: 'button', class: 'heart', 'aria-pressed': 'false', 'data-favourite': listingId }, '♡');
  const result = h('span', { class: 'hint heart-result', 'aria-live': 'polite' });
  const show = (favourite: boolean) => {
    button.setAttribute('aria-pressed', String(favourite));
    button.textContent = favourite ? '♥' : '♡';
    button.setAttribute('aria-label', favourite ? `Remove "${title}" from favourites` : `Save "${title}" to favourites`);
  };
  show(false);
  const session = currentSession();
  if (session) void favouriteIds(session.token).then((ids) => show(ids.has(listingId)));
  button.addEventListener('click', async () => {
    const current = currentSession();
    if (!current) {
      result.replaceChildren('Sign in on the ', h('a', { href: '/sell' }, 'Sell page'), ' to keep favourites.');
      return;
    }
    const ids = await favouriteIds(current.token);
    const favourite = !ids.has(listingId);
    button.disabled = true;
    try {
      await requestJson(`/v1/me/favourites/${encodeURIComponent(listingId)}`, { method: favourite ? 'PUT' : 'DELETE', token: current.token });
      if (favourite) ids.add(listingId);
      else ids.delete(listingId);
      show(favourite);
      result.textContent = favourite ? 'Saved to favourites.' : 'Removed from favourites.';
      onChange?.(favourite);
    } catch (error) {
      // Removing one that is no longer there leaves the wanted state: say so plainly.
      if (error instanceof ApiError && error.code === 'favourite_not_found') {
        ids.delete(listingId);
        show(false);
      } else result.textContent = `Could not change favourites: ${(error as Error).message}`;
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'heart-box' }, button, result);
}
