/** Moves to another address of the client without reloading the page (History API), then shows its view. */

let show: (() => void) | undefined;

/** main.ts's router: what runs after every change of address. */
export function onNavigate(handler: () => void): void {
  show = handler;
}

/** Goes to `path` (a path of this client, with its query), as a new history entry unless `replace`. */
export function navigate(path: string, { replace = false }: { replace?: boolean } = {}): void {
  if (replace) window.history.replaceState(null, '', path);
  else if (`${window.location.pathname}${window.location.search}` !== path) window.history.pushState(null, '', path);
  show?.();
}

/** Paths the gateway answers itself (API, docs, dashboard, assets): a link to them is a real page load. */
const SERVER_PATHS = /^\/(v1|docs|openapi\.json|admin|assets|sw\.js|sitemap\.xml|robots\.txt)(\/|$)/;

/**
 * The anchor a click should follow inside the client, or undefined when the browser should (another
 * origin, a new tab or window, a download, a modifier key, a server page).
 */
export function clientLinkOf(event: MouseEvent): HTMLAnchorElement | undefined {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return undefined;
  const anchor = (event.target as Element | null)?.closest?.('a[href]');
  if (!(anchor instanceof HTMLAnchorElement) || anchor.target || anchor.hasAttribute('download')) return undefined;
  const url = new URL(anchor.href, window.location.href);
  if (url.origin !== window.location.origin || SERVER_PATHS.test(url.pathname)) return undefined;
  // An in-page anchor (`#section`) stays with the browser; an old `#/…` address is redirected by the router.
  if (url.pathname === window.location.pathname && url.search === window.location.search && url.hash) return undefined;
  return anchor;
}
