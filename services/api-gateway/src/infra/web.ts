import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { type Response, Router } from 'express';
import type { Logger } from '@reelboard/logger';
import { HttpError } from './http-error.js';

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
}

/**
 * Serves the reference web client at `/` (the page) and `/assets/*` (script, style, source maps).
 * The bundle is built on the first request, once, so gateways and tests that never serve the
 * page never pay for esbuild.
 */
export function webClientRoutes({ log, buildBundle = buildWebClient, uploadChunkBytes }: WebClientDeps): Router {
  let ready: Promise<WebBundle | undefined> | undefined;
  const startBuild = () =>
    buildBundle().then(
      (built) => {
        log.info('web client built', { jsBytes: Buffer.byteLength(built.js), cssBytes: Buffer.byteLength(built.css) });
        return built;
      },
      (error: unknown) => {
        log.error('web client build failed', { error: String(error) });
        return undefined;
      },
    );
  const send = (res: Response, type: string, body: string) => {
    // Revalidate every time (the ETag makes that cheap): a redeployed gateway serves its new client at once.
    res.type(type).set('cache-control', 'no-cache').send(body);
  };
  const built = async () => {
    ready ??= startBuild();
    const result = await ready;
    if (!result) throw new HttpError(503, 'web_client_unavailable', 'the web client failed to build; see the gateway log');
    return result;
  };

  const router = Router();
  router.get(['/', '/index.html'], async (_req, res) => {
    const { html } = await built();
    send(res, 'html', uploadChunkBytes ? html.replace('</head>', `  <meta name="upload-chunk-bytes" content="${uploadChunkBytes}" />\n  </head>`) : html);
  });
  router.get('/assets/app.js', async (_req, res) => send(res, 'text/javascript', (await built()).js));
  router.get('/assets/app.js.map', async (_req, res) => send(res, 'application/json', (await built()).map));
  router.get('/assets/app.css', async (_req, res) => send(res, 'css', (await built()).css));
  router.get('/assets/app.css.map', async (_req, res) => send(res, 'application/json', (await built()).cssMap));
  let playerGzip: Buffer | undefined;
  router.get(['/assets/player.js', '/assets/player.js.map'], async (req, res) => {
    const { player } = await built();
    if (!player) throw new HttpError(404, 'not_found', 'no player in this build');
    if (req.path.endsWith('.map')) return send(res, 'application/json', player.map);
    // 586 KB minified, 196 KB gzipped: on a 1.6 Mbit/s phone link that is 2 s less before the first frame.
    res.vary('accept-encoding');
    if (!req.acceptsEncodings('gzip')) return send(res, 'text/javascript', player.js);
    playerGzip ??= gzipSync(player.js, { level: 9 });
    res.type('text/javascript').set({ 'cache-control': 'no-cache', 'content-encoding': 'gzip' }).send(playerGzip);
  });
  router.get('/sw.js', async (_req, res) => {
    const { serviceWorker } = await built();
    if (!serviceWorker) throw new HttpError(404, 'not_found', 'no service worker in this build');
    send(res, 'text/javascript', serviceWorker);
  });
  return router;
}
