import { h, mount } from './dom.js';
import { currentSession, signOut } from './session.js';
import { renderBrowse } from './views/browse.js';
import { renderListing } from './views/listing.js';
import { renderMyListings } from './views/my-listings.js';
import { renderSell } from './views/sell.js';
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

/** Hash routing: `#/sell` (default), `#/browse?…`, `#/mine` (your listings), `#/listing/<id>`, `#/upload/<id>` (where notifications lead). */
function route(): void {
  leaveView?.();
  leaveView = undefined;
  const [path = '', query = ''] = window.location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const listing = /^\/listing\/([^/]+)$/.exec(path);
  const upload = /^\/upload\/([^/]+)$/.exec(path);
  for (const link of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
    if (path.startsWith(`/${link.dataset.nav}`)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (listing?.[1]) void renderListing(view, decodeURIComponent(listing[1]));
  else if (upload?.[1]) void renderUpload(view, decodeURIComponent(upload[1]));
  else if (path === '/mine') leaveView = renderMyListings(view);
  else if (path === '/unpaid') leaveView = renderUnpaid(view);
  else if (path === '/browse')
    renderBrowse(view, {
      tags: params.get('tags') ?? '',
      near: params.get('near') ?? '',
      radiusKm: params.get('radiusKm') ?? '',
      owner: params.get('owner') ?? undefined,
    });
  else leaveView = renderSell(view, renderAccount);
  renderAccount();
  view.focus({ preventScroll: true });
}

// The skip link moves focus to the view itself: following `#view` would be read as a hash route.
document.querySelector('.skip-link')?.addEventListener('click', (event) => {
  event.preventDefault();
  view.focus();
});
window.addEventListener('hashchange', route);
route();
