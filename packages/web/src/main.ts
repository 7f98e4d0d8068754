import { h, mount } from './dom.js';
import { clientLinkOf, navigate, onNavigate } from './navigation.js';
import { browsePath, navSection, pathForHash, resolveRoute } from './router.js';
import { currentSession, signOut } from './session.js';
import { renderBrowse } from './views/browse.js';
import { renderFavourites } from './views/favourites.js';
import { renderListing } from './views/listing.js';
import { renderModerate } from './views/moderate.js';
import { renderMyListings } from './views/my-listings.js';
import { renderSavedSearches, saveSearchControl } from './views/saved-searches.js';
import { renderSell } from './views/sell.js';
import { renderSeller } from './views/seller.js';
import { renderUnpaid } from './views/unpaid.js';
import { renderUpload } from './views/upload.js';

const view = document.getElementById('view') as HTMLElement;
const account = document.getElementById('account') as HTMLElement;
let leaveView: (() => void) | undefined;

/** The header's account line: who is signed in, and a way out. */
function renderAccount(): void {
  const session = currentSession();
  if (!session) {
    mount(account);
    return;
  }
  const short = `${session.address.slice(0, 6)}…${session.address.slice(-4)}`;
  const out = h('button', { type: 'button', class: 'link', onclick: async () => (await signOut(session), route()) }, 'Sign out');
  mount(account, h('span', { title: session.address }, short), out);
}

/**
 * Path routing (History API): `/` browse (`/?tags=…`), `/listings/<id>`, `/sellers/<wallet>`, `/sell`,
 * `/mine`, `/unpaid`, `/uploads/<id>` (where notifications lead), `/favourites`, `/saved-searches`,
 * `/moderate` (admins). An old `#/…` address is replaced by its path first.
 */
function route(): void {
  const moved = pathForHash(window.location.hash);
  if (moved) window.history.replaceState(null, '', moved);
  leaveView?.();
  leaveView = undefined;
  const current = resolveRoute(window.location.pathname, window.location.search);
  const section = navSection(current);
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    if (link.dataset.nav === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  switch (current.view) {
    case 'browse':
      leaveView = renderBrowse(view, current.params, (query) => navigate(browsePath(query)));
      // Under the browse view's filters, whoever draws them.
      (view.querySelector('form[role="search"]') ?? view.firstElementChild)?.after(saveSearchControl());
      break;
    case 'listing':
      void renderListing(view, current.id);
      break;
    case 'seller':
      void renderSeller(view, current.wallet);
      break;
    case 'upload':
      void renderUpload(view, current.id);
      break;
    case 'favourites':
      void renderFavourites(view);
      break;
    case 'saved-searches':
      void renderSavedSearches(view);
      break;
    case 'mine':
      leaveView = renderMyListings(view);
      break;
    case 'unpaid':
      leaveView = renderUnpaid(view);
      break;
    case 'moderate':
      leaveView = renderModerate(view, renderAccount);
      break;
    case 'sell':
      leaveView = renderSell(view, renderAccount);
      break;
    default:
      document.title = 'Page not found · Reelboard';
      mount(view, h('h1', {}, 'Page not found'), h('p', {}, 'There is no page at this address.'), h('a', { href: '/' }, 'Browse listings'));
  }
  renderAccount();
  view.focus({ preventScroll: true });
}

// The skip link moves focus to the view itself: following `#view` would be read as an address.
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  event.stopPropagation();
  view.focus();
});
onNavigate(route);
document.addEventListener('click', (event) => {
  const anchor = clientLinkOf(event);
  if (!anchor) return;
  event.preventDefault();
  const url = new URL(anchor.href);
  navigate(`${url.pathname}${url.search}${url.hash}`);
  window.scrollTo(0, 0);
});
window.addEventListener('popstate', route);
// Views that still set `location.hash = '#/…'` land here, and are moved to the path.
window.addEventListener('hashchange', () => {
  if (pathForHash(window.location.hash)) route();
});
route();
