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
import { infraEnv } from '@reelboard/testkit/infra-env';
import { makeClip } from '@reelboard/testkit/media';
import { deployPaymentAssets } from '@reelboard/testkit/payment-assets';
import { type Stack, startStack } from '@reelboard/testkit/stack';
import { type InjectedWallet, injectWallet } from './wallet-bridge.js';

// A listing priced in dollars and paid in the test USDC on the second chain (31338), from a wallet that
// starts on the first (31337) and must be moved there: the page asks the wallet to switch.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-sync'];
const ADMIN_TOKEN = 'browser-pay-chains-admin-token-0123456789';
const BASE = Number(process.env.TEST_BASE_PORT ?? 19080);
/** A dev account of the default mnemonic no other browser test pays with. */
const BUYER = mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: 8 });
const FIRST = { id: 31337, rpcUrl: infraEnv().RPC_URL ?? '' };

let second: Anvil;
let stablecoin: `0x${string}`;
/** What the gateway calls chain 31338 (CHAINS' name once the offers are quoted from CHAINS) and whether it tells the fiat price. */
let told: { chainName: string; price: { amount: string; currency: string } | null };
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
  const wallet = await injectWallet(page, BUYER, FIRST.rpcUrl, FIRST.id);
  await page.goto(`${stack.gatewayUrl}/sell`);
  await page.getByRole('button', { name: 'Connect wallet' }).click();
  await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
  await expect.poll(() => page.locator('#wallet-status').textContent(), { timeout: 15_000 }).toContain('Signed in as');
  return { page, wallet };
}

beforeAll(async () => {
  const executablePath = findChromium();
  work = await mkdtemp(join(tmpdir(), 'reelboard-pay-chains-'));
  second = await startAnvil(BASE + 190, 31338);
  // Blocks keep coming on the second chain, so a payment gets its confirmations.
  await second.test.setIntervalMining({ interval: 1 });
  const assets = await deployPaymentAssets(second, BUYER.address);
  stablecoin = assets.stablecoin;
  await assets.feed.set(2_000n * 10n ** 8n);
  await makeClip(join(work, 'clip.mp4'), { width: 160, height: 120, seconds: 1 });
  const CHAINS = [
    { id: FIRST.id, name: 'One', rpcUrls: [FIRST.rpcUrl] },
    {
      id: 31338,
      name: 'Two',
      rpcUrls: [second.rpcUrl],
      confirmations: 2,
      blockTimeMs: 500,
      tokens: [{ address: stablecoin, symbol: 'USDC', decimals: 6, currency: 'USD' }],
      priceFeed: { address: assets.feed.address, currency: 'USD', maxAgeSeconds: 3600 },
    },
  ];
  stack = await startStack({
    ADMIN_TOKEN,
    PREVIEW_SECONDS: '1',
    CHAIN_ID: '31338',
    RPC_URL: second.rpcUrl,
    CHAINS: JSON.stringify(CHAINS),
    PRICE: '5.00 USD',
    PAYMENT_TOKEN: stablecoin,
    PRICE_TOKEN_UNITS: '5000000',
    PAYMENT_ASSET_SYMBOL: 'USDC',
    PAYMENT_ASSET_DECIMALS: '6',
  });
  // The gateway bundles the web client on the first request for it: built here, not under a page's 30 s navigation timeout.
  const html = await (await fetch(`${stack.gatewayUrl}/sell`)).text();
  for (const [, asset] of html.matchAll(/(?:src|href)="(\/[^"]+\.(?:js|css))"/g)) await fetch(new URL(asset ?? '/', stack.gatewayUrl));
  const pricing = (await (await fetch(`${stack.gatewayUrl}/v1/pricing`)).json()) as {
    price: typeof told.price;
    offers: { chainId: number; chainName: string }[];
  };
  told = { chainName: pricing.offers.find((offer) => offer.chainId === 31338)?.chainName ?? '', price: pricing.price };
  browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.shutdown();
  await second?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('paying on another chain from the web client', () => {
  it('shows the fee in dollars, moves the wallet to chain 31338 (saying so when it cannot) and pays USDC there; the listing is saved', async () => {
    const { page, wallet } = await openSignedIn(DESKTOP_VIEWPORT, false);
    // In dollars when the gateway tells the fiat price; the coin's amount in its own units (6 decimals) either way.
    await expect.poll(() => page.locator('#fee').textContent()).toContain(told.price ? `Fee: $5.00, paid as 5 USDC on ${told.chainName}` : 'Fee: 5 USDC');
    await assertAccessible(page, 'sell with a fiat fee, desktop');

    await page.getByLabel('Video').setInputFiles(join(work, 'clip.mp4'));
    await page.getByLabel('Title').fill('Bike paid in USDC on Two');
    await page.getByLabel('Latitude').fill('52.52');
    await page.getByLabel('Longitude').fill('13.405');

    // The wallet does not know chain 31338 (4902) and the gateway names no public RPC URL to add it with: the page says what to do.
    await page.getByRole('button', { name: 'PAY' }).click();
    await expect
      .poll(() => page.locator('#pay-message').textContent(), { timeout: 60_000 })
      .toBe(`Your wallet does not know ${told.chainName} (chain 31338). Add that network in your wallet, then press PAY again.`);
    expect(await page.getByRole('button', { name: 'PAY' }).isEnabled()).toBe(true);
    expect(wallet.calls.filter((call) => call.method === 'wallet_switchEthereumChain').map((call) => call.params)).toEqual([[{ chainId: '0x7a6a' }]]);
    expect(payments(wallet)).toEqual([]);

    // The person adds the network in the wallet, then declines the switch: said next to PAY, PAY stays usable, nothing sent.
    wallet.addChain(31338, second.rpcUrl);
    wallet.declineNextSwitch();
    await page.getByRole('button', { name: 'PAY' }).click();
    await expect
      .poll(() => page.locator('#pay-message').textContent(), { timeout: 15_000 })
      .toBe(`The wallet did not switch to ${told.chainName} (chain 31338): the request was declined.`);
    const [button, message] = await Promise.all([page.locator('#pay').boundingBox(), page.locator('#pay-message').boundingBox()]);
    expect((message?.y ?? 0) - (button?.y ?? 0)).toBeLessThan(150);
    expect(await page.getByRole('button', { name: 'PAY' }).isEnabled()).toBe(true);
    expect(wallet.chainId()).toBe(FIRST.id);
    expect(payments(wallet)).toEqual([]);
    await assertAccessible(page, 'sell, chain switch declined, desktop');

    // Accepted: the wallet moves to 31338 and calls the token's transfer(deposit address, 5 USDC) there.
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

    await expect.poll(() => page.locator('#pay').textContent(), { timeout: 90_000, interval: 500 }).toBe('Open my listing');
    expect(await page.locator('#pay-notice').textContent()).toContain('Saved.');
    // The ledger holds the credit on chain 31338 in the token, to the quote's deposit address.
    const ledger = (await (await fetch(`${stack.gatewayUrl}/v1/admin/payments?limit=50`, { headers: { 'x-admin-token': ADMIN_TOKEN } })).json()) as {
      items: { chainId: number; token: string | null; to: string; amount: string; status: string }[];
    };
    expect(ledger.items.find((row) => row.to === depositAddress)).toMatchObject({ chainId: 31338, token: stablecoin, amount: '5000000', status: 'paid' });
    expect(pageErrors).toEqual([]);
  }, 180_000);

  it('on a 390 px phone: a radio group of chain and asset, chosen with the keyboard, the fee following; no sideways scroll, no serious axe violation', async () => {
    const { page } = await openSignedIn(PHONE_VIEWPORT, true);
    // The gateway's pricing with two more offers (a native coin on each chain), as a deployment accepting several assets answers it.
    await page.route('**/v1/pricing', async (route) => {
      const real = (await (await route.fetch()).json()) as { offers: object[]; price: object | null };
      const native = (chainId: number, chainName: string) => ({ chainId, chainName, token: null, symbol: 'ETH', decimals: 18, amount: '2500000000000000' });
      await route.fulfill({
        json: {
          ...real,
          price: real.price ?? { amount: '5.00', currency: 'USD' },
          offers: [...real.offers, native(31338, told.chainName), native(FIRST.id, 'One, the long-named test network')],
        },
      });
    });
    await page.reload();
    const picker = page.getByRole('group', { name: 'Pay with' });
    await picker.waitFor({ timeout: 15_000 });
    expect(await picker.getByRole('radio').count()).toBe(3);
    expect(await page.getByRole('radio', { name: `5 USDC on ${told.chainName}` }).isChecked()).toBe(true);
    await expect.poll(() => page.locator('#fee').textContent()).toContain(`$5.00, paid as 5 USDC on ${told.chainName}`);

    // Arrow keys move the choice, as in any radio group; the fee line follows it.
    await page.getByRole('radio', { name: `5 USDC on ${told.chainName}` }).focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.getByRole('radio', { name: `0.0025 ETH on ${told.chainName}` }).isChecked()).toBe(true);
    await expect.poll(() => page.locator('#fee').textContent()).toContain(`$5.00, paid as 0.0025 ETH on ${told.chainName}`);
    await assertAccessible(page, 'sell with a choice of chain and asset, phone');
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
