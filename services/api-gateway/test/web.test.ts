import { type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import express from 'express';
import { createLogger } from '@reelboard/logger';
import { errorHandler } from '../src/infra/http-error.js';
import { buildWebClient, type WebBundle, webClientRoutes } from '../src/infra/web.js';

const log = createLogger('web-test', 'error');
let server: Server | undefined;

async function serve(buildBundle: () => Promise<WebBundle>): Promise<string> {
  const app = express();
  app.use(webClientRoutes({ log, buildBundle }));
  app.use(errorHandler(log));
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A GET with exactly these headers, the body as the wire carried it (fetch would decompress it). */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

afterEach(() => {
  server?.close();
  server = undefined;
});

describe('the web client route', () => {
  it('serves the page and a self-contained bundle of the client, built once', async () => {
    let builds = 0;
    const url = await serve(() => (builds++, buildWebClient()));
    const [page, script, style] = await Promise.all(['/', '/assets/app.js', '/assets/app.css'].map((path) => fetch(`${url}${path}`)));
    expect(builds).toBe(1);
    expect(page?.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page!.text();
    // The page names the script and style by content hash (cached for a year); the plain names still work.
    expect(html).toMatch(/src="\/assets\/app\.[0-9a-f]{16}\.js"/);
    expect(html).toMatch(/href="\/assets\/app\.[0-9a-f]{16}\.css"/);
    expect(script?.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script?.headers.get('cache-control')).toBe('no-cache');
    const js = await script!.text();
    // The wallet calls are in it, and every package is bundled: the browser resolves no bare imports.
    expect(js).toContain('eth_requestAccounts');
    expect(js).not.toMatch(/\bfrom\s*["'](viem|eventsource-parser)/);
    expect(js).toMatch(/sourceMappingURL=app\.js\.map/);
    expect(style?.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await style!.text()).toContain('.listing-card');
    expect((await fetch(`${url}/assets/app.js.map`)).status).toBe(200);
  });

  it('serves every file compressed by Accept-Encoding (br, gzip, none), computed once, with ETags, Vary and long caching for hashed names only', async () => {
    let builds = 0;
    const url = await serve(() => (builds++, buildWebClient()));
    const page = await get(`${url}/`, { 'accept-encoding': 'br, gzip' });
    expect(page.headers['content-encoding']).toBe('br');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers.vary).toBe('Accept-Encoding');
    const html = brotliDecompressSync(page.body).toString();
    const scriptPath = /src="(\/assets\/app\.[0-9a-f]{16}\.js)"/.exec(html)?.[1] ?? '';
    const stylePath = /href="(\/assets\/app\.[0-9a-f]{16}\.css)"/.exec(html)?.[1] ?? '';

    const plain = await get(`${url}${scriptPath}`, {});
    const brotli = await get(`${url}${scriptPath}`, { 'accept-encoding': 'gzip, deflate, br' });
    const gzip = await get(`${url}${scriptPath}`, { 'accept-encoding': 'gzip' });
    expect([plain.headers['content-encoding'], brotli.headers['content-encoding'], gzip.headers['content-encoding']]).toEqual([undefined, 'br', 'gzip']);
    expect(brotliDecompressSync(brotli.body).equals(plain.body)).toBe(true);
    expect(gunzipSync(gzip.body).equals(plain.body)).toBe(true);
    // The script is far smaller on the wire: Brotli under a third of the bytes.
    expect(brotli.body.length).toBeLessThan(plain.body.length / 3);
    expect(gzip.body.length).toBeLessThan(plain.body.length / 2.5);
    expect(Number(brotli.headers['content-length'])).toBe(brotli.body.length);
    for (const answer of [plain, brotli, gzip]) {
      expect(answer.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(answer.headers.vary).toBe('Accept-Encoding');
    }
    // One ETag per encoding; asking again with it is a 304 with no body.
    expect(new Set([plain, brotli, gzip].map((answer) => answer.headers.etag)).size).toBe(3);
    const again = await get(`${url}${scriptPath}`, { 'accept-encoding': 'br', 'if-none-match': String(brotli.headers.etag) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    // The style too; an unknown hash is not this build's.
    expect((await get(`${url}${stylePath}`, { 'accept-encoding': 'gzip' })).headers['content-encoding']).toBe('gzip');
    expect((await get(`${url}/assets/app.0123456789abcdef.js`, {})).status).toBe(404);
    // The unhashed name and the service worker are revalidated each time, compressed all the same.
    const unhashed = await get(`${url}/assets/app.js`, { 'accept-encoding': 'gzip' });
    expect([unhashed.headers['cache-control'], unhashed.headers['content-encoding']]).toEqual(['no-cache', 'gzip']);
    expect((await get(`${url}/sw.js`, { 'accept-encoding': 'br' })).headers).toMatchObject({ 'cache-control': 'no-cache', 'content-encoding': 'br' });
    // Compressed when built, not per request: the same buffers every time.
    expect(builds).toBe(1);
  });

  it("keeps the page's script light on a phone link: the server's schemas (zod) stay out of it", async () => {
    const url = await serve(() => buildWebClient());
    const html = brotliDecompressSync((await get(`${url}/`, { 'accept-encoding': 'br' })).body).toString();
    const scriptPath = /src="(\/assets\/app\.[0-9a-f]{16}\.js)"/.exec(html)?.[1] ?? '';
    const brotli = await get(`${url}${scriptPath}`, { 'accept-encoding': 'br' });
    const js = brotliDecompressSync(brotli.body).toString();
    // zod's error messages (its locale tables) are the mark of its runtime in a bundle: one value
    // import of @reelboard/contracts' index brought 454 KB of it (127 KB on the wire instead of 37).
    expect(js.includes('Invalid input'), 'zod is in the app script').toBe(false);
    expect(brotli.body.length).toBeLessThan(60_000);
  });

  it('answers 503 with a JSON error when the client does not build', async () => {
    const url = await serve(() => Promise.reject(new Error('syntax error in main.ts')));
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'web_client_unavailable' });
  });
});
