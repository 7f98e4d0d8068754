import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { connectRedis } from '@reelboard/bus';
import { saveListing } from '@reelboard/db';
import { assertAccessible } from '@reelboard/testkit/a11y';
import { findChromium } from '@reelboard/testkit/chromium';
import { listingInput, randomWallet } from '@reelboard/testkit/db-fixtures';
import { infraEnv, repoRoot } from '@reelboard/testkit/infra-env';
import { makePng } from '@reelboard/testkit/media';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, startGateway } from '../../services/api-gateway/test/harness.js';

// The buyer's side of issue 27 in Chromium, on a gateway in this process against real Postgres and
// S3: a listing's page on its real path (contact links, share), the seller's page, favourites and
// saved searches, each checked with axe-core (no serious or critical violation) on a desktop and a
// 390 px phone viewport, where the page must never scroll sideways. The session is a real SIWE
// session (signed through the API) put where the client keeps it, so no wallet is driven here.

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SHOTS = join(repoRoot, 'test-artifacts', 'browser');
const VIEWPORTS = { desktop: { width: 1100, height: 900 }, phone: { width: 390, height: 844 } } as const;
const run = randomBytes(3).toString('hex');
const TAG = `share${run}`;
const CONTACT = 'anna@example.com, +49 30 1234567, https://shop.example/anna or javascript:alert(1)';
const buyer = ANVIL_ACCOUNTS.stranger;
const seller = randomWallet().toLowerCase();

const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'browser-market-share');
let gateway: Gateway;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let work: string;
let listingId: string;
const pageErrors: string[] = [];

/** axe-core on the current page (no serious or critical violation) and no sideways scroll: the testkit's checks. */
async function audit(name: string): Promise<void> {
  await assertAccessible(page, name);
  await page.screenshot({ path: join(SHOTS, `share-${name}.png`), fullPage: true });
}

const heading = () => page.locator('main h1').first().textContent();

beforeAll(async () => {
  const executablePath = findChromium();
  mkdirSync(SHOTS, { recursive: true });
  work = await mkdtemp(join(tmpdir(), 'market-share-'));
  gateway = await startGateway(redis);
  await gateway.db('favourites').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  await gateway.db('saved_searches').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  const input = listingInput({ wallet: seller, displayName: 'Anna’s bikes', title: 'Red city bike', tags: [TAG] });
  listingId = input.listingId;
  await saveListing(gateway.db, input);
  await gateway.db('listings').where({ id: listingId }).update({ price_amount: '300.00', price_currency: 'EUR', contact: CONTACT });
  await gateway.db('users').where({ wallet_address: seller }).update({ contact: CONTACT });
  const png = join(work, 'poster.png');
  await makePng(png, { width: 320, height: 180 });
  await gateway.storage.putFile(input.listing.posterKey, png, 'image/png');
  await gateway.storage.putFile(input.listing.logoKey ?? '', png, 'image/png');
  await gateway.bus.status.publish({ uploadId: listingId, event: 'profile.saved', stage: 'profile-writer', state: 'saved' });
  const approved = await fetch(`${gateway.base}/v1/admin/listings/${listingId}/approve`, { method: 'POST', headers: { 'x-admin-token': gateway.adminToken } });
  expect(approved.status).toBe(200);

  const token = await gateway.signIn(buyer.key);
  const session = { address: buyer.address.toLowerCase(), token, expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
  browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
  context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gateway.base });
  // Where the client keeps a signed-in tab's session (session.ts).
  await context.addInitScript((stored) => {
    (globalThis as unknown as { sessionStorage: { setItem(key: string, value: string): void } }).sessionStorage.setItem('reelboard.session', stored);
  }, JSON.stringify(session));
  page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  await gateway?.db('favourites').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  await gateway?.db('saved_searches').where({ wallet_address: buyer.address.toLowerCase() }).delete();
  if (listingId) await gateway?.db('listings').where({ id: listingId }).delete();
  await gateway?.db('users').where({ wallet_address: seller }).delete();
  await gateway?.db('hashtags').where({ tag: TAG }).delete();
  await gateway?.close();
  await redis.quit();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('contact, share, save in Chromium', () => {
  it("a listing's page: real path, old hash redirected, contact as links, share by copy and by the share sheet", async () => {
    await page.goto(`${gateway.base}/#/listing/${listingId}`);
    await expect.poll(() => page.url()).toBe(`${gateway.base}/listings/${listingId}`);
    await expect.poll(heading).toBe('Red city bike');
    expect(await page.title()).toBe('Red city bike · Reelboard');
    const links = await page.locator('#contact a').evaluateAll((anchors) => anchors.map((a) => (a as unknown as { href: string }).href));
    expect(links).toEqual(['mailto:anna@example.com', 'tel:+49301234567', 'https://shop.example/anna']);
    expect(await page.locator('#contact').textContent()).toContain('javascript:alert(1)');
    await audit('listing-desktop');

    // No share sheet on this desktop: the link is copied.
    await page.evaluate(() => {
      (globalThis as unknown as { navigator: { share?: unknown } }).navigator.share = undefined;
    });
    await page.getByRole('button', { name: 'Share' }).click();
    await expect.poll(() => page.locator('#share-result').textContent()).toBe('Link copied.');
    expect(
      await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText()),
    ).toBe(`${gateway.base}/listings/${listingId}`);
    // With a share sheet (phones), the Web Share API gets the title and the link.
    await page.evaluate(() => {
      const scope = globalThis as unknown as { navigator: { share?: unknown; canShare?: unknown }; shared?: unknown };
      scope.navigator.canShare = () => true;
      scope.navigator.share = async (data: unknown) => {
        scope.shared = data;
      };
    });
    await page.getByRole('button', { name: 'Share' }).click();
    await expect.poll(() => page.locator('#share-result').textContent()).toBe('Shared.');
    expect(await page.evaluate(() => (globalThis as unknown as { shared: unknown }).shared)).toEqual({
      title: 'Red city bike',
      url: `${gateway.base}/listings/${listingId}`,
    });
  });

  it("the seller's page from the listing's seller name", async () => {
    await page.getByRole('link', { name: 'Anna’s bikes' }).click();
    await expect.poll(() => page.url()).toBe(`${gateway.base}/sellers/${seller}`);
    await expect.poll(heading).toBe('Anna’s bikes');
    expect(await page.locator('#member-since').textContent()).toMatch(/^Member since /);
    expect(await page.locator('#seller-listings li').count()).toBe(1);
    expect(await page.locator('#seller-contact a[href^="mailto:"]').count()).toBe(1);
    await audit('seller-desktop');
  });

  it('favourites: the heart on the listing page, kept in the favourites view', async () => {
    await page.goto(`${gateway.base}/listings/${listingId}`);
    const heart = page.locator('article.listing button.heart');
    await expect.poll(() => heart.getAttribute('aria-label')).toBe('Save "Red city bike" to favourites');
    await heart.click();
    await expect.poll(() => heart.getAttribute('aria-pressed')).toBe('true');
    expect(await gateway.db('favourites').where({ wallet_address: buyer.address.toLowerCase() }).pluck('listing_id')).toEqual([listingId]);
    await page.getByRole('link', { name: 'Favourites' }).click();
    await expect.poll(() => page.locator('#favourites li').count()).toBe(1);
    await expect.poll(() => page.locator('#favourites button.heart').getAttribute('aria-pressed')).toBe('true');
    await audit('favourites-desktop');
  });

  it('saved searches: save the browse query, list it, unsubscribe', async () => {
    await page.goto(`${gateway.base}/?tags=${TAG}`);
    await page.getByLabel('Save this search as').fill('Red bikes');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => page.locator('#save-search-result').textContent()).toContain('Saved "Red bikes"');
    await audit('browse-save-desktop');
    await page.getByRole('link', { name: 'Manage saved searches' }).click();
    await expect.poll(() => page.locator('#saved-searches li').count()).toBe(1);
    expect(await page.locator('#saved-searches a').getAttribute('href')).toBe(`/?tags=${TAG}`);
    await audit('saved-searches-desktop');
    await page.getByRole('button', { name: 'Unsubscribe from "Red bikes"' }).click();
    await expect.poll(() => page.locator('#saved-searches li').count()).toBe(0);
    expect(await page.locator('#saved-searches-status').textContent()).toContain('no more alerts');
    expect(await gateway.db('saved_searches').where({ wallet_address: buyer.address.toLowerCase() }).count()).toEqual([{ count: '0' }]);
  });

  it('every view on a 390 px phone: no serious or critical axe finding, no sideways scroll; an unknown path says so', async () => {
    await page.setViewportSize(VIEWPORTS.phone);
    await gateway
      .db('saved_searches')
      .insert({ wallet_address: buyer.address.toLowerCase(), name: 'A long saved search name for a phone', query: `tags=${TAG}`, filters: { tags: [TAG] } });
    for (const [path, name, title] of [
      [`/listings/${listingId}`, 'listing', 'Red city bike'],
      [`/sellers/${seller}`, 'seller', 'Anna’s bikes'],
      ['/favourites', 'favourites', 'Favourites'],
      ['/saved-searches', 'saved-searches', 'Saved searches'],
      [`/?tags=${TAG}`, 'browse', 'Find a listing'],
    ] as const) {
      await page.goto(`${gateway.base}${path}`);
      await expect.poll(heading).toBe(title);
      // What each view loads (cards, the list) has arrived before it is judged.
      await page.waitForLoadState('networkidle');
      await audit(`${name}-phone`);
    }
    const missing = await page.goto(`${gateway.base}/no/such/page`);
    expect(missing?.status()).toBe(404);
    await expect.poll(heading).toBe('Page not found');
    expect(pageErrors).toEqual([]);
  });
});
