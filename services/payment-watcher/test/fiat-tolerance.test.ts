import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Address, erc20Abi, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createChainClient, depositAddressOf, nativeAmount, readPriceFeed, stablecoinAmount } from '@reelboard/chain';
import type { PaymentCredited, UploadReceived } from '@reelboard/contracts';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { deployPaymentAssets, type TestPriceFeed } from '@reelboard/testkit/payment-assets';
import { handleUploadReceived } from '../src/handle-upload-received.js';
import { makeUpload, recordingContext, type WatcherRig, watcherRig } from './support/harness.js';

const PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 185;
const buyer = privateKeyToAccount(KEYS.buyer);
const USD5 = { amount: '5.00', currency: 'USD' };
let anvil: Anvil;
let stablecoin: Address;
let feed: TestPriceFeed;
let rig: WatcherRig;

beforeAll(async () => {
  anvil = await startAnvil(PORT);
  ({ stablecoin, feed } = await deployPaymentAssets(anvil, buyer.address));
  // PAYMENT_TOLERANCE_BPS=50: up to 0.5 % short still pays.
  rig = await watcherRig('fiat-tolerance', anvil.rpcUrl, { merchant: MERCHANT, token: null }, { toleranceBps: 50 });
});

afterAll(async () => {
  await rig?.close();
  await anvil?.stop();
});

/** A quote as the gateway makes it (this amount, in this asset), watched. */
async function receive(token: Address | null, amount: bigint): Promise<UploadReceived> {
  const base = makeUpload(buyer.address, { token, amount: amount.toString() });
  const upload = { ...base, quote: { ...base.quote, to: depositAddressOf({ merchant: MERCHANT, token }, base.uploadId) } };
  await rig.uploads.register(upload, 'test');
  await handleUploadReceived({ bus: rig.bus, watchList: rig.watchList, lateWatchMs: 3_600_000 }, upload, recordingContext(rig.bus, rig.env.log).context);
  return upload;
}

async function send(token: Address | null, to: Hex, value: bigint) {
  const wallet = anvil.wallet(KEYS.buyer);
  const hash =
    token === null
      ? await wallet.sendTransaction({ account: buyer, chain: anvil.chain, to, value })
      : await wallet.writeContract({ address: token, abi: erc20Abi, functionName: 'transfer', args: [to, value], account: buyer, chain: anvil.chain });
  expect((await anvil.client.waitForTransactionReceipt({ hash })).status).toBe('success');
  await anvil.test.mine({ blocks: 2 });
  await rig.watcher.scanOnce();
}

const credited = async (uploadId: string) =>
  ((await rig.bus.queue('payment.credited').getJobs(['waiting', 'delayed', 'completed'])) as { data: PaymentCredited }[])
    .map((job) => job.data)
    .filter((c) => c.kind === 'deposit' && c.uploadId === uploadId)
    .map((c) => (c as Extract<PaymentCredited, { kind: 'deposit' }>).status);

describe('fiat prices and the payment tolerance, on anvil', () => {
  it('a native quote paid at its locked rate after the feed moved is paid', async () => {
    await feed.set(2_000n * 10n ** 8n);
    const rate = await readPriceFeed(createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337 }), { feed: feed.address, maxAgeSeconds: 3600 });
    const locked = nativeAmount(USD5, rate, 18);
    const upload = await receive(null, locked);
    // The coin gains 25 %: today the price would be 20 % fewer wei, but the quote holds its rate.
    await feed.set(2_500n * 10n ** 8n);
    await send(null, upload.quote.to, locked);
    expect(await rig.uploads.state(upload.uploadId)).toBe('paid');
    expect(await credited(upload.uploadId)).toEqual(['paid']);
  });

  it('a 6-decimal stablecoin quote 0.3 % short is paid (inside the 0.5 % tolerance); 0.6 % short is partial', async () => {
    const price = stablecoinAmount(USD5, 6); // 5,000,000
    const inside = await receive(stablecoin, price);
    await send(stablecoin, inside.quote.to, (price * 997n) / 1000n);
    expect(await rig.uploads.state(inside.uploadId)).toBe('paid');
    expect(await credited(inside.uploadId)).toEqual(['paid']);

    const outside = await receive(stablecoin, price);
    await send(stablecoin, outside.quote.to, (price * 994n) / 1000n);
    expect(await rig.uploads.state(outside.uploadId)).toBe('awaiting_payment');
    expect(await credited(outside.uploadId)).toEqual(['partial']);
    // The rest arriving covers it.
    await send(stablecoin, outside.quote.to, price - (price * 994n) / 1000n);
    expect(await rig.uploads.state(outside.uploadId)).toBe('paid');
  });
});
