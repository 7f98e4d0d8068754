import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, chromium, type Page } from 'playwright-core';
import { mnemonicToAccount } from 'viem/accounts';
import { depositAddressAt, keyedDepositSalt, LOCAL_DEPOSIT_SALT_KEY } from '@reelboard/chain';
import { findChromium } from '@reelboard/testkit/chromium';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { makeClip, makePng } from '@reelboard/testkit/media';
import { type Stack, startStack } from '@reelboard/testkit/stack';
import { type InjectedWallet, injectWallet } from './wallet-bridge.js';

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
const ADMIN_TOKEN = 'browser-test-admin-token-0123456789';
const SHOTS = join(repoRoot, 'test-artifacts', 'browser');
/**
 * An anvil dev account of the default mnemonic that no other test pays with, so parallel test
 * runs on the shared chain never race for its nonces.
 */
const BUYER = mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: 7 });
/** A hashtag no other listing has, so the browse filter finds exactly this test's listing. */
const UNIQUE_TAG = `browser${Date.now().toString(36)}`;

/** The parts of DOM elements the test reads in the page (the test itself compiles without the DOM library). */
type ProgressLike = { value: number };
type MediaLike = { muted: boolean; loop: boolean; readyState: number; duration: number };

let stack: Stack;
let browser: Browser;
let page: Page;
let wallet: InjectedWallet;
let work: string;
let listingId: string;
const pageErrors: string[] = [];

/** The upload's own deposit address (where the first payment went), salted under the local chain's key as the stack's gateway does. */
const tx0To = (id: string) =>
  depositAddressAt({ merchant: (stack.env.MERCHANT_ADDRESS ?? '').toLowerCase() as `0x${string}`, token: null }, keyedDepositSalt(LOCAL_DEPOSIT_SALT_KEY, id));

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  // Found before anything starts, so a machine without a usable browser fails in one clear line.
  // playwright-core never downloads a browser itself.
  const executablePath = findChromium();
  mkdirSync(SHOTS, { recursive: true });
  work = await mkdtemp(join(tmpdir(), 'reelboard-browser-'));
  await Promise.all([makeClip(join(work, 'clip.mp4'), { width: 640, height: 360, seconds: 2 }), makePng(join(work, 'logo.png'))]);
  stack = await startStack({ ADMIN_TOKEN, PREVIEW_SECONDS: '1' });
  browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  wallet = await injectWallet(page, BUYER, stack.env.RPC_URL ?? '', Number(stack.env.CHAIN_ID));
});

afterAll(async () => {
  await browser?.close();
  await stack?.shutdown();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the reference web client in Chromium', () => {
  it('walks connect, sign in, form, PAY, SAVE and the listing', async () => {
    await page.goto(`${stack.gatewayUrl}/sell`);
    await expect.poll(() => page.locator('h1').textContent()).toBe('Publish a video listing');
    await shot('01-start');

    await page.getByRole('button', { name: 'Connect wallet' }).click();
    await expect.poll(() => page.locator('#wallet-status').textContent()).toContain(BUYER.address);
    await shot('02-connected');

    await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
    await expect.poll(() => page.locator('#wallet-status').textContent()).toContain(`Signed in as ${BUYER.address.toLowerCase()}`);
    const signed = wallet.calls.find((call) => call.method === 'personal_sign');
    expect(Buffer.from(String(signed?.params[0]).slice(2), 'hex').toString()).toContain(
      `${new URL(stack.gatewayUrl).host} wants you to sign in with your Ethereum account`,
    );
    await shot('03-signed-in');

    // An incomplete form never leaves the page: each missing field is named.
    await page.getByRole('button', { name: 'PAY' }).click();
    await expect.poll(() => page.locator('#video-error').textContent()).toBe('choose a video file');
    expect(await page.locator('#latitude-error').textContent()).toContain('latitude must be a number');
    expect(wallet.calls.some((call) => call.method === 'eth_sendTransaction')).toBe(false);
    await shot('04-form-errors');

    await page.getByLabel('Video').setInputFiles(join(work, 'clip.mp4'));
    await page.getByLabel('Logo (optional)').setInputFiles(join(work, 'logo.png'));
    await page.getByLabel('Title').fill('Road bike in the browser');
    await page.getByLabel('Description').fill('Carbon frame, tested in Chromium.');
    await page.getByLabel('Hashtags').fill(`#bikes #${UNIQUE_TAG}`);
    await page.getByLabel('Latitude').fill('52.52');
    await page.getByLabel('Longitude').fill('13.405');
    await page.getByLabel('Your name (optional)').fill('Grace');
    await page.getByLabel('Contact (optional)').fill('grace@example.org');
    await shot('05-form-filled');
    // Notifications are offered after PAY only.
    expect(await page.locator('#notify').isVisible()).toBe(false);

    // The first payment is declined in the wallet: the form is uploaded once, PAY stays usable.
    wallet.declineNextPayment();
    await page.getByRole('button', { name: 'PAY' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Payment cancelled in the wallet');
    expect(await page.locator('#upload-progress').evaluate((bar) => (bar as unknown as ProgressLike).value)).toBe(100);
    expect(await page.getByRole('button', { name: 'PAY' }).isEnabled()).toBe(true);
    await shot('06-payment-declined');

    await page.getByRole('button', { name: 'PAY' }).click();
    await expect.poll(() => wallet.calls.filter((call) => call.method === 'eth_sendTransaction').length).toBe(2);
    const [tx] = wallet.calls.filter((call) => call.method === 'eth_sendTransaction').at(-1)!.params as [{ to: string; value: string }];
    // The wallet pays the quote's own deposit address, never the merchant directly.
    expect(tx.to).not.toBe((stack.env.MERCHANT_ADDRESS ?? '').toLowerCase());
    expect(BigInt(tx.value)).toBe(BigInt(stack.env.PRICE_WEI ?? '0'));
    // Once paid, the client offers notifications, and has not asked the browser for permission by itself.
    await expect.poll(() => page.getByRole('button', { name: 'Notify me when it is done' }).isVisible()).toBe(true);
    expect(await page.evaluate(() => (globalThis as unknown as { Notification: { permission: string } }).Notification.permission)).toBe('default');

    // payment.confirmed turns PAY into "Publishing…", disabled while the listing is made, then "Open my listing".
    await expect.poll(() => page.locator('#pay').textContent(), { timeout: 60_000, interval: 500 }).toMatch(/^(Publishing…|Open my listing)$/);
    await shot('07-payment-confirmed');
    const save = page.getByRole('button', { name: 'Open my listing' });
    await expect.poll(() => save.isEnabled().catch(() => false), { timeout: 150_000, interval: 500 }).toBe(true);
    expect(await page.locator('#pipeline-progress').evaluate((bar) => (bar as unknown as ProgressLike).value)).toBe(100);
    // The listing's loop and poster appeared on the status page once stored (preview.ready), before the listing was saved.
    const early = page.locator('#early-preview video');
    await expect.poll(() => early.count(), { timeout: 15_000 }).toBe(1);
    expect(await early.getAttribute('src')).toContain('preview.webm');
    expect(await early.getAttribute('poster')).toContain('poster.webp');
    await shot('08-saved');

    await save.click();
    // The form still asks for the old #/listing address; the router moves it to the listing's path.
    await page.waitForURL(/\/listings\/[0-9a-f-]{36}$/);
    listingId = /\/listings\/([0-9a-f-]{36})$/.exec(page.url())?.[1] ?? '';
    expect(tx.to).toBe(tx0To(listingId));
    // Unmoderated listings are not public yet; the page tells their owner they wait for moderation.
    await expect.poll(() => page.locator('#own-state').textContent()).toContain('is waiting for moderation');
    await shot('09-listing-before-approval');
    expect(pageErrors).toEqual([]);
  });

  it('shows the listing on the browse page once an admin approves it, and plays it', async () => {
    expect(listingId).toMatch(/^[0-9a-f-]{36}$/);
    const approved = await fetch(`${stack.gatewayUrl}/v1/admin/listings/${listingId}/approve`, { method: 'POST', headers: { 'x-admin-token': ADMIN_TOKEN } });
    expect(approved.status, await approved.clone().text()).toBeLessThan(300);

    await page.goto(`${stack.gatewayUrl}/#/browse?tags=${UNIQUE_TAG}`);
    const card = page.locator(`.listing-card a[data-listing-id="${listingId}"]`);
    await card.waitFor({ timeout: 15_000 });
    expect(await page.locator('.listing-card').count()).toBe(1);
    const preview = card.locator('video');
    expect(await preview.evaluate((video) => (video as unknown as MediaLike).muted && (video as unknown as MediaLike).loop)).toBe(true);
    // The preview really loads from storage: the browser has decoded its metadata.
    await expect.poll(() => preview.evaluate((video) => (video as unknown as MediaLike).readyState), { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    await shot('10-browse');

    // A distance filter that excludes Berlin hides it.
    await page.getByLabel('Near (town or latitude,longitude)').fill('40.71,-74.0');
    await page.getByLabel('Within (km)').fill('50');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('[role=status]').textContent()).toBe('No listings match these filters yet.');
    await page.getByLabel('Near (town or latitude,longitude)').fill('52.5,13.4');
    await page.getByRole('button', { name: 'Search' }).click();
    await card.waitFor({ timeout: 15_000 });
    expect(await card.locator('.meta').textContent()).toMatch(/away/);
    await shot('11-browse-near');

    await card.click();
    const player = page.locator('#player');
    await player.waitFor();
    expect(await page.locator('article.listing h1').textContent()).toBe('Road bike in the browser');
    await expect.poll(() => player.evaluate((video) => (video as unknown as MediaLike).readyState), { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    expect(await player.evaluate((video) => Math.round((video as unknown as MediaLike).duration))).toBe(2);
    await shot('12-listing');

    // Its hashtag is now suggested while typing on the form.
    await page.getByRole('link', { name: 'Sell' }).click();
    await page.getByLabel('Hashtags').pressSequentially(`#${UNIQUE_TAG.slice(0, 9)}`);
    const suggestion = page.getByRole('button', { name: `#${UNIQUE_TAG}` });
    await suggestion.waitFor({ timeout: 10_000 });
    await suggestion.click();
    expect(await page.getByLabel('Hashtags').inputValue()).toBe(`#${UNIQUE_TAG} `);
    await shot('13-hashtag-autocomplete');
    expect(pageErrors).toEqual([]);
  });

  it('My listings: edit -> pending -> approve -> visible; mark sold; renew with a payment', async () => {
    expect(listingId).toMatch(/^[0-9a-f-]{36}$/);
    const admin = { 'x-admin-token': ADMIN_TOKEN, 'content-type': 'application/json' };
    await page.getByRole('link', { name: 'My listings' }).click();
    const card = page.locator(`li.mine-item[data-listing-id="${listingId}"]`);
    await card.waitFor({ timeout: 15_000 });
    expect(await card.getAttribute('data-state')).toBe('approved');
    const runsUntil = async () => /runs until (.+)$/.exec((await card.locator('.meta').textContent()) ?? '')?.[1];
    const before = await runsUntil();
    expect(before).toBeTruthy();
    await shot('14-my-listings');

    // Edit: the change waits for a moderator; the approved version stays public.
    await card.getByRole('button', { name: 'Edit' }).click();
    await card.getByLabel('New title').fill('Road bike, new tyres');
    await card.getByLabel('New price').fill('450');
    await card.getByLabel('Price currency').fill('EUR');
    await card.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(() => page.locator('#mine-status').textContent()).toContain('once a moderator approves them');
    await card.locator('.revision').waitFor({ timeout: 10_000 });
    await shot('15-edit-pending');
    const publicBefore = (await (await fetch(`${stack.gatewayUrl}/v1/listings/${listingId}`)).json()) as { title: string; price: unknown };
    expect(publicBefore).toMatchObject({ title: 'Road bike in the browser', price: null });

    const queue = (await (await fetch(`${stack.gatewayUrl}/v1/admin/revisions`, { headers: admin })).json()) as {
      items: { id: string; listingId: string; diff: { field: string }[] }[];
    };
    const revision = queue.items.find((item) => item.listingId === listingId);
    expect(revision?.diff.map((entry) => entry.field)).toEqual(['title', 'price']);
    const approved = await fetch(`${stack.gatewayUrl}/v1/admin/revisions/${revision?.id}/approve`, { method: 'POST', headers: admin });
    expect(approved.status).toBe(200);
    await page.goto(`${stack.gatewayUrl}/#/listing/${listingId}`);
    await expect.poll(() => page.locator('article.listing h1').textContent(), { timeout: 15_000 }).toBe('Road bike, new tyres');
    expect(await page.locator('#price').textContent()).toContain('450');
    expect(await page.locator('#contact').textContent()).toContain('grace@example.org');
    await shot('16-edit-approved');

    // Renew: a quote paid from the wallet to its own deposit address; the listing runs longer.
    await page.goto(`${stack.gatewayUrl}/#/mine`);
    await card.waitFor({ timeout: 15_000 });
    const paymentsBefore = wallet.calls.filter((call) => call.method === 'eth_sendTransaction').length;
    await card.getByRole('button', { name: 'Renew' }).click();
    await expect.poll(() => wallet.calls.filter((call) => call.method === 'eth_sendTransaction').length, { timeout: 15_000 }).toBe(paymentsBefore + 1);
    const [renewalTx] = wallet.calls.filter((call) => call.method === 'eth_sendTransaction').at(-1)!.params as [{ to: string; value: string }];
    expect(renewalTx.to).not.toBe((stack.env.MERCHANT_ADDRESS ?? '').toLowerCase());
    await expect.poll(() => page.locator('#mine-status').textContent(), { timeout: 90_000, interval: 500 }).toBe('Renewed.');
    // The list is drawn again with the new expiry (30 days later).
    await expect.poll(() => runsUntil(), { timeout: 10_000 }).not.toBe(before);
    const ledger = (await (await fetch(`${stack.gatewayUrl}/v1/admin/payments?limit=100`, { headers: admin })).json()) as {
      items: { listingId: string | null; to: string; status: string }[];
    };
    expect(
      ledger.items
        .filter((row) => row.listingId === listingId)
        .map((row) => row.to)
        .sort(),
    ).toEqual([renewalTx.to.toLowerCase(), tx0To(listingId)].sort());
    await shot('17-renewed');

    // Mark sold: shown as sold.
    await card.getByRole('button', { name: 'Mark sold' }).click();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 10_000 }).toBe('sold');
    await page.goto(`${stack.gatewayUrl}/#/listing/${listingId}`);
    await page.locator('#sold-badge').waitFor({ timeout: 15_000 });
    await shot('18-sold');
    expect(pageErrors).toEqual([]);
  });
});
