import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { build } from 'esbuild';
import { Router } from 'express';
import type { Logger } from '@reelboard/logger';
import { HttpError } from './http-error.js';
import { type EncodedAsset, encodeAsset, IMMUTABLE, REVALIDATE, sendAsset } from './web-assets.js';

/** The reference web client, built: the page, its script (with source map), its style sheet and its service worker. */
export interface WebBundle {
  html: string;
  js: string;
  map: string;
  css: string;
  cssMap: string;
  /** The service worker that shows push notifications (served at /sw.js so its scope is the whole client). */
  serviceWorker?: string;
  /** The adaptive video player, a script of its own that only pages playing a listing fetch (with source map). */
  player?: { js: string; map: string };
}

/** Where the client's sources live: the `@reelboard/web` workspace package (packages/web). */
export const WEB_SOURCE_DIR = dirname(createRequire(import.meta.url).resolve('@reelboard/web/package.json'));

/**
 * Bundles the web client with esbuild, in memory: nothing built is written to disk or committed,
 * and the bundle always matches the sources the gateway runs with.
 */
export async function buildWebClient(sourceDir: string = WEB_SOURCE_DIR): Promise<WebBundle> {
  const result = await build({
    absWorkingDir: sourceDir,
    entryPoints: [
      { in: 'src/main.ts', out: 'app' },
      { in: 'styles.css', out: 'app' },
      { in: 'src/sw.ts', out: 'sw' },
      { in: 'src/player.ts', out: 'player' },
    ],
    outdir: 'out',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox114', 'safari16.4'],
    minify: true,
    sourcemap: 'linked',
    write: false,
    logLevel: 'silent',
  });
  const output = (suffix: string) => {
    const file = result.outputFiles.find((candidate) => candidate.path.endsWith(suffix));
    if (!file) throw new Error(`esbuild produced no ${suffix}`);
    return file.text;
  };
  return {
    html: await readFile(`${sourceDir}/index.html`, 'utf8'),
    js: output('app.js'),
    map: output('app.js.map'),
    css: output('app.css'),
    cssMap: output('app.css.map'),
    serviceWorker: output('sw.js'),
    player: { js: output('player.js'), map: output('player.js.map') },
  };
}

export interface WebClientDeps {
  log: Logger;
  /** Builds the bundle; `buildWebClient` unless a test passes another. */
  buildBundle?: () => Promise<WebBundle>;
  /** Bytes per resumable-upload request, told to the client in a `<meta name="upload-chunk-bytes">` of the page. */
  uploadChunkBytes?: number;
  /** Routes that answer with the page itself (the client's paths, listing pages with share tags, the 404 page), given the page. */
  appPages?: (page: () => Promise<string>) => Router;
}

/** The bundle as served: every file compressed once, and the page naming the script and style by their content hash. */
interface ServedBundle {
  /** The page's HTML (hashed asset names, upload chunk size), for the app's other paths. */
  page: string;
  html: EncodedAsset;
  js: EncodedAsset;
  css: EncodedAsset;
  serviceWorker?: EncodedAsset;
  // Compressed on their first request, not with the page: the source maps (6.5 MB with the player's)
  // are for developer tools only, and the player for listing pages; at Brotli's highest quality they
  // took ~10 s of the first page request after a start.
  map: () => EncodedAsset;
  cssMap: () => EncodedAsset;
  player?: () => EncodedAsset;
  playerMap?: () => EncodedAsset;
}

/** Compresses on the first call, then returns the same asset. */
const encodeOnce = (type: string, body: string): (() => EncodedAsset) => {
  let asset: EncodedAsset | undefined;
  return () => (asset ??= encodeAsset(type, body));
};

/**
 * Serves the reference web client at `/` (the page) and `/assets/*` (script, style, source maps).
 * The bundle is built on the first request, once, so gateways and tests that never serve the
 * page never pay for esbuild. Each file is compressed once (br and gzip: the page, script and style
 * when built, the player and source maps on their first request), never per request; the page
 * names `/assets/app.<hash>.js` and `.css`, cached for a year, while the page itself, the unhashed
 * names, the source maps and the service worker are revalidated each time (ETag, 304).
 */
export function webClientRoutes({ log, buildBundle = buildWebClient, uploadChunkBytes, appPages }: WebClientDeps): Router {
  let ready: Promise<ServedBundle | undefined> | undefined;
  const serve = (built: WebBundle): ServedBundle => {
    const js = encodeAsset('text/javascript', built.js);
    const css = encodeAsset('css', built.css);
    let html = built.html.replace('"/assets/app.js"', `"/assets/app.${js.hash}.js"`).replace('"/assets/app.css"', `"/assets/app.${css.hash}.css"`);
    if (uploadChunkBytes) html = html.replace('</head>', `  <meta name="upload-chunk-bytes" content="${uploadChunkBytes}" />\n  </head>`);
    return {
      page: html,
      html: encodeAsset('html', html),
      js,
      css,
      map: encodeOnce('application/json', built.map),
      cssMap: encodeOnce('application/json', built.cssMap),
      ...(built.serviceWorker ? { serviceWorker: encodeAsset('text/javascript', built.serviceWorker) } : {}),
      ...(built.player ? { player: encodeOnce('text/javascript', built.player.js), playerMap: encodeOnce('application/json', built.player.map) } : {}),
    };
  };
  const startBuild = () =>
    buildBundle().then(
      (built) => {
        const served = serve(built);
        log.info('web client built', {
          jsBytes: served.js.identity.length,
          jsBrotliBytes: served.js.br.length,
          jsGzipBytes: served.js.gzip.length,
          cssBytes: served.css.identity.length,
        });
        return served;
      },
      (error: unknown) => {
        log.error('web client build failed', { error: String(error) });
        return undefined;
      },
    );
  const built = async () => {
    ready ??= startBuild();
    const result = await ready;
    if (!result) throw new HttpError(503, 'web_client_unavailable', 'the web client failed to build; see the gateway log');
    return result;
  };

  // The page as the client's other paths serve it (app-pages.ts: share tags added per listing).
  const page = async () => (await built()).page;

  const router = Router();
  router.get(['/', '/index.html'], async (req, res) => sendAsset(req, res, (await built()).html, REVALIDATE));
  router.get('/assets/app.js', async (req, res) => sendAsset(req, res, (await built()).js, REVALIDATE));
  router.get('/assets/app.js.map', async (req, res) => sendAsset(req, res, (await built()).map(), REVALIDATE));
  router.get('/assets/app.css', async (req, res) => sendAsset(req, res, (await built()).css, REVALIDATE));
  router.get('/assets/app.css.map', async (req, res) => sendAsset(req, res, (await built()).cssMap(), REVALIDATE));
  // The names the page uses: only the current build's hash is served (an old one is gone with its build).
  router.get(/^\/assets\/app\.([0-9a-f]{16})\.(js|css)$/, async (req, res) => {
    const bundle = await built();
    const asset = req.params[1] === 'js' ? bundle.js : bundle.css;
    if (req.params[0] !== asset.hash) throw new HttpError(404, 'not_found', `no such asset in this build: ${req.path}`);
    sendAsset(req, res, asset, IMMUTABLE);
  });
  // The player (586 KB minified) only for pages that play a listing: compressed once like the app's script.
  router.get('/assets/player.js', async (req, res) => {
    const { player } = await built();
    if (!player) throw new HttpError(404, 'not_found', 'no player in this build');
    sendAsset(req, res, player(), REVALIDATE);
  });
  router.get('/assets/player.js.map', async (req, res) => {
    const { playerMap } = await built();
    if (!playerMap) throw new HttpError(404, 'not_found', 'no player in this build');
    sendAsset(req, res, playerMap(), REVALIDATE);
  });
  router.get('/sw.js', async (req, res) => {
    const { serviceWorker } = await built();
    if (!serviceWorker) throw new HttpError(404, 'not_found', 'no service worker in this build');
    // A service worker is always revalidated: browsers check it for updates by its own rules too.
    sendAsset(req, res, serviceWorker, REVALIDATE);
  });
  if (appPages) router.use(appPages(page));
  return router;
}
