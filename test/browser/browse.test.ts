import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, chromium, type Page } from 'playwright-core';
import { connectRedis } from '@reelboard/bus';
import { moderateListing, saveListing } from '@reelboard/db';
import { assertAccessible, DESKTOP_VIEWPORT, PHONE_VIEWPORT } from '@reelboard/testkit/a11y';
import { findChromium } from '@reelboard/testkit/chromium';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv, repoRoot } from '@reelboard/testkit/infra-env';
import { makePng } from '@reelboard/testkit/media';
import { type Gateway, startGateway } from '../../services/api-gateway/test/harness.js';

// The browse view in Chromium against a real gateway, Postgres and S3 server: the search form's
// state in the address, place names, price and age on cards, posters first with previews that play
// only while their card is on screen (one downloading at a time), and axe-core on desktop and phone.

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--autoplay-policy=no-user-gesture-required',
];
const SHOTS = join(repoRoot, 'test-artifacts', 'browser');
const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'browser-browse-test');
const run = randomBytes(3).toString('hex');
const scope = `browse_${run}`;
const listingIds: string[] = [];
const wallets: string[] = [];
let gateway: Gateway;
let browser: Browser;
let work: string;

/** The parts of a `<video>` the test reads in the page (the test compiles without the DOM library). */
type VideoLike = { paused: boolean; muted: boolean; getAttribute(name: string): string | null; preload: string };

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  work = await mkdtemp(join(tmpdir(), 'reelboard-browse-'));
  gateway = await startGateway(redis);
  const preview = join(work, 'preview.webm');
  await promisify(execFile)('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x180:rate=15', '-t', '2'],
    ...['-c:v', 'libvpx-vp9', '-b:v', '300k', '-deadline', 'realtime', '-cpu-used', '8', '-an', '-y', preview],
  ]);
  const poster = join(work, 'poster.png');
  await makePng(poster, { width: 320, height: 180 });
  // 24 listings in Berlin, one far away in Munich; prices rise with the number, the first is the oldest.
  for (let n = 0; n < 25; n += 1) {
    const munich = n === 24;
    const input = listingInput({
      title: munich ? 'Bicycle in Munich' : n % 2 === 0 ? `Red bicycle ${n}` : `Oak table ${n}`,
      tags: [scope],
      price: { amount: `${10 + n}.00`, currency: 'EUR' },
      latitude: munich ? 48.137 : 52.52 + n / 1000,
      longitude: munich ? 11.575 : 13.405,
    });
    await saveListing(gateway.db, input);
    await moderateListing(gateway.db, { listingId: input.listingId, actor: 'test', action: 'approve' });
    await gateway.storage.putFile(input.listing.previewKey, preview, 'video/webm');
    await gateway.storage.putFile(input.listing.posterKey, poster, 'image/png');
    listingIds.push(input.listingId);
    wallets.push(input.owner.walletAddress.toLowerCase());
  }
  // The first listing is three days old.
  await gateway
    .db('listings')
    .where({ id: listingIds[0] })
    .update({ created_at: gateway.db.raw("now() - interval '3 days 1 hour'") });
  browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_FLAGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (listingIds.length) await gateway.db('listings').whereIn('id', listingIds).delete();
  if (wallets.length) await gateway.db('users').whereIn('wallet_address', wallets).delete();
  await gateway?.db('hashtags').where('tag', scope).delete();
  await gateway?.close();
  await redis.quit();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A page that counts preview downloads: how many, and the most at once. */
async function openPage(viewport: { width: number; height: number }) {
  const page = await browser.newPage({ viewport, locale: 'en-GB' });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const inFlight = new Set<unknown>();
  const downloads = { started: 0, most: 0, urls: new Set<string>() };
  const isPreview = (url: string) => url.includes('/preview.webm');
  page.on('request', (request) => {
    if (!isPreview(request.url())) return;
    downloads.started += 1;
    downloads.urls.add(request.url().split('?')[0] ?? '');
    inFlight.add(request);
    downloads.most = Math.max(downloads.most, inFlight.size);
  });
  const finished = (request: unknown) => inFlight.delete(request);
  page.on('requestfinished', finished);
  page.on('requestfailed', finished);
  return { page, errors, downloads };
}

const cardVideos = (page: Page) =>
  page.$$eval('#listings video', (videos) =>
    (videos as unknown as VideoLike[]).map((video) => ({ src: video.getAttribute('src'), paused: video.paused, muted: video.muted, preload: video.preload })),
  );

describe('the browse view', () => {
  it('shows cards with price and age, posters first, and plays previews only while on screen, one download at a time', async () => {
    const { page, errors, downloads } = await openPage(DESKTOP_VIEWPORT);
    await page.goto(`${gateway.base}/?tags=${scope}&sort=price_asc`);
    await expect.poll(() => page.locator('#listings > li').count(), { timeout: 20_000 }).toBe(20);
    await expect.poll(() => page.locator('#listings > li').first().locator('.card-price').textContent()).toBe('€10.00');
    await expect.poll(() => page.locator('#listings > li').first().locator('time').textContent()).toBe('3 days ago');
    expect(await page.locator('#listings > li').nth(1).locator('time').textContent()).toBe('now');

    // The cards on screen play, muted; those below the fold have no source at all.
    await expect.poll(async () => (await cardVideos(page))[0]?.paused, { timeout: 20_000 }).toBe(false);
    const videos = await cardVideos(page);
    expect(videos.every((video) => video.muted)).toBe(true);
    expect(videos.at(-1)).toMatchObject({ src: null, paused: true, preload: 'none' });
    const onScreen = await page.$$eval(
      '#listings video',
      (elements) =>
        (elements as unknown as { getBoundingClientRect(): { top: number; bottom: number } }[]).filter((element) => {
          const box = element.getBoundingClientRect();
          return box.top >= 0 && box.bottom <= (globalThis as unknown as { innerHeight: number }).innerHeight;
        }).length,
    );
    await expect.poll(() => downloads.urls.size, { timeout: 20_000 }).toBeGreaterThanOrEqual(onScreen);
    expect(downloads.urls.size).toBeLessThan(20);
    expect(downloads.most).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'browse-desktop.png') });
    await assertAccessible(page, 'browse (desktop)');

    // Scrolled to the end: the first card pauses, the last one plays.
    await page.locator('#listings > li').last().scrollIntoViewIfNeeded();
    await expect.poll(async () => (await cardVideos(page)).at(-1)?.paused, { timeout: 20_000 }).toBe(false);
    expect((await cardVideos(page))[0]?.paused).toBe(true);
    expect(downloads.most).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('searches by words (typos too), place, radius, price and sort, keeping the search in the address', async () => {
    const { page, errors } = await openPage(DESKTOP_VIEWPORT);
    await page.goto(`${gateway.base}/?tags=${scope}`);
    await expect.poll(() => page.locator('#listings > li').count(), { timeout: 20_000 }).toBe(20);
    await page.fill('#filter-q', 'bicylce');
    await page.fill('#filter-near', 'Berl');
    // The place suggestions arrive as the person types.
    await expect.poll(() => page.locator('#filter-near-places option').first().getAttribute('value'), { timeout: 20_000 }).toBe('Berlin, Germany');
    await page.fill('#filter-near', 'Berlin, Germany');
    await page.fill('#filter-radiusKm', '50');
    await page.fill('#filter-priceMin', '12');
    await page.fill('#filter-priceMax', '20');
    await page.selectOption('#filter-sort', 'price_desc');
    await page.getByRole('button', { name: 'Search' }).click();

    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as { location: { search: string } }).location.search), { timeout: 20_000 })
      .toContain('q=bicylce');
    // The search lives in the page's own address (`/?q=…`), so it can be shared and survives a reload.
    const hash = new URLSearchParams(await page.evaluate(() => (globalThis as unknown as { location: { search: string } }).location.search));
    expect(Object.fromEntries(hash)).toMatchObject({
      q: 'bicylce',
      place: 'Berlin, Germany',
      radiusKm: '50',
      priceMin: '12',
      priceMax: '20',
      sort: 'price_desc',
    });
    expect(hash.get('near')).toMatch(/^52\.52\d*,13\.4\d*$/);
    // Red bicycles (even numbers) priced 12..20 within 50 km of Berlin, dearest first; the Munich one is out.
    await expect
      .poll(() => page.locator('#listings h3').allTextContents(), { timeout: 20_000 })
      .toEqual(['Red bicycle 10', 'Red bicycle 8', 'Red bicycle 6', 'Red bicycle 4', 'Red bicycle 2']);
    expect(await page.locator('p[role=status]').textContent()).toContain('spelt alike');

    // A reload keeps the search and its form.
    await page.reload();
    await expect.poll(() => page.locator('#listings h3').count(), { timeout: 20_000 }).toBe(5);
    expect(await page.inputValue('#filter-q')).toBe('bicylce');
    expect(await page.inputValue('#filter-near')).toBe('Berlin, Germany');
    expect(await page.inputValue('#filter-sort')).toBe('price_desc');

    // A place no one knows is said next to the field; the search does not run.
    await page.fill('#filter-near', 'Qqqxzv');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#filter-near-error').textContent(), { timeout: 20_000 }).toContain('No town called');
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('is accessible and never scrolls sideways on a phone', async () => {
    const { page, errors } = await openPage(PHONE_VIEWPORT);
    await page.goto(`${gateway.base}/?tags=${scope}&q=table&priceMax=30`);
    await expect.poll(() => page.locator('#listings > li').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'browse-phone.png'), fullPage: true });
    await assertAccessible(page, 'browse (phone)');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("fills the seller's latitude and longitude from a town's name", async () => {
    const { page } = await openPage(PHONE_VIEWPORT);
    await page.goto(`${gateway.base}/sell`);
    // The form is inert and greyed until a wallet signs in (flow.test.ts walks that); this checks the place field alone.
    await page.waitForSelector('#place', { state: 'attached' });
    await page.evaluate(() => {
      type FormLike = { removeAttribute(name: string): void; classList: { remove(name: string): void } };
      const form = (globalThis as unknown as { document: { querySelector(selector: string): FormLike | null } }).document.querySelector('form[inert]');
      form?.removeAttribute('inert');
      form?.classList.remove('locked');
    });
    await page.fill('#place', 'Munich');
    await page.locator('#place').dispatchEvent('change');
    await expect.poll(() => page.inputValue('#latitude'), { timeout: 20_000 }).toBe('48.13743');
    expect(await page.inputValue('#longitude')).toBe('11.57549');
    await page.fill('#place', 'Qqqxzv');
    await page.locator('#place').dispatchEvent('change');
    await expect.poll(() => page.locator('#place-error').textContent(), { timeout: 20_000 }).toContain('No town called');
    // The rest of the form is market-seller's and flow.test.ts's to check.
    await assertAccessible(page, "sell's location (phone)", { include: 'fieldset.location' });
    await page.close();
  }, 60_000);
});
