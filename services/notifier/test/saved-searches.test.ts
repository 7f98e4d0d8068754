import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import webpush from 'web-push';
import { connectRedis } from '@reelboard/bus';
import { saveListing } from '@reelboard/db';
import { listingInput, randomWallet } from '@reelboard/testkit/db-fixtures';
import { infraEnv, repoRoot } from '@reelboard/testkit/infra-env';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, startGateway } from '../../api-gateway/test/harness.js';
import { BrowserKeys, Receiver, selfSignedCertificate } from './receivers.js';

// Saved searches on real parts: a gateway (in this process) takes the saved search and the browser's
// subscription and approves listings as a moderator does; two notifier processes follow the status
// log; a local HTTPS server stands in for the browser vendor's push service and decrypts what arrives.

const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'saved-search-test');
const vapid = webpush.generateVAPIDKeys();
const tls = selfSignedCertificate();
const BASE_PORT = Number(process.env.TEST_BASE_PORT ?? 18080) + 60;
const run = randomBytes(3).toString('hex');
const BIKES = `bikes_${run}`;
const buyer = ANVIL_ACCOUNTS.cli;
const seller = randomWallet();

let gateway: Gateway;
let pushService: Receiver;
let token: string;
const notifiers: ChildProcess[] = [];
const listingIds: string[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startNotifier(index: number): Promise<void> {
  const logDir = join(repoRoot, 'test-artifacts', 'logs');
  mkdirSync(logDir, { recursive: true });
  const port = BASE_PORT + index;
  const child = spawn(process.execPath, ['--import', 'tsx', join('services', 'notifier', 'src', 'main.ts')], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      INTERNAL_PORT: String(port),
      REDIS_URL: gateway.config.REDIS_URL,
      REDIS_PREFIX: gateway.config.REDIS_PREFIX,
      DATABASE_URL: gateway.config.DATABASE_URL,
      PUBLIC_URL: gateway.base,
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:ops@example.org',
      PUSH_FIRST_RETRY_MS: '200',
      LOG_LEVEL: 'debug',
      NODE_EXTRA_CA_CERTS: tls.certPath,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(join(logDir, `saved-search-notifier-${index}.log`), { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  notifiers.push(child);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`notifier ${index} exited with ${child.exitCode}`);
    if (
      await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (res) => res.ok,
        () => false,
      )
    )
      return;
    if (Date.now() > deadline) throw new Error(`notifier ${index} did not start`);
    await sleep(200);
  }
}

const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
  fetch(`${gateway.base}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });

/** A seller's listing saved and approved by a moderator (the approval is what alerts saved searches). */
async function approvedListing(title: string, where: { latitude: number; longitude: number }, price: string | null): Promise<string> {
  const input = listingInput({ wallet: seller, title, tags: [BIKES], ...where });
  await saveListing(gateway.db, input);
  listingIds.push(input.listingId);
  if (price) await gateway.db('listings').where({ id: input.listingId }).update({ price_amount: price, price_currency: 'EUR' });
  await gateway.bus.status.publish({ uploadId: input.listingId, event: 'profile.saved', stage: 'profile-writer', state: 'saved' });
  const approved = await fetch(`${gateway.base}/v1/admin/listings/${input.listingId}/approve`, {
    method: 'POST',
    headers: { 'x-admin-token': gateway.adminToken },
  });
  expect(approved.status).toBe(200);
  return input.listingId;
}

/**
 * Until the listings' match jobs have run and every push they queued has been sent (or given up):
 * after that no alert for them can still arrive, whatever the machine's load. (A fixed 4 s wait
 * was both slower and, under load, no proof that nothing more would come.)
 */
async function matchedAndPushed(listings: string[]): Promise<void> {
  const matches = gateway.bus.queue('notify.saved-searches');
  const pushes = gateway.bus.queue('notify.push');
  await vi.waitFor(
    async () => {
      for (const id of listings) expect(await (await matches.getJob(`${id}.saved-searches`))?.isCompleted(), `the match job of ${id}`).toBe(true);
      expect(await pushes.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children')).toEqual({
        waiting: 0,
        active: 0,
        delayed: 0,
        prioritized: 0,
        'waiting-children': 0,
      });
    },
    { timeout: 30_000, interval: 100 },
  );
}

const BERLIN = { latitude: 52.52, longitude: 13.405 };
const MUNICH = { latitude: 48.137, longitude: 11.575 };

beforeAll(async () => {
  pushService = await Receiver.start({ tls, okStatus: 201 });
  gateway = await startGateway(redis, { VAPID_PUBLIC_KEY: vapid.publicKey, PUSH_ALLOWED_HOSTS: 'localhost' });
  await gateway.db('push_subscriptions').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  await gateway.db('saved_searches').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  token = await gateway.signIn(buyer.key);
  await Promise.all([startNotifier(0), startNotifier(1)]);
});

afterAll(async () => {
  await Promise.all(
    notifiers.map(async (child) => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }),
  );
  await gateway?.db('push_subscriptions').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  await gateway?.db('saved_searches').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  if (listingIds.length) await gateway?.db('listings').whereIn('id', listingIds).delete();
  await gateway?.db('users').where({ wallet_address: seller.toLowerCase() }).delete();
  await gateway?.db('hashtags').where({ tag: BIKES }).delete();
  await gateway?.close();
  await pushService?.close();
  await redis.quit();
});

describe('saved searches', () => {
  it('alert once by Web Push when a new approved listing matches, never for one that does not, and stop on unsubscribe', async () => {
    const browser = new BrowserKeys();
    const subscribed = await api('/v1/me/push-subscriptions', {
      method: 'POST',
      body: { endpoint: `${pushService.origin}/push/alerts`, expirationTime: null, keys: browser.keys },
    });
    expect(subscribed.status).toBe(201);
    const created = await api('/v1/me/saved-searches', {
      method: 'POST',
      body: { name: 'Bikes in Berlin', query: `tags=${BIKES}&near=52.52,13.405&radiusKm=20&priceMax=500&cursor=abc` },
    });
    expect(created.status).toBe(201);
    const saved = (await created.json()) as { id: string; query: string };
    // Paging is not part of a search.
    expect(saved.query).toBe(`tags=${BIKES}&near=52.52%2C13.405&radiusKm=20&priceMax=500`);

    const match = await approvedListing('Red city bike', BERLIN, '300.00');
    await pushService.until((all) => all.some((r) => r.path === '/push/alerts'), 20_000, 'the saved-search alert');
    // Not near enough, too dear: no alert.
    const munich = await approvedListing('Munich bike', MUNICH, '300.00');
    const golden = await approvedListing('Golden bike', BERLIN, '900.00');
    // A second approval of the matched listing (a hold released) after its first match job has left the
    // queue (retention) runs the match again: the alert table keeps it from being announced twice.
    const queue = gateway.bus.queue('notify.saved-searches');
    await matchedAndPushed([match]);
    await (await queue.getJob(`${match}.saved-searches`))?.remove();
    await gateway.bus.status.publish({ uploadId: match, event: 'moderation.approved', stage: 'moderation', state: 'saved' });
    await matchedAndPushed([match, munich, golden]);

    const received = pushService.on('/push/alerts');
    expect(received).toHaveLength(1);
    const message = browser.decrypt(received[0]!.body) as Record<string, unknown>;
    expect(message).toMatchObject({
      title: 'New: Red city bike · 300.00 EUR',
      url: `${gateway.base}/listings/${match}`,
      event: 'saved-search.match',
      tag: `saved-search.${match}`,
    });
    expect(message.body).toContain('"Bikes in Berlin"');
    expect(await gateway.db('saved_search_alerts').where({ saved_search_id: saved.id }).pluck('listing_id')).toEqual([match]);

    // Unsubscribed: the next matching listing alerts nobody.
    const list = (await (await api('/v1/me/saved-searches')).json()) as { items: { id: string; name: string }[] };
    expect(list.items.map((item) => item.name)).toEqual(['Bikes in Berlin']);
    expect((await api(`/v1/me/saved-searches/${saved.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/v1/me/saved-searches/${saved.id}`, { method: 'DELETE' })).status).toBe(404);
    await matchedAndPushed([await approvedListing('Blue city bike', BERLIN, '250.00')]);
    expect(pushService.on('/push/alerts')).toHaveLength(1);
  });
});
