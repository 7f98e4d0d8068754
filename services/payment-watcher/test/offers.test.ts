import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Address, erc20Abi, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { createChainClient, depositAddressOf, nativeAmount, readPriceFeed, stablecoinAmount } from '@reelboard/chain';
import type { PaymentCredited, QuoteOffer, StatusEvent, UploadReceived } from '@reelboard/contracts';
import { applyCredit, connectDatabase, type Knex, migrateToLatest, quoteAssetsToWatch, quotesToWatch, recordQuote } from '@reelboard/db';
import { Uploads } from '@reelboard/lifecycle';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deployPaymentAssets, type TestPriceFeed } from '@reelboard/testkit/payment-assets';
import { DepositWatcher } from '../src/deposit-watcher.js';
import { handlePaymentSubmitted, type PaymentSubmittedDeps } from '../src/handle-payment-submitted.js';
import { handleUploadExpire } from '../src/handle-upload-expire.js';
import { handleUploadReceived } from '../src/handle-upload-received.js';
import { reconcilePayments } from '../src/reconcile.js';
import { ScanLock } from '../src/scan-lock.js';
import { creditKeyOf, WatchList } from '../src/watch-list.js';
import { makeUpload, recordingContext, runOnce, testBus } from './support/harness.js';

// A quote that offers several (chain, asset)s, on two anvil chains at once, each with a 6-decimal
// stablecoin and a price feed: the watcher credits a payment against the offer it is in, and money in
// an asset not offered is recorded, due back. The ledger is the real Postgres one.
const BASE = Number(process.env.TEST_BASE_PORT ?? 19080);
const USD5 = { amount: '5.00', currency: 'USD' };
const buyer = privateKeyToAccount(KEYS.buyer);
// A merchant of this file alone: reconciliation judges only its quotes in the shared ledger.
const merchant = privateKeyToAddress(generatePrivateKey()).toLowerCase() as Address;
const anvils = new Map<number, Anvil>();
const assets = new Map<number, { usdc: Address; feed: TestPriceFeed }>();
/** A second stablecoin the second chain lists (in euros): never offered for a dollar price. */
let eurc: Address;
let env: ReturnType<typeof testBus>;
let uploads: Uploads;
let db: Knex;
const watchLists = new Map<number, WatchList>();
const watchers = new Map<number, DepositWatcher>();
const events: StatusEvent[] = [];
const quoteIds: string[] = [];

beforeAll(async () => {
  const [one, two] = await Promise.all([startAnvil(BASE + 192, 31337), startAnvil(BASE + 193, 31338)]);
  anvils.set(31337, one!).set(31338, two!);
  for (const [chainId, anvil] of anvils) {
    const { stablecoin, feed } = await deployPaymentAssets(anvil, buyer.address);
    await feed.set(2_000n * 10n ** 8n);
    assets.set(chainId, { usdc: stablecoin, feed });
  }
  eurc = (await deployPaymentAssets(two!, buyer.address)).stablecoin;
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
  env = testBus('offers');
  uploads = new Uploads(env.redis, env.prefix, env.bus.status);
  await env.bus.status.subscribe((event) => events.push(event));
  // One watcher per chain, as the service runs them: its own watch list (the home chain's keys unscoped), lease and cursor.
  for (const [chainId, anvil] of anvils) {
    const home = chainId === 31337;
    const watchList = new WatchList(env.redis, env.prefix, home ? undefined : chainId);
    watchLists.set(chainId, watchList);
    const watcher = new DepositWatcher({
      bus: env.bus,
      uploads,
      watchList,
      chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId, batchSize: 200 }),
      lock: new ScanLock(env.redis, `${env.prefix}:payment:${home ? '' : `chain:${chainId}:`}scan-lock`, 5_000),
      log: env.log,
      chainId,
      deposits: { merchant, token: home ? null : assets.get(chainId)!.usdc },
      // PAYMENT_TOLERANCE_BPS=50: up to 0.5 % short still pays.
      toleranceBps: 50,
      confirmations: 2,
      startBehind: 0,
      maxBlocksPerPass: 200,
    });
    watchers.set(chainId, watcher);
    await watcher.scanOnce();
  }
}, 60_000);

afterAll(async () => {
  if (quoteIds.length && db) {
    await db('payments').whereIn('quote_id', quoteIds).delete();
    await db('payment_quote_assets').whereIn('quote_id', quoteIds).delete();
    await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  }
  await db?.destroy();
  await env?.bus.close(1_000);
  await env?.redis.quit();
  await Promise.all([...anvils.values()].map((anvil) => anvil.stop()));
});

const offer = (chainId: number, token: Address | null, amount: bigint, rate?: QuoteOffer['rate']): QuoteOffer => ({
  chainId,
  chainName: chainId === 31337 ? 'one' : 'two',
  token,
  symbol: token === null ? 'ETH' : 'USDC',
  decimals: token === null ? 18 : 6,
  amount: amount.toString(),
  ...(rate ? { rate } : {}),
});

/** The assets each chain lists, as CHAINS names them: EURC on the second chain too. */
const assetsOf = (chainId: number) => (chainId === 31338 ? [null, assets.get(31338)!.usdc, eurc] : [null, assets.get(31337)!.usdc]);

/** A quote as the gateway makes it (its first offer its own asset), recorded in the ledger and handed to the watcher. */
async function quote(offers: QuoteOffer[], expiresAt?: string): Promise<UploadReceived> {
  const [first] = offers as [QuoteOffer];
  const base = makeUpload(buyer.address, { chainId: first.chainId, token: first.token, amount: first.amount, offers, ...(expiresAt ? { expiresAt } : {}) });
  const upload = { ...base, quote: { ...base.quote, to: depositAddressOf({ merchant, token: null }, base.uploadId), merchant } };
  const q = upload.quote;
  await recordQuote(db, {
    quoteId: upload.uploadId,
    uploadId: upload.uploadId,
    owner: upload.owner,
    chainId: q.chainId,
    depositAddress: q.to,
    token: q.token,
    amount: q.amount,
    createdAt: q.createdAt,
    expiresAt: q.expiresAt,
    offers,
  });
  quoteIds.push(upload.uploadId);
  await uploads.register(upload, 'test');
  await handleUploadReceived(
    {
      bus: env.bus,
      watchList: watchLists.get(31337)!,
      lateWatchMs: 3_600_000,
      watchListFor: (chainId) => watchLists.get(chainId),
      assetsOf,
    },
    upload,
    recordingContext(env.bus, env.log).context,
  );
  return upload;
}

/** Sends `value` of `token` (null: the native coin) on `chainId` from the buyer; resolves once it is mined. */
async function send(chainId: number, token: Address | null, to: Hex, value: bigint): Promise<Hex> {
  const anvil = anvils.get(chainId)!;
  const wallet = anvil.wallet(KEYS.buyer);
  const hash =
    token === null
      ? await wallet.sendTransaction({ account: buyer, chain: anvil.chain, to, value })
      : await wallet.writeContract({ address: token, abi: erc20Abi, functionName: 'transfer', args: [to, value], account: buyer, chain: anvil.chain });
  expect((await anvil.client.waitForTransactionReceipt({ hash })).status).toBe('success');
  return hash;
}

/** Sends `value` of `token` (null: the native coin) on `chainId`, confirms it, runs every chain's pass and writes what they credited to the ledger. */
async function pay(chainId: number, token: Address | null, to: Hex, value: bigint): Promise<void> {
  const anvil = anvils.get(chainId)!;
  await send(chainId, token, to, value);
  await anvil.test.mine({ blocks: 2 });
  for (const watcher of watchers.values()) await watcher.scanOnce();
  // The profile-writer's part: every credit the passes published, applied in order (idempotent, as the queue retries them).
  const jobs = (await env.bus.queue('payment.credited').getJobs(['waiting', 'delayed', 'completed'])) as { data: PaymentCredited; timestamp: number }[];
  for (const job of jobs.sort((a, b) => a.timestamp - b.timestamp)) await applyCredit(db, job.data);
}

const rows = (uploadId: string) =>
  db('payments')
    .where({ quote_id: uploadId })
    .orderBy('id')
    .select('chain_id', 'token_address', 'amount', 'status', 'refund_due')
    .then((list) => list.map((r) => [r.chain_id, r.token_address, r.amount, r.status, r.refund_due]));

const confirmedPayment = async (uploadId: string) => (await env.bus.queue('payment.confirmed').getJob(`${uploadId}.payment.confirmed`))?.data.payment;

describe('a quote that offers several (chain, asset)s, on two anvil chains', () => {
  it('is paid in the 6-decimal USDC of the second chain; money then sent in its other offer (ETH on the first chain) is due back in full', async () => {
    const rate = await readPriceFeed(createChainClient({ rpcUrl: anvils.get(31337)!.rpcUrl, chainId: 31337 }), {
      feed: assets.get(31337)!.feed.address,
      maxAgeSeconds: 3600,
    });
    const eth = nativeAmount(USD5, rate, 18);
    const usdc = assets.get(31338)!.usdc;
    const upload = await quote([offer(31337, null, eth, rate), offer(31338, usdc, stablecoinAmount(USD5, 6))]);

    await pay(31338, usdc, upload.quote.to, 5_000_000n);
    expect(await uploads.state(upload.uploadId)).toBe('paid');
    expect(await confirmedPayment(upload.uploadId)).toMatchObject({ chainId: 31338, token: usdc, amount: '5000000', status: 'paid' });
    expect(await db('payment_quotes').where({ quote_id: upload.uploadId }).first()).toMatchObject({
      state: 'paid',
      paid_chain_id: 31338,
      paid_token: usdc,
      credited_total: '0',
    });
    expect(await db('payment_quote_assets').where({ quote_id: upload.uploadId, chain_id: 31338, token_address: usdc }).first()).toMatchObject({
      credited_total: '5000000',
    });

    // The whole other offer arrives too: it pays nothing more, all of it is due back, in its own asset.
    await pay(31337, null, upload.quote.to, eth);
    expect(await rows(upload.uploadId)).toEqual([
      [31338, usdc, '5000000', 'paid', '0'],
      [31337, null, eth.toString(), 'overpaid', eth.toString()],
    ]);
    expect(events.find((e) => e.uploadId === upload.uploadId && e.event === 'payment.received')).toMatchObject({ code: 'overpaid' });
  });

  it('is paid in the native coin of the second chain at the rate its offer locked, after the feed moved', async () => {
    const { feed } = assets.get(31338)!;
    await feed.set(2_000n * 10n ** 8n);
    const rate = await readPriceFeed(createChainClient({ rpcUrl: anvils.get(31338)!.rpcUrl, chainId: 31338 }), { feed: feed.address, maxAgeSeconds: 3600 });
    const locked = nativeAmount(USD5, rate, 18);
    const upload = await quote([offer(31337, assets.get(31337)!.usdc, 5_000_000n), offer(31338, null, locked, rate)]);
    // The coin gains 25 %: a new quote would ask 20 % fewer wei, this one holds its rate.
    await feed.set(2_500n * 10n ** 8n);
    await pay(31338, null, upload.quote.to, locked);
    expect(await uploads.state(upload.uploadId)).toBe('paid');
    expect(await confirmedPayment(upload.uploadId)).toMatchObject({ chainId: 31338, token: null, amount: locked.toString(), status: 'paid' });
    expect(await rows(upload.uploadId)).toEqual([[31338, null, locked.toString(), 'paid', '0']]);
    expect(await db('payment_quote_assets').where({ quote_id: upload.uploadId, chain_id: 31338 }).whereNull('token_address').first()).toMatchObject({
      rate_answer: '200000000000',
      credited_total: locked.toString(),
    });
  });

  it('is paid by its second-chain USDC offer 0.3 % short (inside the 0.5 % tolerance), the shortfall recorded', async () => {
    const usdc = assets.get(31338)!.usdc;
    const upload = await quote([offer(31337, null, 10n ** 15n), offer(31338, usdc, 5_000_000n)]);
    await pay(31338, usdc, upload.quote.to, 4_985_000n);
    expect(await uploads.state(upload.uploadId)).toBe('paid');
    expect(await rows(upload.uploadId)).toEqual([[31338, usdc, '4985000', 'paid', '0']]);
    expect(await db('payment_quotes').where({ quote_id: upload.uploadId }).first()).toMatchObject({ state: 'paid', shortfall: '15000' });
  });

  it('records money in an asset the quote did not offer, on a chain it offered, due back; the quote still waits; reconciliation matches chain and ledger', async () => {
    const usdc = assets.get(31338)!.usdc;
    const upload = await quote([offer(31338, usdc, 5_000_000n)]);
    // EURC is listed on the second chain, but a dollar price offers only USDC there.
    await pay(31338, eurc, upload.quote.to, 5_000_000n);
    expect(await uploads.state(upload.uploadId)).toBe('awaiting_payment');
    expect(await rows(upload.uploadId)).toEqual([[31338, eurc, '5000000', 'unmatched', '5000000']]);
    expect(events.find((e) => e.uploadId === upload.uploadId && e.event === 'payment.received')).toMatchObject({ code: 'not_offered' });
    // Its own total, never added to the USDC one.
    expect(await db('payment_quote_assets').where({ quote_id: upload.uploadId, token_address: eurc }).first()).toMatchObject({
      position: null,
      amount: null,
      credited_total: '5000000',
    });

    // The offered asset then pays it.
    await pay(31338, usdc, upload.quote.to, 5_000_000n);
    expect(await uploads.state(upload.uploadId)).toBe('paid');

    const reconciled = await reconcilePayments({
      db,
      chain: createChainClient({ rpcUrl: anvils.get(31338)!.rpcUrl, chainId: 31338, batchSize: 200 }),
      chainId: 31338,
      deposits: { merchant, token: usdc },
      confirmations: 1,
      fromBlock: 0n,
      repair: false,
    });
    expect(reconciled.differences).toEqual([]);
    // Every quote of this file on the second chain, and the EURC one beside its quote's USDC.
    expect(reconciled.quotesChecked).toBeGreaterThanOrEqual(5);
  });

  it('a Redis that lost the watch set gets every offer and asset back from the ledger, with its own credited total', async () => {
    const usdc = assets.get(31338)!.usdc;
    const upload = await quote([offer(31337, null, 10n ** 15n), offer(31338, usdc, 5_000_000n)]);
    await pay(31338, usdc, upload.quote.to, 1_000_000n);
    // A fresh Redis (another prefix): the second chain's watcher rebuilds its watch set from Postgres alone.
    const fresh = testBus('offers-restore');
    try {
      const watchList = new WatchList(fresh.redis, fresh.prefix, 31338);
      const watcher = new DepositWatcher({
        bus: fresh.bus,
        uploads: new Uploads(fresh.redis, fresh.prefix, fresh.bus.status),
        watchList,
        chain: createChainClient({ rpcUrl: anvils.get(31338)!.rpcUrl, chainId: 31338 }),
        lock: new ScanLock(fresh.redis, `${fresh.prefix}:payment:chain:31338:scan-lock`, 5_000),
        log: fresh.log,
        chainId: 31338,
        deposits: { merchant, token: usdc },
        confirmations: 2,
        startBehind: 0,
        maxBlocksPerPass: 200,
        ledger: {
          quotesToWatch: (expiredAfter) => quotesToWatch(db, { chainId: 31338, expiredAfter }),
          quoteAssetsToWatch: (expiredAfter) => quoteAssetsToWatch(db, { chainId: 31338, expiredAfter }),
          chainAssets: [null, usdc, eurc],
          lateWatchMs: 3_600_000,
        },
      });
      await watcher.restoreWatchSet();
      const entries = (await watchList.watched()).filter((q) => q.uploadId === upload.uploadId);
      expect(entries.map((q) => [q.token, q.amount, q.offered ?? true]).sort()).toEqual(
        [
          [usdc, '5000000', true],
          [null, '0', false],
          [eurc, '0', false],
        ].sort(),
      );
      expect(await watchList.credited(entries.map(creditKeyOf))).toEqual(entries.map((q) => (q.token === usdc ? 1_000_000n : 0n)));
    } finally {
      await fresh.bus.close(1_000);
      await fresh.redis.quit();
    }
  });
});

describe('a client’s hint naming the chain of the offer it paid', () => {
  const client = (chainId: number) => createChainClient({ rpcUrl: anvils.get(chainId)!.rpcUrl, chainId, batchSize: 200 });
  // As the service wires it: the home chain's watcher, and the other chain's for a hint that names it.
  const hintDeps = (): PaymentSubmittedDeps => ({
    uploads,
    chainId: 31337,
    chain: client(31337),
    watcher: watchers.get(31337)!,
    confirmations: 2,
    pollIntervalMs: 100,
    otherChain: async (chainId) =>
      chainId === 31338 ? { chain: client(31338), watcher: watchers.get(31338)!, confirmations: 2, pollIntervalMs: 100 } : undefined,
    assetsOf,
  });

  it('settles a USDC payment on the second chain from its hint, with the same confirmations, before any block pass', async () => {
    const usdc = assets.get(31338)!.usdc;
    const upload = await quote([offer(31337, null, 10n ** 15n), offer(31338, usdc, 5_000_000n)]);
    const txHash = await send(31338, usdc, upload.quote.to, 5_000_000n);
    const recorder = recordingContext(env.bus, env.log);
    const hint = { uploadId: upload.uploadId, txHash, round: 1, chainId: 31338 };
    // Mined on 31338 but one block deep: it waits for its second confirmation there.
    expect(await runOnce(() => handlePaymentSubmitted(hintDeps(), hint, recorder.context))).toBe('retry');
    expect(recorder.statuses.at(-1)).toMatchObject({ event: 'progress', message: expect.stringContaining('1 of 2 confirmations') });
    await anvils.get(31338)!.test.mine({ blocks: 1 });
    expect(await runOnce(() => handlePaymentSubmitted(hintDeps(), hint, recorder.context))).toBe('done');
    expect(await uploads.state(upload.uploadId)).toBe('paid');
    expect(await confirmedPayment(upload.uploadId)).toMatchObject({ chainId: 31338, token: usdc, amount: '5000000', status: 'paid', txHashes: [txHash] });
    const credit = (await env.bus.queue('payment.credited').getJobs(['waiting', 'delayed', 'completed'])).find(
      (job) => job.data.uploadId === upload.uploadId && job.data.kind === 'deposit',
    );
    expect(credit?.data).toMatchObject({
      chainId: 31338,
      token: usdc,
      status: 'paid',
      transfers: [{ txHash, from: buyer.address.toLowerCase(), amount: '5000000' }],
    });
  });

  it('a hint naming no chain (an older client) is looked for on the quote’s own chain, as before: a second-chain payment waits for the passes', async () => {
    const usdc = assets.get(31338)!.usdc;
    const upload = await quote([offer(31337, null, 10n ** 15n), offer(31338, usdc, 5_000_000n)]);
    const txHash = await send(31338, usdc, upload.quote.to, 5_000_000n);
    await anvils.get(31338)!.test.mine({ blocks: 1 });
    const recorder = recordingContext(env.bus, env.log);
    expect(await runOnce(() => handlePaymentSubmitted(hintDeps(), { uploadId: upload.uploadId, txHash, round: 1 }, recorder.context))).toBe('retry');
    expect(await uploads.state(upload.uploadId)).toBe('awaiting_payment');
    // The second chain's pass finds it anyway.
    await anvils.get(31338)!.test.mine({ blocks: 1 });
    await watchers.get(31338)!.scanOnce();
    expect(await uploads.state(upload.uploadId)).toBe('paid');
  });

  it('a hinted payment in an asset the quote did not offer (EURC on the second chain) is recorded due back; a chain it does not offer is refused', async () => {
    const usdc = assets.get(31338)!.usdc;
    const upload = await quote([offer(31338, usdc, 5_000_000n)]);
    const txHash = await send(31338, eurc, upload.quote.to, 2_000_000n);
    await anvils.get(31338)!.test.mine({ blocks: 1 });
    const recorder = recordingContext(env.bus, env.log);
    expect(await runOnce(() => handlePaymentSubmitted(hintDeps(), { uploadId: upload.uploadId, txHash, round: 1, chainId: 31338 }, recorder.context))).toBe(
      'done',
    );
    expect(await uploads.state(upload.uploadId)).toBe('awaiting_payment');
    await expect.poll(() => events.find((e) => e.uploadId === upload.uploadId && e.event === 'payment.received')).toMatchObject({ code: 'not_offered' });
    const credit = (await env.bus.queue('payment.credited').getJobs(['waiting', 'delayed', 'completed'])).find((job) => job.data.uploadId === upload.uploadId);
    expect(credit?.data).toMatchObject({ chainId: 31338, token: eurc, status: 'unmatched', totalReceived: '2000000' });

    // The quote offers nothing on 31337: a hint naming it is decided at once, never looked for.
    const other = recordingContext(env.bus, env.log);
    expect(await runOnce(() => handlePaymentSubmitted(hintDeps(), { uploadId: upload.uploadId, txHash, round: 1, chainId: 31337 }, other.context))).toBe(
      'done',
    );
    expect(other.statuses).toEqual([
      expect.objectContaining({ event: 'payment.rejected', code: 'no_payment', reason: expect.stringContaining('does not offer') }),
    ]);
  });
});

describe('the expiry of a quote whose money came only in another (chain, asset) than its own', () => {
  /** A deadline a few seconds ahead of both chains' clocks (anvil's run ahead of the wall clock as blocks are mined). */
  const soon = async () => {
    const times = await Promise.all([...anvils.values()].map(async (anvil) => Number((await anvil.client.getBlock()).timestamp)));
    return new Date((Math.max(...times) + 5) * 1000).toISOString();
  };
  /** Both chains' passes read past the deadline: their clocks moved on, a block mined and read. */
  const passDeadline = async () => {
    for (const [chainId, anvil] of anvils) {
      await anvil.test.increaseTime({ seconds: 30 });
      await anvil.test.mine({ blocks: 2 });
      await watchers.get(chainId)!.scanOnce();
    }
  };
  const expire = (upload: UploadReceived) =>
    runOnce(() =>
      handleUploadExpire(
        {
          bus: env.bus,
          uploads,
          watchList: watchLists.get(31337)!,
          watchListFor: (chainId) => watchLists.get(chainId),
          watchLists: [...watchLists.values()],
          chainId: 31337,
          stagingDir: join(tmpdir(), 'offers-expiry-staging'),
          pollIntervalMs: 100,
          assetsOf,
        },
        { uploadId: upload.uploadId },
        recordingContext(env.bus, env.log).context,
      ),
    );

  it('part paid in its other offer (USDC on the second chain) ends refund_due, not expired', async () => {
    const usdc = assets.get(31338)!.usdc;
    const upload = await quote([offer(31337, null, 10n ** 15n), offer(31338, usdc, 5_000_000n)], await soon());
    await pay(31338, usdc, upload.quote.to, 1_000_000n);
    expect(await rows(upload.uploadId)).toEqual([[31338, usdc, '1000000', 'partial', '0']]);
    await passDeadline();
    expect(await expire(upload)).toBe('done');
    expect(await uploads.state(upload.uploadId)).toBe('refund_due');
  });

  it('money only in an asset it did not offer (EURC on the second chain) ends refund_due too', async () => {
    const usdc = assets.get(31338)!.usdc;
    const upload = await quote([offer(31337, null, 10n ** 15n), offer(31338, usdc, 5_000_000n)], await soon());
    await pay(31338, eurc, upload.quote.to, 2_000_000n);
    await passDeadline();
    expect(await expire(upload)).toBe('done');
    expect(await uploads.state(upload.uploadId)).toBe('refund_due');
  });
});
