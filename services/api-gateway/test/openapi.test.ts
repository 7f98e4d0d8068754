import { createECDH, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Express } from 'express';
import { createPublicClient, createTestClient, createWalletClient, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { api, openApiPath } from '@reelboard/api';
import { connectRedis } from '@reelboard/bus';
import { chainFor } from '@reelboard/chain';
import { applyCredit, createWebhookDelivery, finishWebhookDelivery, recordQuote, saveListing } from '@reelboard/db';
import { listingKeys } from '@reelboard/storage';
import { postListing } from '@reelboard/testkit/client';
import { depositCredit, listingInput, quoteInput, randomWallet, transfer } from '@reelboard/testkit/db-fixtures';
import { makeClip, makePng } from '@reelboard/testkit/media';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { APP_PAGE_PATHS } from '../src/infra/app-pages.js';
import { openApiDocument } from '../src/routes/openapi.js';
import { CHAIN_ID, type Gateway, infra, openStream, startGateway } from './harness.js';

type Json = Record<string, any>;
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-openapi-test');
const run = randomBytes(3).toString('hex');
let gw: Gateway;
let doc: Json;
let work: string;
let buyer: string;
let stranger: string;
const listingIds: string[] = [];
const ledgerQuotes: string[] = [];
const wallets: string[] = [];

const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
const DOC_ID = 'https://reelboard.test/openapi.json';

/** Every (method, path template) a real response was checked for. */
const exercised = new Set<string>();

const resolve = (node: Json): Json =>
  typeof node.$ref === 'string'
    ? (node.$ref
        .slice(2)
        .split('/')
        .reduce((at: Json, key: string) => at[key], doc) as Json)
    : node;
const pointer = (...keys: string[]) => keys.map((key) => key.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/** Finds the document's path template a concrete path answers to. */
function templateOf(path: string): string {
  const bare = path.split('?')[0] ?? path;
  for (const template of Object.keys(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (pattern.test(bare)) return template;
  }
  throw new Error(`${bare} is not in the document`);
}

/** Sends a request and checks its answer against the document: status allowed, body valid for its schema. */
async function call(
  method: string,
  path: string,
  init: { token?: string; admin?: string; headers?: Record<string, string>; body?: unknown; form?: FormData } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.admin) headers['x-admin-token'] = init.admin;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gw.base}${path}`, {
    method,
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : init.form ? { body: init.form } : {}),
  });
  const text = await res.text();
  const body = (res.headers.get('content-type') ?? '').includes('json') && text ? JSON.parse(text) : text;
  checkAgainstDocument(method, path, res.status, res.headers.get('content-type') ?? '', body);
  return { status: res.status, body, headers: res.headers };
}

function checkAgainstDocument(method: string, path: string, status: number, contentType: string, body: unknown) {
  const template = templateOf(path);
  const operation = doc.paths[template][method.toLowerCase()] as Json | undefined;
  expect(operation, `${method} ${template} in the document`).toBeDefined();
  const responses = operation?.responses as Json;
  expect(Object.keys(responses), `${method} ${path} answered ${status}: ${JSON.stringify(body)}`).toContain(String(status));
  const response = resolve(responses[String(status)]);
  const content = response.content as Json | undefined;
  if (content) {
    const mediaType = Object.keys(content).find((type) => contentType.startsWith(type));
    expect(mediaType, `${method} ${path} ${status} answered ${contentType}, the document says ${Object.keys(content).join(', ')}`).toBeDefined();
    // A HEAD answer has no body to check (HTTP), only its status.
    if (mediaType === 'application/json' && method.toUpperCase() !== 'HEAD') {
      const responseRef = responses[String(status)].$ref as string | undefined;
      const schemaPath = responseRef
        ? `${responseRef}/content/${pointer('application/json')}/schema`
        : `#/${pointer('paths', template, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema')}`;
      const validate = ajv.getSchema(`${DOC_ID}${schemaPath}`);
      expect(validate, schemaPath).toBeDefined();
      const valid = validate?.(body);
      expect(valid, `${method} ${path} ${status}: ${ajv.errorsText(validate?.errors)}\n${JSON.stringify(body).slice(0, 500)}`).toBe(true);
    }
  }
  exercised.add(`${method.toUpperCase()} ${template}`);
}

/** Every (method, path) the Express app routes, in the document's `{param}` form. */
function routesOf(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Json[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const method of Object.keys(layer.route.methods))
          for (const path of paths) found.push(`${method.toUpperCase()} ${String(path).replace(/:(\w+)/g, '{$1}')}`);
      } else if (layer.handle?.stack && layer.slash) {
        // A router mounted without a path (`app.use(router)`): its routes are the gateway's own.
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Json[] } }).router.stack);
  return found;
}

/** Pages and files of the web client and of the docs page: not API, deliberately not in the document. */
const PAGES = new Set([
  'GET /',
  'GET /index.html',
  'GET /assets/app.js',
  'GET /assets/app.js.map',
  'GET /assets/app.css',
  'GET /assets/app.css.map',
  // The names the page uses: content-hashed, cached for good.
  `GET ${String(/^\/assets\/app\.([0-9a-f]{16})\.(js|css)$/)}`,
  'GET /assets/player.js',
  'GET /assets/player.js.map',
  'GET /sw.js',
  'GET /docs/init.js',
  'GET /docs/assets/{file}',
  // The client's own paths, a listing's page with its share tags, the sitemap, robots.txt, and the 404 page for any other address.
  ...APP_PAGE_PATHS.map((path) => `GET ${path.replace(/:(\w+)/g, '{$1}')}`),
  'GET /listings/{id}',
  'GET /sitemap.xml',
  'GET /robots.txt',
  `GET ${String(/.*/)}`,
]);

beforeAll(async () => {
  gw = await startGateway(redis, { MAX_PAYMENT_HINTS: '1', VAPID_PUBLIC_KEY: p256PublicKey(), PUSH_ALLOWED_HOSTS: 'push.example' });
  doc = openApiDocument(gw.base);
  ajv.addSchema({ ...doc, $id: DOC_ID });
  work = await mkdtemp(join(tmpdir(), 'gw-openapi-'));
  await Promise.all([makeClip(join(work, 'clip.mp4'), { width: 320, height: 240, seconds: 1 }), makePng(join(work, 'logo.png'))]);
  buyer = await gw.signIn(ANVIL_ACCOUNTS.buyer.key);
  stranger = await gw.signIn(ANVIL_ACCOUNTS.stranger.key);
}, 60_000);

afterAll(async () => {
  if (ledgerQuotes.length) {
    await gw.db('payments').whereIn('quote_id', ledgerQuotes).delete();
    await gw.db('payment_quotes').whereIn('quote_id', ledgerQuotes).delete();
  }
  if (listingIds.length) {
    await gw.db('payments').whereIn('upload_id', listingIds).delete();
    await gw.db('listings').whereIn('id', listingIds).delete();
  }
  await gw?.db('users').whereIn('wallet_address', wallets).delete();
  await gw?.db('hashtags').where('tag', 'like', `%\\_${run}`).delete();
  await gw?.close();
  await redis.quit();
  await rm(work, { recursive: true, force: true });
});

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document, served at /openapi.json with a browsable /docs that needs no CDN', async () => {
    const result = await new Validator().validate(doc as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    const served = await call('GET', '/openapi.json');
    expect(served.body).toEqual(doc);
    const page = await call('GET', '/docs');
    expect(page.body).toContain('docs/assets/swagger-ui-bundle.js');
    expect(page.body).not.toMatch(/https?:\/\//);
    expect(page.body).not.toMatch(/<script>|<style>/);
    for (const asset of ['docs/assets/swagger-ui-bundle.js', 'docs/assets/swagger-ui.css', 'docs/init.js']) {
      const res = await fetch(`${gw.base}/${asset}`);
      expect(res.status, asset).toBe(200);
      expect((await res.text()).length).toBeGreaterThan(10);
    }
    expect((await fetch(`${gw.base}/docs/assets/package.json`)).status).toBe(404);
  });

  it("passes Redocly's recommended lint with no error, as served", async () => {
    const served = await call('GET', '/openapi.json');
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(served.body), absoluteRef: `${gw.base}/openapi.json`, config });
    const errors = problems
      .filter((problem) => problem.severity === 'error')
      .map((problem) => `${problem.ruleId} at ${problem.location[0]?.pointer}: ${problem.message}`);
    expect(errors).toEqual([]);
    // What is left are warnings we accept: no license, a localhost server, and /openapi.json and /docs, which have no 4xx.
    expect(problems.map((problem) => problem.ruleId).sort()).toEqual([
      'info-license',
      'no-server-example.com',
      'operation-4xx-response',
      'operation-4xx-response',
    ]);
  });

  it('names each operation by its row in the route table, and says who may call it (`security: []` when anyone may)', () => {
    const operations = Object.values(doc.paths as Json).flatMap((item) => Object.values(item as Json) as Json[]);
    expect(operations.map((operation) => operation.operationId).sort()).toEqual(Object.keys(api).sort());
    for (const [name, route] of Object.entries(api)) {
      const operation = (doc.paths as Json)[openApiPath(route.path)][route.method] as Json;
      expect(operation.operationId, name).toBe(name);
      if (route.auth === 'public') expect(operation.security, name).toEqual([]);
      else expect(operation.security?.length, name).toBeGreaterThan(0);
    }
  });

  it('lists every route the gateway has, and no route it lacks', () => {
    const routes = routesOf(gw.app);
    expect(routes).toContain('GET /v1/listings/{id}');
    const documented = Object.entries(doc.paths as Json).flatMap(([path, item]) =>
      Object.keys(item as Json).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const undocumented = routes.filter((route) => !PAGES.has(route) && !documented.includes(route));
    expect(undocumented).toEqual([]);
    // The dashboard is a mounted app, not a route of the gateway's own.
    const unrouted = documented.filter((route) => !routes.includes(route) && route !== 'GET /admin/queues');
    expect(unrouted).toEqual([]);
  });
});

describe('real answers match the document', () => {
  it('sign-in', async () => {
    await call('GET', '/v1/auth/nonce');
    await call('POST', '/v1/auth/verify', { body: { message: 'hello', signature: 'nope' } });
    await call('POST', '/v1/auth/verify', { body: { message: 'not a siwe message', signature: '0x1234' } });
    await call('POST', '/v1/auth/logout');
    const session = await gw.signIn(ANVIL_ACCOUNTS.cli.key);
    expect((await call('POST', '/v1/auth/logout', { token: session })).status).toBe(204);
    expect((await call('POST', '/v1/auth/logout', { token: session })).status).toBe(401);
  });

  it('uploads, payment, status and events', async () => {
    const posted = await postListing(
      gw.base,
      buyer,
      { video: join(work, 'clip.mp4'), logo: join(work, 'logo.png') },
      { title: 'Bike', latitude: '52.5', longitude: '13.4', hashtags: '#bikes' },
    );
    const postedBody = (await posted.json()) as Json;
    checkAgainstDocument('POST', '/v1/uploads', posted.status, posted.headers.get('content-type') ?? '', postedBody);
    expect(posted.status).toBe(202);
    const uploadId = postedBody.uploadId as string;
    const refused = await postListing(gw.base, buyer, { video: join(work, 'logo.png') }, { title: 'Bike', latitude: '52.5', longitude: '13.4' });
    checkAgainstDocument('POST', '/v1/uploads', refused.status, refused.headers.get('content-type') ?? '', await refused.json());
    expect(refused.status).toBe(415);
    await call('POST', '/v1/uploads', { token: buyer, body: {} });
    await call('POST', '/v1/uploads');

    expect((await call('GET', `/v1/uploads/${uploadId}`, { token: buyer })).status).toBe(200);
    expect((await call('GET', `/v1/uploads/${uploadId}`, { token: stranger })).status).toBe(404);
    const previewPath = `/v1/uploads/${uploadId}/preview`;
    expect((await call('GET', previewPath, { token: buyer })).body).toMatchObject({ error: 'preview_not_ready' });
    const keys = listingKeys(uploadId);
    await gw.storage.putFile(keys.preview, join(work, 'clip.mp4'), 'video/webm');
    await gw.storage.putFile(keys.poster, join(work, 'logo.png'), 'image/webp');
    const previewAnswer = await call('GET', previewPath, { token: buyer });
    expect(previewAnswer.status).toBe(200);
    expect(previewAnswer.body).toMatchObject({ uploadId, previewUrl: expect.stringContaining(keys.preview) });
    expect((await call('GET', previewPath, { token: stranger })).status).toBe(404);
    const manifestPath = `/v1/uploads/${uploadId}/stream/manifest.mpd`;
    expect((await call('GET', manifestPath, { token: buyer })).body).toMatchObject({ error: 'manifest_not_ready' });
    const mpd = join(work, 'manifest.mpd');
    await writeFile(
      mpd,
      '<?xml version="1.0"?><MPD><Period><AdaptationSet><Representation id="0"><BaseURL>video-240p.webm</BaseURL></Representation></AdaptationSet></Period></MPD>',
    );
    await gw.storage.putFile(`listings/${uploadId}/dash/manifest.mpd`, mpd, 'application/dash+xml');
    expect((await call('GET', manifestPath, { token: buyer })).body).toContain(`listings/${uploadId}/dash/video-240p.webm`);
    expect((await call('GET', manifestPath, { token: stranger })).status).toBe(404);
    await call('GET', manifestPath);
    expect((await call('GET', '/v1/me/uploads', { token: buyer })).status).toBe(200);
    await call('GET', '/v1/me/uploads');

    expect((await call('POST', `/v1/uploads/${uploadId}/payment`, { token: buyer, body: { txHash: 'nope' } })).status).toBe(400);
    expect((await call('POST', `/v1/uploads/${uploadId}/payment`, { token: buyer, body: { txHash: `0x${'ab'.repeat(32)}` } })).status).toBe(202);
    // A hint while MAX_PAYMENT_HINTS (1 here) others are followed is 429.
    expect((await call('POST', `/v1/uploads/${uploadId}/payment`, { token: buyer, body: { txHash: `0x${'ef'.repeat(32)}` } })).status).toBe(429);
    await gw.uploads.pay(
      uploadId,
      {
        chainId: 31337,
        address: `0x${'11'.repeat(20)}`,
        token: null,
        amount: '1',
        blockNumber: '1',
        blockTime: new Date().toISOString(),
        status: 'paid',
        txHashes: [],
      },
      'payment-watcher',
    );
    expect((await call('POST', `/v1/uploads/${uploadId}/payment`, { token: buyer, body: { txHash: `0x${'cd'.repeat(32)}` } })).status).toBe(200);

    const eventsPath = `/v1/uploads/${uploadId}/events`;
    const refusedStream = await openStream(`${gw.base}${eventsPath}`, { authorization: `Bearer ${stranger}` });
    checkAgainstDocument('GET', eventsPath, refusedStream.status, refusedStream.headers.get('content-type') ?? '', refusedStream.body);
    await gw.bus.status.publish({ uploadId, event: 'progress', stage: 'transcoder', state: 'processing', progress: 50 });
    await gw.bus.status.publish({ uploadId, event: 'failed', stage: 'transcoder', state: 'failed', reason: 'test ends it' });
    const stream = await openStream(`${gw.base}${eventsPath}`, { authorization: `Bearer ${buyer}`, 'last-event-id': '1' });
    checkAgainstDocument('GET', eventsPath, stream.status, stream.headers.get('content-type') ?? '', '');
    const eventData = ajv.getSchema(`${DOC_ID}#/components/schemas/StatusEvent`);
    const names = doc.paths['/v1/uploads/{id}/events'].get.responses['200'].content['text/event-stream']['x-event-names'] as string[];
    let count = 0;
    for (let item = await stream.nextEvent(); item; item = await stream.nextEvent()) {
      const data = JSON.parse(item.data);
      expect(eventData?.(data), ajv.errorsText(eventData?.errors)).toBe(true);
      expect(names).toContain(item.event);
      expect(item.id).toBe(String(data.seq));
      count += 1;
    }
    // After event 1: the confirmation, the progress and the failure that ends the stream.
    expect(count).toBe(3);
  }, 30_000);

  it('resumable uploads (tus) and the form that names one', async () => {
    const tus = { 'tus-resumable': '1.0.0' };
    const video = await readFile(join(work, 'clip.mp4'));
    const created = await call('POST', '/v1/resumable-uploads', { token: buyer, headers: { ...tus, 'upload-length': String(video.length) } });
    expect(created.status).toBe(201);
    const path = new URL(created.headers.get('location') ?? '', gw.base).pathname;
    expect(
      (await call('POST', '/v1/resumable-uploads', { token: buyer, headers: { ...tus, 'upload-length': String(gw.config.MAX_VIDEO_BYTES + 1) } })).status,
    ).toBe(413);
    await call('POST', '/v1/resumable-uploads', { headers: tus });
    expect((await call('HEAD', path, { token: buyer, headers: tus })).status).toBe(200);
    expect((await call('HEAD', path, { token: stranger, headers: tus })).status).toBe(404);
    const uploadId = path.split('/').pop() ?? '';
    const early = await postListing(gw.base, buyer, {}, { title: 'Bike', latitude: '1', longitude: '2' }, `?videoUpload=${uploadId}`);
    checkAgainstDocument('POST', '/v1/uploads', early.status, early.headers.get('content-type') ?? '', await early.json());
    expect(early.status).toBe(409);
    const sent = await fetch(`${gw.base}${path}`, {
      method: 'PATCH',
      headers: { ...tus, authorization: `Bearer ${buyer}`, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: video,
    });
    checkAgainstDocument('PATCH', path, sent.status, sent.headers.get('content-type') ?? '', await sent.text());
    expect(sent.status).toBe(204);
    const stale = await fetch(`${gw.base}${path}`, {
      method: 'PATCH',
      headers: { ...tus, authorization: `Bearer ${buyer}`, 'upload-offset': '1', 'content-type': 'application/offset+octet-stream' },
      body: video.subarray(0, 1),
    });
    checkAgainstDocument('PATCH', path, stale.status, stale.headers.get('content-type') ?? '', await stale.json());
    const named = await postListing(gw.base, buyer, {}, { title: 'Bike', latitude: '1', longitude: '2' }, `?videoUpload=${uploadId}`);
    checkAgainstDocument('POST', '/v1/uploads', named.status, named.headers.get('content-type') ?? '', await named.json());
    expect(named.status).toBe(202);
    const other = await call('POST', '/v1/resumable-uploads', { token: buyer, headers: { ...tus, 'upload-length': '10' } });
    const otherPath = new URL(other.headers.get('location') ?? '', gw.base).pathname;
    expect((await call('DELETE', otherPath, { token: buyer, headers: tus })).status).toBe(204);
    expect((await call('DELETE', otherPath, { token: buyer, headers: tus })).status).toBe(404);
  }, 30_000);

  it('the read API and moderation', async () => {
    const owner = randomWallet();
    wallets.push(owner.toLowerCase());
    const inputs = [
      listingInput({ wallet: owner, tags: [`doc_${run}`], title: 'approved' }),
      listingInput({ wallet: owner, tags: [`doc_${run}`], title: 'rejected' }),
    ];
    for (const input of inputs) {
      await saveListing(gw.db, input);
      listingIds.push(input.listingId);
    }
    const [approved, rejected] = inputs.map((input) => input.listingId) as [string, string];
    await call('GET', '/v1/admin/listings');
    await call('GET', '/v1/admin/listings', { token: stranger });
    expect((await call('GET', '/v1/admin/listings?status=pending&limit=100', { token: buyer })).status).toBe(200);
    await call('GET', '/v1/admin/listings?status=weird', { admin: gw.adminToken });
    expect((await call('POST', `/v1/admin/listings/${approved}/approve`, { admin: gw.adminToken })).status).toBe(200);
    await call('POST', `/v1/admin/listings/${approved}/approve`, { token: stranger });
    await call('POST', `/v1/admin/listings/${approved}/approve`);
    await call('POST', '/v1/admin/listings/00000000-0000-4000-8000-000000000000/approve', { admin: gw.adminToken });
    await call('POST', `/v1/admin/listings/${rejected}/reject`, { admin: gw.adminToken, body: {} });
    await call('POST', `/v1/admin/listings/${rejected}/reject`, { token: stranger, body: { reason: 'no' } });
    await call('POST', `/v1/admin/listings/${rejected}/reject`, { body: { reason: 'no' } });
    await call('POST', '/v1/admin/listings/00000000-0000-4000-8000-000000000000/reject', { admin: gw.adminToken, body: { reason: 'gone' } });
    expect((await call('POST', `/v1/admin/listings/${rejected}/reject`, { admin: gw.adminToken, body: { reason: 'blurry' } })).status).toBe(200);

    const page = await call('GET', `/v1/listings?tags=doc_${run}&near=52.5,13.4`);
    expect(page.body.items.map((item: Json) => item.id)).toEqual([approved]);
    await call('GET', '/v1/listings?near=100,0');
    expect((await call('GET', '/v1/places?q=Berl&limit=3')).status).toBe(200);
    await call('GET', '/v1/places?q=');
    expect((await call('GET', `/v1/listings/${approved}`)).status).toBe(200);
    expect((await call('GET', `/v1/listings/${rejected}`)).status).toBe(404);
    const listingManifest = `/v1/listings/${approved}/stream/manifest.mpd`;
    expect((await call('GET', listingManifest)).body).toMatchObject({ error: 'manifest_not_ready' });
    await gw.storage.putFile(`listings/${approved}/dash/manifest.mpd`, join(work, 'manifest.mpd'), 'application/dash+xml');
    await gw
      .db('listings')
      .where({ id: approved })
      .update({ manifest_key: `listings/${approved}/dash/manifest.mpd` });
    expect((await call('GET', listingManifest)).status).toBe(200);
    expect((await call('GET', `/v1/listings/${rejected}/stream/manifest.mpd`, { headers: { 'x-admin-token': 'x'.repeat(24) } })).status).toBe(403);
    expect((await call('GET', `/v1/listings/${rejected}/stream/manifest.mpd`)).status).toBe(404);
    expect((await call('GET', '/v1/listings/not-a-uuid')).status).toBe(404);
    expect((await call('GET', `/v1/listings/${approved}/storyboard.vtt`)).body).toMatchObject({ error: 'storyboard_not_found' });
    expect((await call('GET', '/v1/listings/not-a-uuid/storyboard.vtt')).status).toBe(404);
    expect((await call('GET', `/v1/hashtags?prefix=doc_${run}`)).body.hashtags).toEqual([{ tag: `doc_${run}`, listings: 1 }]);
    await call('GET', '/v1/hashtags?prefix=%21%21');
    expect((await call('GET', `/v1/users/${owner}`)).status).toBe(200);
    await call('GET', `/v1/users/${randomWallet()}`);
    await call('GET', '/v1/users/bob');
  });

  it('the payment ledger', async () => {
    const quote = quoteInput({ amount: '1000' });
    ledgerQuotes.push(quote.quoteId);
    await recordQuote(gw.db, quote);
    const sender = transfer('1000');
    const [late] = (await applyCredit(gw.db, depositCredit(quote, { totalReceived: '1000', status: 'late', transfers: [sender] }))).paymentIds;
    await call('GET', '/v1/admin/payments');
    await call('GET', '/v1/admin/payments', { token: stranger });
    expect((await call('GET', '/v1/admin/payments?status=refund_due&limit=1', { token: buyer })).body.items[0]).toMatchObject({ id: late });
    await call('GET', '/v1/admin/payments?status=weird', { admin: gw.adminToken });
    await call('GET', '/v1/admin/payments?cursor=bm9wZQ', { admin: gw.adminToken });
    const approve = `/v1/admin/payments/${late}/refund/approve`;
    expect((await call('POST', approve, { admin: gw.adminToken })).body.send).toMatchObject({ paymentId: late, state: 'approved' });
    await call('POST', approve, { token: stranger });
    await call('POST', approve);
    await call('POST', '/v1/admin/payments/999999999999/refund/approve', { admin: gw.adminToken });
    const path = `/v1/admin/payments/${late}/refund`;
    expect((await call('POST', path, { admin: gw.adminToken, body: { txHash: `0x${'ef'.repeat(32)}` } })).status).toBe(422);
    // A real refund to the row's sender, confirmed.
    const chainDef = chainFor({ rpcUrl: infra.RPC_URL ?? '', chainId: CHAIN_ID });
    const refunder = privateKeyToAccount(generatePrivateKey());
    const anvil = createTestClient({ chain: chainDef, mode: 'anvil', transport: http(infra.RPC_URL) });
    await anvil.setBalance({ address: refunder.address, value: 10n ** 18n });
    const txHash = await createWalletClient({ account: refunder, chain: chainDef, transport: http(infra.RPC_URL) }).sendTransaction({
      to: sender.from as `0x${string}`,
      value: 1000n,
    });
    await createPublicClient({ chain: chainDef, transport: http(infra.RPC_URL), pollingInterval: 100 }).waitForTransactionReceipt({ hash: txHash });
    await anvil.mine({ blocks: 1 });
    expect((await call('POST', path, { admin: gw.adminToken, body: { txHash, note: 'back to the sender' } })).status).toBe(200);
    expect((await call('POST', path, { admin: gw.adminToken, body: { txHash } })).body.repeated).toBe(true);
    expect((await call('POST', path, { admin: gw.adminToken, body: { txHash: `0x${'01'.repeat(32)}` } })).status).toBe(409);
    await call('POST', path, { admin: gw.adminToken, body: { txHash: 'nope' } });
    await call('POST', path, { token: stranger, body: { txHash } });
    await call('POST', path, { body: { txHash } });
    await call('POST', '/v1/admin/payments/999999999999/refund', { admin: gw.adminToken, body: { txHash } });
    // Refunded by hand meanwhile: nothing left for the wallet to send.
    expect((await call('POST', approve, { admin: gw.adminToken })).body).toMatchObject({ error: 'not_refundable' });
  });

  it('operations and the dashboard', async () => {
    await call('GET', '/admin/queues');
    await call('GET', '/admin/queues', { token: stranger });
    const basic = `Basic ${Buffer.from(`ops:${gw.adminToken}`).toString('base64')}`;
    expect((await call('GET', '/admin/queues', { headers: { authorization: basic } })).status).toBe(200);
  });
});

/** A P-256 public key as browsers and VAPID write it (base64url, uncompressed point). */
function p256PublicKey(): string {
  const ecdh = createECDH('prime256v1');
  return ecdh.generateKeys().toString('base64url');
}

describe('notifications and webhooks match the document', () => {
  it('push subscriptions and the VAPID key', async () => {
    expect((await call('GET', '/v1/push/vapid-public-key')).body).toEqual({ publicKey: gw.config.VAPID_PUBLIC_KEY });
    const subscription = {
      endpoint: `https://fcm.push.example/send/${run}`,
      expirationTime: null,
      keys: { p256dh: p256PublicKey(), auth: randomBytes(16).toString('base64url') },
    };
    expect((await call('POST', '/v1/me/push-subscriptions', { token: buyer, body: subscription })).status).toBe(201);
    expect((await call('POST', '/v1/me/push-subscriptions', { token: buyer, body: subscription })).status).toBe(200);
    expect((await call('POST', '/v1/me/push-subscriptions', { token: buyer, body: { ...subscription, endpoint: 'https://evil.example/x' } })).status).toBe(400);
    expect((await call('POST', '/v1/me/push-subscriptions', { body: subscription })).status).toBe(401);
    expect((await call('DELETE', '/v1/me/push-subscriptions', { token: buyer, body: { endpoint: subscription.endpoint } })).status).toBe(204);
    expect((await call('DELETE', '/v1/me/push-subscriptions', { token: buyer, body: { endpoint: subscription.endpoint } })).status).toBe(404);
    expect((await call('DELETE', '/v1/me/push-subscriptions', { token: buyer, body: {} })).status).toBe(400);
  });

  it('favourites and saved searches', async () => {
    const none = '00000000-0000-4000-8000-000000000000';
    expect((await call('PUT', `/v1/me/favourites/${none}`, { token: buyer })).status).toBe(404);
    expect((await call('PUT', `/v1/me/favourites/${none}`)).status).toBe(401);
    expect((await call('GET', '/v1/me/favourites', { token: buyer })).status).toBe(200);
    expect((await call('DELETE', `/v1/me/favourites/${none}`, { token: buyer })).status).toBe(404);
    const saved = await call('POST', '/v1/me/saved-searches', { token: buyer, body: { name: `bikes ${run}`, query: 'tags=bikes&priceMax=100' } });
    expect(saved.status).toBe(201);
    expect((await call('POST', '/v1/me/saved-searches', { token: buyer, body: { name: `bikes ${run}`, query: 'tags=bikes' } })).status).toBe(409);
    expect((await call('POST', '/v1/me/saved-searches', { token: buyer, body: { name: 'x', query: 'radiusKm=3' } })).status).toBe(400);
    expect((await call('GET', '/v1/me/saved-searches', { token: buyer })).status).toBe(200);
    expect((await call('DELETE', `/v1/me/saved-searches/${saved.body.id}`, { token: buyer })).status).toBe(204);
    expect((await call('DELETE', `/v1/me/saved-searches/${saved.body.id}`, { token: buyer })).status).toBe(404);
  });

  it('webhook endpoints, deliveries and replay', async () => {
    const created = await call('POST', '/v1/admin/webhooks', {
      admin: gw.adminToken,
      body: { url: 'https://hooks.example/reelboard', events: ['payment.confirmed', 'profile.saved'] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await call('POST', '/v1/admin/webhooks', { admin: gw.adminToken, body: { url: 'ftp://x', events: ['*'] } })).status).toBe(400);
    expect((await call('POST', '/v1/admin/webhooks', { token: stranger, body: { url: 'https://x.example', events: ['*'] } })).status).toBe(403);
    expect((await call('GET', '/v1/admin/webhooks', { admin: gw.adminToken })).body.endpoints.map((e: Json) => e.id)).toContain(id);
    await call('GET', '/v1/admin/webhooks');
    expect((await call('PATCH', `/v1/admin/webhooks/${id}`, { admin: gw.adminToken, body: { enabled: false } })).body).toMatchObject({ enabled: false });
    expect((await call('PATCH', `/v1/admin/webhooks/${id}`, { admin: gw.adminToken, body: { colour: 'red' } })).status).toBe(400);
    expect((await call('PATCH', '/v1/admin/webhooks/00000000-0000-4000-8000-000000000000', { admin: gw.adminToken, body: { enabled: true } })).status).toBe(
      404,
    );
    expect((await call('POST', `/v1/admin/webhooks/${id}/rotate-secret`, { admin: gw.adminToken, body: {} })).status).toBe(200);
    expect((await call('POST', `/v1/admin/webhooks/${id}/rotate-secret`, { admin: gw.adminToken, body: { overlapSeconds: -1 } })).status).toBe(400);

    const delivery = await createWebhookDelivery(gw.db, {
      endpointId: id,
      uploadId: '00000000-0000-4000-8000-00000000abcd',
      seq: 2,
      event: 'payment.confirmed',
      payload: { id: 'x.2' },
    });
    expect((await call('POST', `/v1/admin/webhooks/deliveries/${delivery.id}/replay`, { admin: gw.adminToken })).status).toBe(409);
    await finishWebhookDelivery(gw.db, delivery.id, 'failed');
    const log = await call('GET', `/v1/admin/webhooks/${id}/deliveries?status=failed`, { admin: gw.adminToken });
    expect(log.body.deliveries.map((d: Json) => d.id)).toEqual([delivery.id]);
    expect((await call('GET', `/v1/admin/webhooks/${id}/deliveries?limit=0`, { admin: gw.adminToken })).status).toBe(400);
    expect((await call('POST', `/v1/admin/webhooks/deliveries/${delivery.id}/replay`, { admin: gw.adminToken })).status).toBe(202);
    expect((await call('POST', '/v1/admin/webhooks/deliveries/nope/replay', { admin: gw.adminToken })).status).toBe(404);

    expect((await call('DELETE', `/v1/admin/webhooks/${id}`, { admin: gw.adminToken })).status).toBe(204);
    expect((await call('DELETE', `/v1/admin/webhooks/${id}`, { admin: gw.adminToken })).status).toBe(404);
    expect((await call('GET', `/v1/admin/webhooks/${id}/deliveries`, { admin: gw.adminToken })).status).toBe(404);
  });
});

describe("a listing's life", () => {
  it('my listings, edits and their moderation, sold, withdraw, remove, renew, profile edits', async () => {
    const inputs = [0, 1, 2, 3].map(() => listingInput({ wallet: ANVIL_ACCOUNTS.buyer.address, tags: [`life_${run}`] }));
    for (const input of inputs) {
      await saveListing(gw.db, input);
      listingIds.push(input.listingId);
      await call('POST', `/v1/admin/listings/${input.listingId}/approve`, { admin: gw.adminToken });
    }
    const [edited, sold, withdrawn, removed] = inputs.map((input) => input.listingId) as [string, string, string, string];
    const none = '00000000-0000-4000-8000-000000000000';
    expect((await call('GET', '/v1/me/listings', { token: buyer })).body.items.length).toBeGreaterThanOrEqual(4);
    await call('GET', '/v1/me/listings');

    const edit = await call('PATCH', `/v1/listings/${edited}`, { token: buyer, body: { title: 'Edited', price: { amount: '10', currency: 'EUR' } } });
    expect(edit.body.mode).toBe('revision');
    await call('PATCH', `/v1/listings/${edited}`, { token: buyer, body: { title: '' } });
    await call('PATCH', `/v1/listings/${edited}`, { body: { title: 'x' } });
    await call('PATCH', `/v1/listings/${edited}`, { token: stranger, body: { title: 'x' } });
    expect((await call('GET', '/v1/admin/revisions', { admin: gw.adminToken })).status).toBe(200);
    await call('GET', '/v1/admin/revisions?status=weird', { admin: gw.adminToken });
    await call('GET', '/v1/admin/revisions', { token: stranger });
    await call('GET', '/v1/admin/revisions');
    await call('POST', `/v1/admin/revisions/${edit.body.revisionId}/reject`, { admin: gw.adminToken, body: {} });
    await call('POST', `/v1/admin/revisions/${edit.body.revisionId}/reject`, { token: stranger, body: { reason: 'no' } });
    await call('POST', `/v1/admin/revisions/${edit.body.revisionId}/reject`, { body: { reason: 'no' } });
    await call('POST', `/v1/admin/revisions/${none}/reject`, { admin: gw.adminToken, body: { reason: 'no' } });
    expect((await call('POST', `/v1/admin/revisions/${edit.body.revisionId}/reject`, { admin: gw.adminToken, body: { reason: 'price bait' } })).status).toBe(
      200,
    );
    await call('POST', `/v1/admin/revisions/${edit.body.revisionId}/reject`, { admin: gw.adminToken, body: { reason: 'again' } });
    const second = await call('PATCH', `/v1/listings/${edited}`, { token: buyer, body: { title: 'Edited again' } });
    expect((await call('POST', `/v1/admin/revisions/${second.body.revisionId}/approve`, { admin: gw.adminToken })).status).toBe(200);
    await call('POST', `/v1/admin/revisions/${second.body.revisionId}/approve`, { admin: gw.adminToken });
    await call('POST', `/v1/admin/revisions/${second.body.revisionId}/approve`, { token: stranger });
    await call('POST', `/v1/admin/revisions/${second.body.revisionId}/approve`);
    await call('POST', `/v1/admin/revisions/${none}/approve`, { admin: gw.adminToken });
    expect((await call('GET', `/v1/listings/${edited}`)).body.title).toBe('Edited again');

    expect((await call('POST', `/v1/listings/${sold}/sold`, { token: buyer })).status).toBe(200);
    await call('POST', `/v1/listings/${sold}/sold`);
    await call('POST', `/v1/listings/${sold}/sold`, { token: stranger });
    expect((await call('POST', `/v1/listings/${withdrawn}/withdraw`, { token: buyer })).status).toBe(200);
    await call('POST', `/v1/listings/${withdrawn}/withdraw`);
    await call('POST', `/v1/listings/${none}/withdraw`, { token: buyer });
    await call('POST', `/v1/listings/${withdrawn}/sold`, { token: buyer });
    await call('PATCH', `/v1/listings/${withdrawn}`, { token: buyer, body: { title: 'x' } });
    const logoForm = async (name = 'logo', file = join(work, 'logo.png')) => {
      const form = new FormData();
      form.append(name, new Blob([await readFile(file)]), 'logo.png');
      return form;
    };
    expect((await call('PUT', `/v1/listings/${edited}/logo`, { token: buyer, form: await logoForm() })).body.mode).toBe('revision');
    await call('PUT', `/v1/listings/${edited}/logo`, { token: buyer, form: await logoForm('video') });
    await call('PUT', `/v1/listings/${edited}/logo`, { token: buyer, form: await logoForm('logo', join(work, 'clip.mp4')) });
    await call('PUT', `/v1/listings/${edited}/logo`, { token: buyer, form: new FormData() });
    await call('PUT', `/v1/listings/${edited}/logo`, { token: buyer, body: { logo: 'x' } });
    await call('PUT', `/v1/listings/${edited}/logo`, { token: stranger, form: await logoForm() });
    await call('PUT', `/v1/listings/${edited}/logo`, { form: await logoForm() });
    await call('PUT', `/v1/listings/${withdrawn}/logo`, { token: buyer, form: await logoForm() });
    await call('POST', `/v1/listings/${withdrawn}/withdraw`, { token: buyer, body: undefined });

    const renewal = await call('POST', `/v1/listings/${edited}/renew`, { token: buyer });
    expect(renewal.status).toBe(202);
    ledgerQuotes.push(renewal.body.renewalId);
    await call('POST', `/v1/listings/${withdrawn}/renew`, { token: buyer });
    await call('POST', `/v1/listings/${edited}/renew`);
    await call('POST', `/v1/listings/${none}/renew`, { token: buyer });

    expect((await call('DELETE', `/v1/listings/${removed}`, { token: buyer })).body.state).toBe('removed');
    await call('DELETE', `/v1/listings/${removed}`);
    await call('DELETE', `/v1/listings/${none}`, { token: buyer });
    expect((await call('POST', `/v1/admin/listings/${withdrawn}/remove`, { admin: gw.adminToken, body: { reason: 'fraud' } })).status).toBe(200);
    await call('POST', `/v1/admin/listings/${withdrawn}/remove`, { admin: gw.adminToken, body: {} });
    await call('POST', `/v1/admin/listings/${withdrawn}/remove`, { token: stranger, body: { reason: 'x' } });
    await call('POST', `/v1/admin/listings/${withdrawn}/remove`, { body: { reason: 'x' } });
    await call('POST', `/v1/admin/listings/${none}/remove`, { admin: gw.adminToken, body: { reason: 'x' } });
    await gw
      .db('listings')
      .where({ id: sold })
      .update({ sold_visible_until: gw.db.raw(`now() - interval '1 second'`) });
    expect((await call('GET', `/v1/listings/${sold}`)).status).toBe(410);
    await call('GET', `/v1/listings?tags=life_${run}&priceMin=1&priceMax=100&currency=EUR`);

    await call('GET', '/v1/me/profile', { token: buyer });
    await call('GET', '/v1/me/profile');
    const profile = await call('PATCH', '/v1/me/profile', { token: buyer, body: { displayName: 'Doc Shop' } });
    expect(profile.status).toBe(202);
    await call('PATCH', '/v1/me/profile', { token: buyer, body: { avatar: 'x' } });
    await call('PATCH', '/v1/me/profile', { body: { displayName: 'x' } });
    await call('POST', `/v1/admin/revisions/${profile.body.revisionId}/approve`, { admin: gw.adminToken });
  });
});

describe('reports match the document', () => {
  it("a report (signed in, anonymous, refused), the moderators' queue and a resolution", async () => {
    const input = listingInput({ wallet: ANVIL_ACCOUNTS.buyer.address, tags: [`report_${run}`] });
    await saveListing(gw.db, input);
    listingIds.push(input.listingId);
    await call('POST', `/v1/admin/listings/${input.listingId}/approve`, { admin: gw.adminToken });
    const path = `/v1/listings/${input.listingId}/reports`;
    expect((await call('POST', path, { token: stranger, body: { reason: 'scam', details: 'asks for a deposit' } })).status).toBe(201);
    expect((await call('POST', path, { token: stranger, body: { reason: 'scam' } })).status).toBe(409);
    expect((await call('POST', path, { body: { reason: 'other' } })).status).toBe(400);
    expect((await call('POST', path, { token: 'x'.repeat(43), body: { reason: 'spam' } })).status).toBe(401);
    expect((await call('POST', '/v1/listings/00000000-0000-4000-8000-000000000000/reports', { body: { reason: 'spam' } })).status).toBe(404);
    const queue = await call('GET', '/v1/admin/reports', { admin: gw.adminToken });
    expect(queue.body.items.some((item: { listingId: string }) => item.listingId === input.listingId)).toBe(true);
    await call('GET', '/v1/admin/reports?status=x', { admin: gw.adminToken });
    await call('GET', '/v1/admin/reports', { token: stranger });
    await call('GET', '/v1/admin/reports?status=resolved');
    const resolve = `/v1/admin/listings/${input.listingId}/reports/resolve`;
    expect((await call('POST', resolve, { admin: gw.adminToken, body: { decision: 'reject' } })).status).toBe(400);
    expect((await call('POST', resolve, { admin: gw.adminToken, body: { decision: 'dismiss' } })).status).toBe(200);
    expect((await call('POST', resolve, { admin: gw.adminToken, body: { decision: 'dismiss' } })).status).toBe(409);
    await call('POST', '/v1/admin/listings/00000000-0000-4000-8000-000000000000/reports/resolve', { admin: gw.adminToken, body: { decision: 'dismiss' } });
  });
});

describe("the seller's fee and unpaid uploads match the document", () => {
  it('pricing, listing unpaid uploads and cancelling one', async () => {
    expect((await call('GET', '/v1/pricing')).body).toMatchObject({ symbol: 'ETH', decimals: 18 });
    const posted = await postListing(gw.base, buyer, { video: join(work, 'clip.mp4') }, { title: 'Draft', latitude: '52.5', longitude: '13.4' });
    const { uploadId } = (await posted.json()) as Json;
    expect((await call('GET', '/v1/me/unpaid-uploads', { token: buyer })).body.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ uploadId, title: 'Draft' })]),
    );
    await call('GET', '/v1/me/unpaid-uploads');
    expect((await call('DELETE', `/v1/uploads/${uploadId}`, { token: stranger })).status).toBe(404);
    expect((await call('DELETE', `/v1/uploads/${uploadId}`, { token: buyer })).body).toMatchObject({ uploadId, state: 'expired' });
    expect((await call('DELETE', `/v1/uploads/${uploadId}`, { token: buyer })).status).toBe(409);
    ledgerQuotes.push(uploadId);
  });
});

describe('coverage', () => {
  it('exercised every operation of the document', () => {
    const documented = Object.entries(doc.paths as Json).flatMap(([path, item]) =>
      Object.keys(item as Json).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.filter((operation) => !exercised.has(operation))).toEqual([]);
  });
});
