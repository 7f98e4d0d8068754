import { ApiError, requestJson, type SavedSearch } from '../api.js';
import { h, mount } from '../dom.js';
import { pushSupported, subscribeToNotifications } from '../push.js';
import { browsePath } from '../router.js';
import { currentSession } from '../session.js';

const ALERTS_ON = 'Alerts for your saved searches will reach this browser, even with the tab closed.';

/** The browse page's current filters as a saved search's query (paging left out). */
export function currentBrowseQuery(search = window.location.search): string {
  const params = new URLSearchParams(search);
  params.delete('cursor');
  return params.toString();
}

/** A line that turns on Web Push in this browser (alerts need a subscription), shown where push works. */
function alertsOffer(token: string): HTMLElement {
  const result = h('span', { class: 'hint', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'secondary', id: 'alerts-on' }, 'Get alerts in this browser');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      result.textContent = await subscribeToNotifications(token, ALERTS_ON);
    } catch (error) {
      button.disabled = false;
      result.textContent = `Alerts could not be turned on: ${(error as Error).message}`;
    }
  });
  return h('p', { class: 'alerts-offer', hidden: !pushSupported() }, button, ' ', result);
}

/**
 * "Save this search" under the browse filters: names the current query and saves it; new listings that
 * match are announced by Web Push. Signed out, it says where to sign in.
 */
export function saveSearchControl(): HTMLElement {
  const result = h('p', { class: 'hint', id: 'save-search-result', 'aria-live': 'polite' });
  const session = currentSession();
  if (!session) {
    return h(
      'section',
      { class: 'save-search', 'aria-label': 'Save this search' },
      h('p', { class: 'hint' }, 'Sign in on the ', h('a', { href: '/sell' }, 'Sell page'), ' to save searches and get alerts.'),
    );
  }
  const name = h('input', { type: 'text', id: 'save-search-name', name: 'name', maxlength: 80, required: true, autocomplete: 'off' });
  const form = h(
    'form',
    { class: 'save-search row', 'aria-label': 'Save this search' },
    h('div', { class: 'field' }, h('label', { for: 'save-search-name' }, 'Save this search as'), name),
    h('button', { type: 'submit', class: 'secondary', id: 'save-search' }, 'Save'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const saved = await requestJson<SavedSearch>('/v1/me/saved-searches', {
        method: 'POST',
        token: session.token,
        body: { name: name.value, query: currentBrowseQuery() },
      });
      result.replaceChildren(
        `Saved "${saved.name}": new listings that match are announced by push. `,
        h('a', { href: '/saved-searches' }, 'Manage saved searches'),
      );
      name.value = '';
    } catch (error) {
      result.textContent =
        error instanceof ApiError && error.code === 'empty_search'
          ? 'Pick at least one filter (hashtags, place, price) and search first, then save.'
          : `Could not save the search: ${(error as Error).message}`;
    }
  });
  return h('section', { class: 'save-search-box' }, form, result);
}

/** Saved searches (`/saved-searches`): each one opens the browse page, and can be unsubscribed (removed). */
export async function renderSavedSearches(view: HTMLElement): Promise<void> {
  document.title = 'Saved searches · Reelboard';
  const session = currentSession();
  if (!session) {
    mount(view, h('h1', {}, 'Saved searches'), h('p', { class: 'notice' }, 'Sign in on the ', h('a', { href: '/sell' }, 'Sell page'), ' to save searches.'));
    return;
  }
  mount(view, h('h1', {}, 'Saved searches'), h('p', { class: 'notice', 'aria-live': 'polite' }, 'Loading…'));
  let items: SavedSearch[];
  try {
    ({ items } = await requestJson<{ items: SavedSearch[] }>('/v1/me/saved-searches', { token: session.token, cache: 'no-cache' }));
  } catch (error) {
    mount(view, h('h1', {}, 'Saved searches'), h('p', { class: 'alert', role: 'alert' }, `Could not load saved searches: ${(error as Error).message}`));
    return;
  }
  const status = h('p', { class: 'notice', role: 'status', id: 'saved-searches-status' });
  const list = h('ul', { class: 'saved-searches', id: 'saved-searches' });
  const row = (search: SavedSearch) => {
    const remove = h('button', { type: 'button', class: 'secondary', 'aria-label': `Unsubscribe from "${search.name}"` }, 'Unsubscribe');
    const item = h(
      'li',
      { 'data-saved-search': search.id },
      h('a', { href: browsePath(search.query) }, search.name),
      ' ',
      h('span', { class: 'hint' }, search.query.replace(/&/g, ' · ')),
      ' ',
      remove,
    );
    remove.addEventListener('click', async () => {
      remove.disabled = true;
      try {
        await requestJson(`/v1/me/saved-searches/${encodeURIComponent(search.id)}`, { method: 'DELETE', token: session.token });
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'saved_search_not_found')) {
          remove.disabled = false;
          status.textContent = `Could not unsubscribe: ${(error as Error).message}`;
          return;
        }
      }
      item.remove();
      status.textContent = `Unsubscribed from "${search.name}": no more alerts for it.`;
      (list.querySelector('a') ?? view.querySelector('h1'))?.focus();
    });
    return item;
  };
  list.append(...items.map(row));
  mount(
    view,
    h('h1', { tabindex: -1 }, 'Saved searches'),
    h('p', {}, 'Each saved search announces new listings that match it, once each, by push.'),
    alertsOffer(session.token),
    items.length === 0 ? h('p', { class: 'notice' }, 'None yet: search on the ', h('a', { href: '/' }, 'browse page'), ' and save it there.') : null,
    status,
    list,
  );
}
