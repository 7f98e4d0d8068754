import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
    expect(html).toContain('src="/assets/app.js"');
    expect(html).toContain('href="/assets/app.css"');
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

  it('answers 503 with a JSON error when the client does not build', async () => {
    const url = await serve(() => Promise.reject(new Error('syntax error in main.ts')));
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'web_client_unavailable' });
  });
});
