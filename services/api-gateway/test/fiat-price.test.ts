import { randomUUID } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import { createChainClient, parseFiatPrice } from '@reelboard/chain';
import { chainsEnv } from '@reelboard/config';
import { STAGED_FILES } from '@reelboard/contracts';
import { applyCredit } from '@reelboard/db';
import { type Anvil, startAnvil } from '@reelboard/testkit/anvil';
import { makeClip } from '@reelboard/testkit/media';
import { deployPaymentAssets, type TestPriceFeed } from '@reelboard/testkit/payment-assets';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { loadGatewayConfig } from '../src/config.js';
import { intakeLimits } from '../src/infra/intake.js';
import { type AcceptUploadDeps, acceptUpload } from '../src/use-cases/accept-upload.js';
import { priceQuoter } from '../src/use-cases/quote-price.js';
import { currentPricing, listUnpaidUploads } from '../src/use-cases/unpaid-uploads.js';
import { type Gateway, infra, startGateway } from './harness.js';

// Quotes priced in dollars on the second of two chains (31338), as a deployment on an L2 beside mainnet.
const BASE = Number(process.env.TEST_BASE_PORT ?? 19080);
const redis = connectRedis(infra.REDIS_URL ?? '', 'fiat-price-test');
const owner = ANVIL_ACCOUNTS.buyer.address.toLowerCase() as `0x${string}`;
const form = { title: 'Bike', description: '', hashtags: ['bikes'], latitude: 52.5, longitude: 13.4 };
let gw: Gateway;
let first: Anvil;
let second: Anvil;
let stablecoin: `0x${string}`;
let feed: TestPriceFeed;
/** The first chain's own stablecoin and feed, for quotes that offer both chains. */
let firstAssets: { stablecoin: `0x${string}`; feed: TestPriceFeed };

beforeAll(async () => {
  [first, second] = await Promise.all([startAnvil(BASE + 180, 31337), startAnvil(BASE + 181, 31338)]);
  ({ stablecoin, feed } = await deployPaymentAssets(second, owner));
  firstAssets = await deployPaymentAssets(first, owner);
  await firstAssets.feed.set(2_000n * 10n ** 8n);
  gw = await startGateway(redis);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await redis.quit();
  await Promise.all([first?.stop(), second?.stop()]);
});

/** The gateway's quoting on chain 31338 under these settings, through acceptUpload as the route calls it. */
function depsFor(settings: { PRICE: string; PAYMENT_TOKEN?: `0x${string}`; bothChains?: boolean; stablecoin?: boolean }): AcceptUploadDeps {
  const CHAINS = chainsEnv().parse(
    JSON.stringify([
      settings.bothChains
        ? {
            id: 31337,
            name: 'one',
            rpcUrls: [first.rpcUrl],
            tokens: [{ address: firstAssets.stablecoin, symbol: 'USDC', decimals: 6, currency: 'USD' }],
            priceFeed: { address: firstAssets.feed.address, currency: 'USD', maxAgeSeconds: 3600 },
          }
        : { id: 31337, name: 'one', rpcUrls: [first.rpcUrl] },
      {
        id: 31338,
        name: 'two',
        rpcUrls: [second.rpcUrl],
        // A stablecoin of another currency is listed (accepted where priced in it), never quoted for a USD price.
        tokens: [
          {
            address: stablecoin,
            symbol: settings.stablecoin === false ? 'EURC' : 'USDC',
            decimals: 6,
            currency: settings.stablecoin === false ? 'EUR' : 'USD',
          },
        ],
        priceFeed: { address: feed.address, currency: 'USD', maxAgeSeconds: 3600 },
        publicRpcUrls: ['https://rpc.two.example'],
      },
    ]),
  );
  const config = { ...gw.config, CHAIN_ID: 31338, CHAINS, PRICE: parseFiatPrice(settings.PRICE), PAYMENT_TOKEN: settings.PAYMENT_TOKEN };
  const clients = new Map([
    [31337, createChainClient({ rpcUrl: first.rpcUrl, chainId: 31337 })],
    [31338, createChainClient({ rpcUrl: second.rpcUrl, chainId: 31338 })],
  ]);
  return {
    db: gw.db,
    uploads: gw.uploads,
    bus: gw.bus,
    config,
    limits: intakeLimits(gw.config),
    quotePrice: priceQuoter(config, (chainId) => clients.get(chainId)!),
  };
}

async function staged() {
  const uploadId = randomUUID();
  const dir = join(gw.stagingDir, uploadId);
  await mkdir(dir, { recursive: true });
  const path = join(dir, STAGED_FILES.source);
  await makeClip(`${path}.mp4`, { width: 160, height: 120, seconds: 1 });
  await rename(`${path}.mp4`, path);
  return uploadId;
}

const quoteRow = (uploadId: string) => gw.db('payment_quotes').where({ quote_id: uploadId }).first();

describe('prices in a fiat currency', () => {
  it('a 6-decimal stablecoin of the currency is quoted 1:1 in its own decimals, the price kept with the quote', async () => {
    const uploadId = await staged();
    const accepted = await acceptUpload(depsFor({ PRICE: '5.00 USD', PAYMENT_TOKEN: stablecoin }), { uploadId, owner, form, videoBytes: 1000, logo: false });
    expect(accepted.payment).toMatchObject({ chainId: 31338, token: stablecoin, amount: '5000000', price: { amount: '5.00', currency: 'USD' } });
    expect(await quoteRow(uploadId)).toMatchObject({
      chain_id: 31338,
      token_address: stablecoin,
      amount: '5000000',
      price_amount: '5.00',
      price_currency: 'USD',
      rate_answer: null,
    });
  });

  it('the native coin is quoted at the feed, the rate locked with the quote: the feed moving later changes new quotes only', async () => {
    await feed.set(2_000n * 10n ** 8n); // 2,000.00000000 USD per ETH
    const deps = depsFor({ PRICE: '5.00 USD' });
    const firstId = await staged();
    const quoted = await acceptUpload(deps, { uploadId: firstId, owner, form, videoBytes: 1000, logo: false });
    // 5 / 2000 ETH = 0.0025 ETH.
    expect(quoted.payment).toMatchObject({ token: null, amount: '2500000000000000', price: { amount: '5.00', currency: 'USD' } });

    await feed.set(2_500n * 10n ** 8n);
    const secondId = await staged();
    expect((await acceptUpload(deps, { uploadId: secondId, owner, form, videoBytes: 1000, logo: false })).payment.amount).toBe('2000000000000000');
    const row = await quoteRow(firstId);
    expect(row).toMatchObject({ amount: '2500000000000000', rate_feed: feed.address, rate_answer: '200000000000', rate_decimals: 8 });
    expect((await gw.uploads.quoteOf(firstId))?.quote).toMatchObject({ amount: '2500000000000000', rate: { answer: '200000000000', decimals: 8 } });
  });

  it('a stale feed leaves the native coin out of the offers; with no other offer left it refuses the quote with 503 and the reason, recording nothing', async () => {
    await feed.set(2_000n * 10n ** 8n, new Date(Date.now() - 2 * 3600_000));
    const kept = await staged();
    const accepted = await acceptUpload(depsFor({ PRICE: '5.00 USD' }), { uploadId: kept, owner, form, videoBytes: 1000, logo: false });
    // The stablecoin is still offered (and leads the quote): only the coin whose rate is unknown is left out.
    expect(accepted.payment.offers?.map((o) => `${o.chainId}:${o.symbol}`)).toEqual(['31338:USDC']);
    expect(accepted.payment).toMatchObject({ chainId: 31338, token: stablecoin, amount: '5000000' });

    const uploadId = await staged();
    const refused = acceptUpload(depsFor({ PRICE: '5.00 USD', stablecoin: false }), { uploadId, owner, form, videoBytes: 1000, logo: false });
    await expect(refused).rejects.toMatchObject({ status: 503, code: 'price_unavailable' });
    await expect(refused).rejects.toThrow(
      /no quote in USD can be made now: ETH on two: price feed 0x[0-9a-f]{40}: its last answer is 7\d{3} s old, more than the 3600 s allowed/,
    );
    expect(await quoteRow(uploadId)).toBeUndefined();
    expect(await gw.uploads.state(uploadId)).toBeUndefined();
  });

  it('a feed answering nothing usable (zero) refuses the quote too', async () => {
    await feed.set(0n);
    const uploadId = await staged();
    await expect(acceptUpload(depsFor({ PRICE: '5.00 USD', stablecoin: false }), { uploadId, owner, form, videoBytes: 1000, logo: false })).rejects.toThrow(
      /its answer is 0, not a price/,
    );
  });

  it('offers every accepted (chain, asset): each stablecoin of the currency and each native coin at its own feed, on both chains, stored with the quote', async () => {
    await feed.set(2_500n * 10n ** 8n);
    await firstAssets.feed.set(2_000n * 10n ** 8n);
    const uploadId = await staged();
    const accepted = await acceptUpload(depsFor({ PRICE: '5.00 USD', PAYMENT_TOKEN: stablecoin, bothChains: true }), {
      uploadId,
      owner,
      form,
      videoBytes: 1000,
      logo: false,
    });
    const offers = accepted.payment.offers ?? [];
    // The home chain first, PAYMENT_TOKEN leading: the quote's own asset is today's.
    expect(offers.map((o) => [o.chainId, o.chainName, o.token, o.symbol, o.decimals, o.amount])).toEqual([
      [31338, 'two', stablecoin, 'USDC', 6, '5000000'],
      [31338, 'two', null, 'ETH', 18, '2000000000000000'],
      [31337, 'one', null, 'ETH', 18, '2500000000000000'],
      [31337, 'one', firstAssets.stablecoin, 'USDC', 6, '5000000'],
    ]);
    expect(offers[1]?.rate).toMatchObject({ feed: feed.address, answer: '250000000000', decimals: 8 });
    expect(offers[2]?.rate).toMatchObject({ feed: firstAssets.feed.address, answer: '200000000000', decimals: 8 });
    expect(accepted.payment).toMatchObject({ chainId: 31338, token: stablecoin, amount: '5000000' });
    // The watcher reads the offers from the quote it is handed; the ledger keeps them too.
    expect((await gw.uploads.quoteOf(uploadId))?.quote.offers).toEqual(offers);
    const rows = await gw.db('payment_quote_assets').where({ quote_id: uploadId }).orderBy('position');
    expect(rows.map((r) => [r.position, r.chain_id, r.token_address, r.amount, r.rate_answer])).toEqual([
      [0, 31338, stablecoin, '5000000', null],
      [1, 31338, null, '2000000000000000', '250000000000'],
      [2, 31337, null, '2500000000000000', '200000000000'],
      [3, 31337, firstAssets.stablecoin, '5000000', null],
    ]);

    // Part paid in the first chain's coin: the seller's list shows it against that offer alone (assets are never added).
    await applyCredit(gw.db, {
      kind: 'deposit',
      uploadId,
      owner,
      chainId: 31337,
      address: accepted.payment.to,
      token: null,
      quoteAmount: '2500000000000000',
      totalReceived: '1000000000000000',
      fromBlock: '1',
      toBlock: '1',
      blockTime: new Date().toISOString(),
      transfers: [],
      status: 'partial',
    });
    const listed = (await listUnpaidUploads({ uploads: gw.uploads, bus: gw.bus, db: gw.db, release: async () => {}, stagingDir: gw.stagingDir }, owner)).find(
      (u) => u.uploadId === uploadId,
    );
    expect(listed?.offers?.map((o) => [o.chainId, o.symbol, o.received, o.remaining])).toEqual([
      [31338, 'USDC', '0', '5000000'],
      [31338, 'ETH', '0', '2000000000000000'],
      [31337, 'ETH', '1000000000000000', '1500000000000000'],
      [31337, 'USDC', '0', '5000000'],
    ]);
  });
});

describe('GET /v1/pricing priced in a fiat currency', () => {
  it('shows the fiat price and every offer the next quote makes, the first as the top-level fee, with the public RPC a wallet adds a chain with', async () => {
    await feed.set(2_500n * 10n ** 8n);
    await firstAssets.feed.set(2_000n * 10n ** 8n);
    const deps = depsFor({ PRICE: '5.00 USD', PAYMENT_TOKEN: stablecoin, bothChains: true });
    const pricing = currentPricing({ ...gw.config, CHAINS: deps.config.CHAINS }, await deps.quotePrice!('upload'));
    expect(pricing).toMatchObject({
      chainId: 31338,
      token: stablecoin,
      amount: '5000000',
      symbol: 'USDC',
      decimals: 6,
      price: { amount: '5.00', currency: 'USD' },
    });
    expect(pricing.offers.map((o) => [o.chainId, o.symbol, o.amount, o.rpcUrls])).toEqual([
      [31338, 'USDC', '5000000', ['https://rpc.two.example']],
      [31338, 'ETH', '2000000000000000', ['https://rpc.two.example']],
      [31337, 'ETH', '2500000000000000', undefined],
      [31337, 'USDC', '5000000', undefined],
    ]);
  });
});

describe('PRICE in the configuration', () => {
  const base = {
    REDIS_URL: 'redis://127.0.0.1:6379',
    DATABASE_URL: 'postgres://x:y@127.0.0.1:5432/z',
    S3_BUCKET: 'bucket',
    CHAIN_ID: '31338',
    MERCHANT_ADDRESS: `0x${'12'.repeat(20)}`,
    DEPOSIT_SALT_KEY: 'a-deposit-salt-key-of-at-least-32-chars',
  };
  const chains = (extra: object) => JSON.stringify([{ id: 31338, name: 'two', rpcUrls: ['http://127.0.0.1:1'], ...extra }]);

  it('refuses a price it cannot quote, naming why', () => {
    expect(() => loadGatewayConfig({ ...base, CHAINS: chains({}), PRICE: '5 dollars' })).toThrow(/PRICE: "5 dollars" is not an amount and a currency code/);
    expect(() => loadGatewayConfig({ ...base, CHAINS: chains({}), PRICE: '5.00 USD' })).toThrow(
      /PRICE: is in USD and quoted in the native coin, but chain 31338 has no USD priceFeed/,
    );
    const token = `0x${'ab'.repeat(20)}`;
    expect(() =>
      loadGatewayConfig({ ...base, CHAINS: chains({ tokens: [{ address: token, symbol: 'XYZ', decimals: 18 }] }), PAYMENT_TOKEN: token, PRICE: '5.00 USD' }),
    ).toThrow(/PAYMENT_TOKEN 0xabab.* is not listed in CHAINS as a USD stablecoin/);
    expect(() =>
      loadGatewayConfig({ ...base, CHAINS: chains({ priceFeed: { address: token, currency: 'USD' } }), PRICE: '5.00 USD', RENEWAL_PRICE: '2 EUR' }),
    ).toThrow(/RENEWAL_PRICE: is in EUR, PRICE in USD/);
  });

  it('takes a price with a feed in its currency, or a stablecoin of it', () => {
    const config = loadGatewayConfig({ ...base, CHAINS: chains({ priceFeed: { address: `0x${'ab'.repeat(20)}`, currency: 'USD' } }), PRICE: '5.00 USD' });
    expect(config.PRICE).toEqual({ amount: '5.00', currency: 'USD' });
  });
});
