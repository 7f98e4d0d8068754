/**
 * The web client's addresses: real paths (History API), so a listing's link can be shared, indexed and
 * previewed in a messenger (the gateway serves these paths with the page, and Open Graph tags for a
 * listing). Pure functions of the address, so the gateway's list of paths and the tests share them.
 */

/** Where an address leads. */
export type Route =
  | { view: 'browse'; params: URLSearchParams }
  | { view: 'listing'; id: string }
  | { view: 'seller'; wallet: string }
  | { view: 'sell' }
  | { view: 'mine' }
  | { view: 'upload'; id: string }
  | { view: 'favourites' }
  | { view: 'saved-searches' }
  | { view: 'moderate' }
  | { view: 'unpaid' }
  | { view: 'not-found'; path: string };

/** The address of a listing's page. */
export const listingPath = (id: string) => `/listings/${encodeURIComponent(id)}`;
/** The address of a seller's page. */
export const sellerPath = (wallet: string) => `/sellers/${encodeURIComponent(wallet.toLowerCase())}`;
/** The address of an upload's status page (where notifications about it lead). */
export const uploadPath = (id: string) => `/uploads/${encodeURIComponent(id)}`;
/** The browse page with these read-API filters (`tags=…&near=…`). */
export const browsePath = (query = '') => (query ? `/?${query}` : '/');

const decode = (part: string) => {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
};

/** The route of a path and query string (`location.pathname`, `location.search`). */
export function resolveRoute(pathname: string, search = ''): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  if (path === '/' || path === '' || path === '/browse') return { view: 'browse', params: new URLSearchParams(search) };
  if (path === '/sell') return { view: 'sell' };
  if (path === '/mine') return { view: 'mine' };
  if (path === '/favourites') return { view: 'favourites' };
  if (path === '/saved-searches') return { view: 'saved-searches' };
  if (path === '/moderate') return { view: 'moderate' };
  if (path === '/unpaid') return { view: 'unpaid' };
  const match = /^\/(listings|sellers|uploads)\/([^/]+)$/.exec(path);
  const value = match?.[2] ? decode(match[2]) : undefined;
  if (match && value) {
    if (match[1] === 'listings') return { view: 'listing', id: value };
    if (match[1] === 'uploads') return { view: 'upload', id: value };
    if (/^0x[0-9a-fA-F]{40}$/.test(value)) return { view: 'seller', wallet: value.toLowerCase() };
  }
  return { view: 'not-found', path: pathname };
}

/**
 * The path an old hash address (`#/listing/<id>`, `#/browse?tags=…`, `#/sell`, ...) now lives at, or
 * undefined for a hash that is not one (an in-page anchor). Links in old notifications and shared
 * messages keep working.
 */
export function pathForHash(hash: string): string | undefined {
  if (!hash.startsWith('#/')) return undefined;
  const [path = '', query = ''] = hash.slice(1).split('?');
  const listing = /^\/listing\/([^/]+)$/.exec(path);
  if (listing?.[1]) return `/listings/${listing[1]}`;
  const upload = /^\/upload\/([^/]+)$/.exec(path);
  if (upload?.[1]) return `/uploads/${upload[1]}`;
  if (path === '/browse' || path === '/') {
    const params = new URLSearchParams(query);
    // A seller's listings were `#/browse?owner=<wallet>`: now the seller's own page.
    const owner = params.get('owner');
    if (owner && /^0x[0-9a-fA-F]{40}$/.test(owner)) return sellerPath(owner);
    return browsePath(query);
  }
  if (path === '/sell' || path === '/mine' || path === '/moderate' || path === '/unpaid') return path;
  return undefined;
}

/** The nav entry (`data-nav`) an address belongs to. */
export function navSection(route: Route): string | undefined {
  if (route.view === 'browse' || route.view === 'listing' || route.view === 'seller') return 'browse';
  if (route.view === 'upload') return 'sell';
  return route.view === 'not-found' ? undefined : route.view;
}

/**
 * Every path the gateway answers with the page (Express patterns), besides `/`. One list, so a new
 * view is reachable by a reload or a shared link as soon as it is routed here.
 */
export const APP_PATHS = [
  '/sell',
  '/mine',
  '/unpaid',
  '/favourites',
  '/saved-searches',
  '/moderate',
  '/listings/:id',
  '/sellers/:wallet',
  '/uploads/:id',
] as const;
