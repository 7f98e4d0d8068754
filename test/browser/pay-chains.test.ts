import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, chromium, type Page } from 'playwright-core';
import { decodeFunctionData, erc20Abi } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { assertAccessible, DESKTOP_VIEWPORT, PHONE_VIEWPORT } from '@reelboard/testkit/a11y';
import { type Anvil, startAnvil } from '@reelboard/testkit/anvil';
import { findChromium } from '@reelboard/testkit/chromium';
import { makeClip } from '@reelboard/testkit/media';
import { deployPaymentAssets } from '@reelboard/testkit/payment-assets';
import { type Stack, startStack } from '@reelboard/testkit/stack';
import { type InjectedWallet, injectWallet } from './wallet-bridge.js';

// A listing priced in dollars and paid in the test USDC on the second chain (31338), an offer that is not the
// quote's first (the home chain 31337 and its coin come first), from a wallet that knows only 31337: the page
// asks it to switch, adds the chain with the public RPC URL the pricing tells, and calls the token's transfer.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-sync'];
const ADMIN_TOKEN = 'browser-pay-chains-admin-token-0123456789';
const BASE = Number(process.env.TEST_BASE_PORT ?? 19080);
/** A dev account of the default mnemonic no other browser test pays with. */
const BUYER = mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: 8 });

let first: Anvil;
let second: Anvil;
let stablecoin: `0x${string}`;
let stack: Stack;
let browser: Browser;
let work: string;
const pageErrors: string[] = [];

const payments = (wallet: InjectedWallet) => wallet.calls.filter((call) => call.method === 'eth_sendTransaction');

async function openSignedIn(viewport: { width: number; height: number }, isMobile: boolean): Promise<{ page: Page; wallet: InjectedWallet }> {
  const context = await browser.newContext({ viewport, isMobile, hasTouch: isMobile, locale: 'en-US' });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // The wallet knows the first chain only, and is on it.
  const wallet = await injectWallet(page, BUYER, first.rpcUrl, 31337);
  await page.goto(`${stack.gatewayUrl}/sell`);
  await page.getByRole('button', { name: 'Connect wallet' }).click();
  await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
  await expect.poll(() => page.locator('#wallet-status').textContent(), { timeout: 15_000 }).toContain('Signed in as');
  return { page, wallet };
}

beforeAll(async () => {
  const executablePath = findChromium();
  work = await mkdtemp(join(tmpdir(), 'reelboard-pay-chains-'));
  [first, second] = await Promise.all([startAnvil(BASE + 190, 31337), startAnvil(BASE + 191, 31338)]);
  // Blocks keep coming on both chains, so a payment gets its confirmations and both watchers move.
  await Promise.all([first.test.setIntervalMining({ interval: 1 }), second.test.setIntervalMining({ interval: 1 })]);
  const [one, two] = await Promise.all([deployPaymentAssets(first, BUYER.address), deployPaymentAssets(second, BUYER.address)]);
  stablecoin = two.stablecoin;
  // 2,000 USD per ETH on both: $5.00 is 0.0025 ETH.
  await Promise.all([one.feed.set(2_000n * 10n ** 8n), two.feed.set(2_000n * 10n ** 8n)]);
  await makeClip(join(work, 'clip.mp4'), { width: 160, height: 120, seconds: 1 });
  const chain = (anvil: Anvil, name: string, feed: `0x${string}`) => ({
    id: anvil.chain.id,
    name,
    rpcUrls: [anvil.rpcUrl],
    publicRpcUrls: [anvil.rpcUrl],
    confirmations: 2,
    blockTimeMs: 500,
    priceFeed: { address: feed, currency: 'USD', maxAgeSeconds: 3600 },
  });
  const CHAINS = [
    chain(first, 'One', one.feed.address),
    { ...chain(second, 'Two', two.feed.address), tokens: [{ address: stablecoin, symbol: 'USDC', decimals: 6, currency: 'USD' }] },
  ];
  stack = await startStack({ ADMIN_TOKEN, PREVIEW_SECONDS: '1', CHAIN_ID: '31337', RPC_URL: first.rpcUrl, CHAINS: JSON.stringify(CHAINS), PRICE: '5.00 USD' });
  // The gateway bundles the web client on the first request for it: built here, not under a page's 30 s navigation timeout.
  const html = await (await fetch(`${stack.gatewayUrl}/sell`)).text();
  for (const [, asset] of html.matchAll(/(?:src|href)="(\/[^"]+\.(?:js|css))"/g)) await fetch(new URL(asset ?? '/', stack.gatewayUrl));
  browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.shutdown();
  await Promise.all([first?.stop(), second?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('paying on another chain from the web client', () => {
  it('shows the fee in dollars, offers each chain and asset, adds and switches to chain 31338 (a declined switch said next to PAY) and pays USDC there; the listing is saved', async () => {
    const { page, wallet } = await openSignedIn(DESKTOP_VIEWPORT, false);
    const picker = page.getByRole('group', { name: 'Pay with' });
    await picker.waitFor({ timeout: 15_000 });
    expect(await picker.locator('label').allTextContents()).toEqual(['0.0025 ETH on One', '0.0025 ETH on Two', '5 USDC on Two']);
    expect(await page.getByRole('radio', { name: '0.0025 ETH on One' }).isChecked()).toBe(true);
    await expect.poll(() => page.locator('#fee').textContent()).toContain('Fee: $5.00, paid as 0.0025 ETH on One');
    await page.getByRole('radio', { name: '5 USDC on Two' }).check();
    await expect.poll(() => page.locator('#fee').textContent()).toContain('Fee: $5.00, paid as 5 USDC on Two');
    await assertAccessible(page, 'sell with a fiat fee and a choice of chain and asset, desktop');

    await page.getByLabel('Video').setInputFiles(join(work, 'clip.mp4'));
    await page.getByLabel('Title').fill('Bike paid in USDC on Two');
    await page.getByLabel('Latitude').fill('52.52');
    await page.getByLabel('Longitude').fill('13.405');

    // The wallet does not know 31338 (4902): the page adds it with the chain's name, coin and public RPC URL, then asks to switch; the person declines.
    wallet.declineNextSwitch();
    await page.getByRole('button', { name: 'PAY' }).click();
    await expect
      .poll(() => page.locator('#pay-message').textContent(), { timeout: 60_000 })
      .toBe('The wallet did not switch to Two (chain 31338): the request was declined.');
    expect(wallet.calls.find((call) => call.method === 'wallet_addEthereumChain')?.params).toEqual([
      { chainId: '0x7a6a', chainName: 'Two', nativeCurrency: { name: 'ETH', symbol: 'ETH', decimals: 18 }, rpcUrls: [second.rpcUrl] },
    ]);
    const [button, message] = await Promise.all([page.locator('#pay').boundingBox(), page.locator('#pay-message').boundingBox()]);
    expect((message?.y ?? 0) - (button?.y ?? 0)).toBeLessThan(150);
    expect(await page.getByRole('button', { name: 'PAY' }).isEnabled()).toBe(true);
    expect(wallet.chainId()).toBe(31337);
    expect(payments(wallet)).toEqual([]);
    await assertAccessible(page, 'sell, chain switch declined, desktop');

    // Accepted: the wallet moves to 31338 and calls the token's transfer(deposit address, 5 USDC) there.
    const hints: { body: unknown; status: number }[] = [];
    page.on('response', (response) => {
      const request = response.request();
      if (request.method() === 'POST' && /^\/v1\/uploads\/[^/]+\/payment$/.test(new URL(request.url()).pathname))
        hints.push({ body: request.postDataJSON(), status: response.status() });
    });
    await page.getByRole('button', { name: 'PAY' }).click();
    await expect.poll(() => payments(wallet).length, { timeout: 15_000 }).toBe(1);
    expect(wallet.chainId()).toBe(31338);
    const [tx] = (payments(wallet)[0]?.params ?? []) as [{ to: string; data: `0x${string}`; value?: string; chainId: string }];
    expect(tx).toMatchObject({ to: stablecoin, chainId: '0x7a6a' });
    expect(tx.value).toBeUndefined();
    const transfer = decodeFunctionData({ abi: erc20Abi, data: tx.data });
    expect(transfer.functionName).toBe('transfer');
    expect(transfer.args[1]).toBe(5_000_000n);
    const depositAddress = String(transfer.args[0]).toLowerCase();
    // The hint names the chain of the offer paid, and the gateway takes it (202, or 200 once a pass found the payment first).
    await expect.poll(() => hints.length, { timeout: 15_000 }).toBe(1);
    expect(hints[0]).toEqual({ body: { txHash: expect.stringMatching(/^0x[0-9a-f]{64}$/), chainId: 31338 }, status: expect.any(Number) });
    expect([200, 202]).toContain(hints[0]?.status);

    await expect.poll(() => page.locator('#pay').textContent(), { timeout: 90_000, interval: 500 }).toBe('Open my listing');
    expect(await page.locator('#pay-notice').textContent()).toContain('Saved.');
    // The ledger holds the credit on chain 31338 in the token, to the quote's deposit address.
    const ledger = (await (await fetch(`${stack.gatewayUrl}/v1/admin/payments?limit=50`, { headers: { 'x-admin-token': ADMIN_TOKEN } })).json()) as {
      items: { chainId: number; token: string | null; to: string; amount: string; status: string }[];
    };
    expect(ledger.items.find((row) => row.to === depositAddress)).toMatchObject({ chainId: 31338, token: stablecoin, amount: '5000000', status: 'paid' });
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('on a 390 px phone: the radio group is moved with the keyboard, the fee following; no sideways scroll, no serious axe violation', async () => {
    const { page } = await openSignedIn(PHONE_VIEWPORT, true);
    const picker = page.getByRole('group', { name: 'Pay with' });
    await picker.waitFor({ timeout: 15_000 });
    expect(await picker.getByRole('radio').count()).toBe(3);
    // Arrow keys move the choice, as in any radio group; the fee line follows it.
    await page.getByRole('radio', { name: '0.0025 ETH on One' }).focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.getByRole('radio', { name: '0.0025 ETH on Two' }).isChecked()).toBe(true);
    await page.keyboard.press('ArrowDown');
    expect(await page.getByRole('radio', { name: '5 USDC on Two' }).isChecked()).toBe(true);
    await expect.poll(() => page.locator('#fee').textContent()).toContain('$5.00, paid as 5 USDC on Two');
    await assertAccessible(page, 'sell with a choice of chain and asset, phone');
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
