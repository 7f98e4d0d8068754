import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, chromium, type Page } from 'playwright-core';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { seriousA11yViolations, sidewaysOverflow } from '@reelboard/testkit/a11y';
import { findChromium } from '@reelboard/testkit/chromium';
import { makeClip } from '@reelboard/testkit/media';
import { type Stack, startStack } from '@reelboard/testkit/stack';
import { type InjectedWallet, injectWallet } from './wallet-bridge.js';

// The seller's flow in Chromium on a desktop and a 390 px phone, against the whole stack (real
// payments on anvil through the wallet bridge): the fee before PAY, messages next to PAY, focus
// after each step, cancelling an unpaid upload to free the wallet's one unpaid place, a partial
// payment then PAY asking for the rest only; axe-core finds no serious or critical violation, and
// the phone never scrolls sideways (packages/testkit/src/a11y.ts).
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-sync'];
const PRICE_WEI = 10_000_000_000_000_000n;
const ADMIN_TOKEN = 'seller-browser-test-admin-token-0123456789';
/** A wallet of its own, funded through anvil: no other test races for its nonces. */
const SELLER = privateKeyToAccount(generatePrivateKey());

let stack: Stack;
let browser: Browser;
let desktop: Page;
let phone: Page;
let wallet: InjectedWallet;
let phoneWallet: InjectedWallet;
let work: string;
const pageErrors: string[] = [];

const rpc = async (method: string, params: unknown[]) => {
  const res = await fetch(stack.env.RPC_URL ?? '', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return ((await res.json()) as { result: unknown }).result;
};

/** No serious or critical axe-core violation on the page as it is now (the testkit's check). */
async function expectAccessible(page: Page, label: string): Promise<void> {
  expect(await seriousA11yViolations(page), label).toEqual([]);
}

/** The page is no wider than the test's viewport (the testkit's check, which Chromium's phone zoom cannot fool). */
async function expectNoSidewaysScroll(page: Page, label: string): Promise<void> {
  expect(await sidewaysOverflow(page), label).toBe(0);
}

const focused = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id ?? '');
const payments = (of: InjectedWallet) => of.calls.filter((call) => call.method === 'eth_sendTransaction');

async function signInOn(page: Page): Promise<void> {
  await page.goto(`${stack.gatewayUrl}/#/sell`);
  await page.getByRole('button', { name: 'Connect wallet' }).click();
  await expect.poll(() => focused(page)).toBe('sign-in');
  await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
  await expect.poll(() => page.locator('#wallet-status').textContent()).toContain('Signed in as');
  await expect.poll(() => focused(page)).toBe('form-heading');
}

/** A fresh form (an upload in progress keeps the form's fields locked until the view is drawn again). */
async function fillForm(page: Page, title: string): Promise<void> {
  await page.goto(`${stack.gatewayUrl}/#/mine`);
  await page.goto(`${stack.gatewayUrl}/#/sell`);
  await page.getByLabel('Video').setInputFiles(join(work, 'clip.mp4'));
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Latitude').fill('52.52');
  await page.getByLabel('Longitude').fill('13.405');
}

beforeAll(async () => {
  const executablePath = findChromium();
  work = await mkdtemp(join(tmpdir(), 'reelboard-seller-'));
  await makeClip(join(work, 'clip.mp4'), { width: 160, height: 120, seconds: 1 });
  // One unpaid upload per wallet: the second is refused until the first is cancelled.
  stack = await startStack({ STAGING_MAX_UNPAID_UPLOADS_PER_WALLET: '1', PREVIEW_SECONDS: '1', ADMIN_TOKEN });
  await rpc('anvil_setBalance', [SELLER.address, `0x${(10n ** 20n).toString(16)}`]);
  browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
  desktop = await (await browser.newContext({ viewport: { width: 1100, height: 900 }, bypassCSP: true })).newPage();
  phone = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, bypassCSP: true })).newPage();
  for (const page of [desktop, phone]) page.on('pageerror', (error) => pageErrors.push(error.message));
  wallet = await injectWallet(desktop, SELLER, stack.env.RPC_URL ?? '', Number(stack.env.CHAIN_ID));
  phoneWallet = await injectWallet(phone, SELLER, stack.env.RPC_URL ?? '', Number(stack.env.CHAIN_ID));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.shutdown();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the seller's flow", () => {
  it('shows the fee before PAY, moves focus to each next step, and says a declined payment next to PAY', async () => {
    await signInOn(desktop);
    // The fee, in the coin's units, before anything is uploaded; PAY is described by it.
    await expect.poll(() => desktop.locator('#fee').textContent()).toContain('Fee: 0.01 ETH');
    expect(await desktop.locator('#pay').getAttribute('aria-describedby')).toContain('fee');
    // Empty progress bars stay hidden until an upload starts.
    expect(await desktop.locator('.progress').evaluateAll((bars) => bars.map((bar) => (bar as unknown as { offsetHeight: number }).offsetHeight))).toEqual([
      0, 0,
    ]);
    await expectAccessible(desktop, 'sell, signed in, desktop');

    await fillForm(desktop, 'Draft to cancel');
    wallet.declineNextPayment();
    await desktop.getByRole('button', { name: 'PAY' }).click();
    await expect.poll(() => desktop.locator('#pay-message').textContent(), { timeout: 30_000 }).toContain('Payment cancelled in the wallet');
    // Next to PAY, not at the top of the form: right below the button, and focus is back on it.
    const [button, message] = await Promise.all([desktop.locator('#pay').boundingBox(), desktop.locator('#pay-message').boundingBox()]);
    expect((message?.y ?? 0) - (button?.y ?? 0)).toBeLessThan(150);
    expect(await focused(desktop)).toBe('pay');
    expect(await desktop.locator('#upload-progress').isVisible()).toBe(true);
    await expectAccessible(desktop, 'sell, payment declined, desktop');
  });

  it('lists the unpaid upload; cancelling it frees the wallet’s one unpaid place at once', async () => {
    // A second upload is refused at the limit, with a way to the unpaid uploads.
    await fillForm(desktop, 'Bike, partly paid');
    await desktop.getByRole('button', { name: 'PAY' }).click();
    await expect.poll(() => desktop.locator('#pay-message').textContent(), { timeout: 30_000 }).toContain('unpaid uploads');
    await desktop.getByRole('link', { name: 'See your unpaid uploads to pay or cancel one.' }).click();

    const item = desktop.locator('li.unpaid-item');
    await item.waitFor({ timeout: 15_000 });
    expect(await item.count()).toBe(1);
    expect(await item.locator('h2').textContent()).toBe('Draft to cancel');
    expect(await item.locator('.meta').textContent()).toContain('Fee 0.01 ETH, not paid yet');
    expect(await item.getByRole('button', { name: 'Pay 0.01 ETH' }).isVisible()).toBe(true);
    await expectAccessible(desktop, 'unpaid uploads, desktop');
    desktop.once('dialog', (dialog) => void dialog.accept());
    await item.getByRole('button', { name: 'Cancel upload' }).click();
    await expect.poll(() => desktop.locator('#unpaid-status').textContent(), { timeout: 15_000 }).toContain('Cancelled “Draft to cancel”. Nothing was charged');
    await expect.poll(() => item.count()).toBe(0);
    await expect.poll(() => focused(desktop)).toBe('unpaid-status');
  });

  it('after a partial payment, PAY asks for the rest only, in ETH, and the rest pays the listing', async () => {
    await fillForm(desktop, 'Bike, partly paid');
    const before = payments(wallet).length;
    const part = (PRICE_WEI * 4n) / 10n;
    wallet.payPartOfNext(part);
    await desktop.getByRole('button', { name: 'PAY' }).click();
    await expect.poll(() => payments(wallet).length, { timeout: 60_000 }).toBe(before + 1);
    await expect
      .poll(() => rpc('anvil_mine', ['0x3', '0x1']).then(() => desktop.locator('#pay').textContent()), { timeout: 60_000, interval: 1000 })
      .toBe('Pay the remaining 0.006 ETH');
    expect(await desktop.locator('#pay-notice').textContent()).toMatch(/^Received 0\.004 ETH of 0\.01 ETH\. Pay the remaining 0\.006 ETH before .+\.$/);
    expect(await desktop.locator('#pay-notice').textContent()).not.toMatch(/\d{10,}|T\d\d:\d\d/);
    expect(await focused(desktop)).toBe('pay');
    await expectAccessible(desktop, 'sell, partial payment, desktop');

    await desktop.locator('#pay').click();
    await expect.poll(() => payments(wallet).length, { timeout: 30_000 }).toBe(before + 2);
    const [rest] = (payments(wallet).at(-1)?.params ?? []) as [{ value: string }];
    expect(BigInt(rest.value)).toBe(PRICE_WEI - part);
    await expect
      .poll(() => rpc('anvil_mine', ['0x3', '0x1']).then(() => desktop.locator('#pay').textContent()), { timeout: 60_000, interval: 1000 })
      .toMatch(/^(Publishing…|Open my listing)$/);
    expect(['pay-notice', 'pay']).toContain(await focused(desktop));
    expect(pageErrors).toEqual([]);
  });

  it('after a reload mid-upload, the form says that picking the same file resumes, and it does', async () => {
    await fillForm(desktop, 'Resumed after a reload');
    // The video's chunks never arrive: the upload is created (and remembered by the browser), then hangs.
    await desktop.route('**/v1/resumable-uploads/**', (route) => (route.request().method() === 'PATCH' ? undefined : route.fallback()));
    await desktop.getByRole('button', { name: 'PAY' }).click();
    // Created, and remembered by the browser (tus-js-client writes its URL to localStorage after the creation answer).
    const remembered = () =>
      desktop.evaluate(() => {
        const storage = (globalThis as unknown as { localStorage: { length: number; key(index: number): string | null } }).localStorage;
        return Array.from({ length: storage.length }, (_, index) => storage.key(index)).filter((key) => key?.startsWith('tus::')).length;
      });
    await expect.poll(remembered, { timeout: 30_000 }).toBe(1);
    // Reloaded while the chunk is held (unrouting first would let it through and finish the upload).
    await desktop.reload();
    await desktop.unroute('**/v1/resumable-uploads/**');
    await expect
      .poll(() => desktop.locator('#video-hint').textContent(), { timeout: 15_000 })
      .toContain('Interrupted: “clip.mp4”. Pick the same file again and the upload continues where it stopped.');
    expect(await desktop.getByLabel('Video').getAttribute('aria-describedby')).toContain('video-hint');
    await fillForm(desktop, 'Resumed after a reload');
    const resumed: string[] = [];
    desktop.on('request', (req) => void (req.url().includes('/v1/resumable-uploads') && resumed.push(req.method())));
    wallet.declineNextPayment();
    await desktop.getByRole('button', { name: 'PAY' }).click();
    await expect.poll(() => desktop.locator('#pay-message').textContent(), { timeout: 30_000 }).toContain('Payment cancelled in the wallet');
    // tus-js-client asked where the upload stood (HEAD) and sent the rest; it created no second upload.
    expect(resumed[0]).toBe('HEAD');
    expect(resumed).not.toContain('POST');
  });

  it("tells the owner on the listing's page that it waits for moderation, then why it was rejected", async () => {
    const token = await desktop.evaluate(
      () =>
        JSON.parse((globalThis as unknown as { sessionStorage: { getItem(key: string): string } }).sessionStorage.getItem('reelboard.session')).token as string,
    );
    // The partly paid listing, once converted and saved.
    const saved = async () => {
      const res = await fetch(`${stack.gatewayUrl}/v1/me/listings`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { items: { id: string; title: string; state: string }[] }).items.find((item) => item.title === 'Bike, partly paid');
    };
    await expect.poll(saved, { timeout: 150_000, interval: 1000 }).toMatchObject({ state: 'pending' });
    const id = (await saved())?.id ?? '';
    await desktop.goto(`${stack.gatewayUrl}/#/listing/${id}`);
    await expect.poll(() => desktop.locator('#own-state').textContent(), { timeout: 15_000 }).toContain('“Bike, partly paid” is waiting for moderation');
    await expectAccessible(desktop, 'own listing, pending');

    const rejected = await fetch(`${stack.gatewayUrl}/v1/admin/listings/${id}/reject`, {
      method: 'POST',
      headers: { 'x-admin-token': ADMIN_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'the video shows no bike' }),
    });
    expect(rejected.status, await rejected.clone().text()).toBe(200);
    await desktop.reload();
    await expect
      .poll(() => desktop.locator('#own-state').textContent(), { timeout: 15_000 })
      .toContain('A moderator did not approve “Bike, partly paid”: the video shows no bike. Edit it from My listings');
    await expectAccessible(desktop, 'own listing, rejected');
  }, 200_000);

  it('on a 390 px phone: no sideways scroll and no serious axe violation, signed in, on the form, unpaid uploads and my listings', async () => {
    await signInOn(phone);
    await expect.poll(() => phone.locator('#fee').textContent()).toContain('0.01 ETH');
    await expectNoSidewaysScroll(phone, 'sell, signed in');
    expect(await phone.locator('.progress').evaluateAll((bars) => bars.map((bar) => (bar as unknown as { offsetHeight: number }).offsetHeight))).toEqual([
      0, 0,
    ]);
    await expectAccessible(phone, 'sell, phone');
    for (const route of ['#/unpaid', '#/mine']) {
      await phone.goto(`${stack.gatewayUrl}/${route}`);
      await phone.locator('h1').waitFor();
      await phone.waitForLoadState('networkidle');
      await expectNoSidewaysScroll(phone, route);
      await expectAccessible(phone, `${route}, phone`);
    }
    // The skip link, first in the page (before the header's links), moves focus to the content.
    await phone.focus('.brand');
    await phone.keyboard.press('Shift+Tab');
    expect(await phone.evaluate(() => (globalThis as unknown as { document: { activeElement: { className: string } } }).document.activeElement.className)).toBe(
      'skip-link',
    );
    await phone.keyboard.press('Enter');
    expect(await focused(phone)).toBe('view');
    expect(payments(phoneWallet)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
