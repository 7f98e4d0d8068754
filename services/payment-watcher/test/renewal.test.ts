import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { createChainClient, type DepositSettings, depositAddressOf } from '@reelboard/chain';
import type { PaymentCredited, RenewalQuoted, StatusEvent } from '@reelboard/contracts';
import { connectDatabase, findListing, type Knex, migrateToLatest, moderateListing, recordQuote, removeListing, saveListing } from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { handlePaymentCredited } from '../../profile-writer/src/handle-payment-credited.js';
import type { DepositWatcher } from '../src/deposit-watcher.js';
import { handlePaymentSubmitted } from '../src/handle-payment-submitted.js';
import { handleUploadExpire } from '../src/handle-upload-expire.js';
import { handleUploadReceived } from '../src/handle-upload-received.js';
import { reconcilePayments } from '../src/reconcile.js';
import type { WatchList } from '../src/watch-list.js';
import { PRICE, recordingContext, runOnce, type testBus, type WatcherRig, watcherRig } from './support/harness.js';

const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 107;
const buyer = privateKeyToAccount(KEYS.buyer);
// A merchant of this file's own, so reconciliation judges only these quotes in the shared test database.
const deposits: DepositSettings = { merchant: privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex, token: null };
const DAY = 86_400_000;

let anvil: Anvil;
let db: Knex;
let env: ReturnType<typeof testBus>;
let uploads: Uploads;
let watchList: WatchList;
let watcher: DepositWatcher;
let events: StatusEvent[];
let rig: WatcherRig | undefined;
const listingIds: string[] = [];
const quoteIds: string[] = [];
const wallets: string[] = [];

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 3 });
  await migrateToLatest(db);
  rig = await watcherRig('pw-renewal', anvil.rpcUrl, deposits);
  ({ env, uploads, watchList, watcher, events } = rig);
});

afterAll(async () => {
  if (quoteIds.length) {
    await db('payments').whereIn('quote_id', quoteIds).delete();
    await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  }
  if (listingIds.length) await db('listings').whereIn('id', listingIds).delete();
  if (wallets.length) await db('users').whereIn('wallet_address', wallets).delete();
  await db?.destroy();
  await rig?.close();
  await anvil?.stop();
});

/** An approved listing of the buyer, its paid period ending in `days`. */
async function approvedListing(days = 3): Promise<string> {
  const input = listingInput({ wallet: buyer.address });
  await saveListing(db, input);
  await moderateListing(db, { listingId: input.listingId, actor: 'test', action: 'approve', listingDays: days });
  listingIds.push(input.listingId);
  wallets.push(buyer.address.toLowerCase());
  return input.listingId;
}

/** What the gateway's POST /v1/listings/:id/renew does: the quote in the ledger, the lifecycle, the watcher's job. */
async function quoteRenewal(listingId: string, ttlMs = 15 * 60_000): Promise<RenewalQuoted> {
  const uploadId = randomUUID();
  const now = Date.now();
  const renewal: RenewalQuoted = {
    uploadId,
    purpose: 'renewal',
    listingId,
    owner: buyer.address.toLowerCase() as Hex,
    quote: {
      chainId: 31337,
      to: depositAddressOf(deposits, uploadId),
      amount: PRICE.toString(),
      token: null,
      createdAt: new Date(now - 2_000).toISOString(),
      expiresAt: new Date(now + ttlMs).toISOString(),
    },
    days: 30,
    receivedAt: new Date(now).toISOString(),
  };
  await recordQuote(db, {
    quoteId: uploadId,
    uploadId,
    owner: renewal.owner,
    chainId: 31337,
    depositAddress: renewal.quote.to,
    token: null,
    amount: renewal.quote.amount,
    createdAt: renewal.quote.createdAt,
    expiresAt: renewal.quote.expiresAt,
    purpose: 'renewal',
    listingId,
    renewalDays: 30,
  });
  quoteIds.push(uploadId);
  await uploads.registerRenewal(renewal, 'test');
  await handleUploadReceived({ bus: env.bus, watchList, lateWatchMs: 3_600_000 }, renewal, recordingContext(env.bus, env.log).context);
  return renewal;
}

async function pay(to: Hex, value: bigint): Promise<Hex> {
  const hash = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to, value });
  await anvil.client.waitForTransactionReceipt({ hash });
  return hash;
}

async function confirmAndScan(blocks = 1): Promise<void> {
  await anvil.test.mine({ blocks });
  await watcher.scanOnce();
}

/** Runs the profile-writer's ledger step on every credit the watcher queued for the quote (as the queue would). */
async function writeLedger(uploadId: string): Promise<void> {
  const jobs = (await env.bus.queue('payment.credited').getJobs(['waiting', 'delayed'])) as { data: PaymentCredited; remove: () => Promise<void> }[];
  for (const job of jobs) {
    if (!('uploadId' in job.data) || job.data.uploadId !== uploadId) continue;
    await handlePaymentCredited({ db, uploads }, job.data, recordingContext(env.bus, env.log).context);
    await job.remove();
  }
}

const reconcile = (repair = false) =>
  reconcilePayments({
    db,
    chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 }),
    chainId: 31337,
    deposits,
    confirmations: 1,
    fromBlock: 0n,
    repair,
  });

const until = async (check: () => boolean, ms = 3_000) => {
  for (const start = Date.now(); !check(); ) {
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('renewals through the upload payment machinery', () => {
  it('paid to its own deposit address: the listing runs 30 days longer from its expiry, nothing is encoded, the ledger reconciles', async () => {
    const listingId = await approvedListing(3);
    const before = Date.parse((await findListing(db, listingId))?.expiresAt ?? '');
    const renewal = await quoteRenewal(listingId);
    expect(await uploads.state(renewal.uploadId)).toBe('awaiting_payment');
    await pay(renewal.quote.to, PRICE);
    await confirmAndScan(2);
    expect(await uploads.state(renewal.uploadId)).toBe('paid');
    await until(() => events.some((e) => e.uploadId === renewal.uploadId && e.event === 'payment.confirmed'));
    expect(events.find((e) => e.uploadId === renewal.uploadId && e.event === 'payment.confirmed')?.code).toBe('renewal');
    // No media work for a renewal.
    expect(await env.bus.queue('payment.confirmed').getJob(`${renewal.uploadId}.payment.confirmed`)).toBeUndefined();
    await writeLedger(renewal.uploadId);
    expect(Date.parse((await findListing(db, listingId))?.expiresAt ?? '') - before).toBe(30 * DAY);
    expect(await uploads.state(renewal.uploadId)).toBe('saved');
    await until(() => events.some((e) => e.uploadId === listingId && e.event === 'listing.renewed'));
    expect(await db('payments').where({ quote_id: renewal.uploadId }).select('status', 'listing_id', 'refund_due')).toEqual([
      { status: 'paid', listing_id: listingId, refund_due: '0' },
    ]);
    // The same credit again changes nothing.
    await handlePaymentCredited(
      { db, uploads },
      {
        kind: 'deposit',
        uploadId: renewal.uploadId,
        owner: renewal.owner,
        chainId: 31337,
        address: renewal.quote.to,
        token: null,
        quoteAmount: renewal.quote.amount,
        totalReceived: PRICE.toString(),
        fromBlock: '1',
        toBlock: '1',
        blockTime: new Date().toISOString(),
        transfers: [],
        status: 'paid',
      },
      recordingContext(env.bus, env.log).context,
    );
    expect(Date.parse((await findListing(db, listingId))?.expiresAt ?? '') - before).toBe(30 * DAY);
    expect((await reconcile()).differences).toEqual([]);
  });

  it('a renewal paid for a listing removed meanwhile is recorded for refund; the renewal fails with the reason', async () => {
    const listingId = await approvedListing();
    const renewal = await quoteRenewal(listingId);
    await removeListing(db, { listingId, actor: 'admin-token', reason: 'fraud' });
    await pay(renewal.quote.to, PRICE);
    await confirmAndScan(2);
    await writeLedger(renewal.uploadId);
    expect(await uploads.state(renewal.uploadId)).toBe('failed');
    expect(await db('payments').where({ quote_id: renewal.uploadId }).select('status', 'refund_due')).toEqual([
      { status: 'unfulfilled', refund_due: PRICE.toString() },
    ]);
    expect((await reconcile()).differences).toEqual([]);
  });

  it('reconciliation finds a renewal payment the ledger missed, and --repair renews the listing', async () => {
    const listingId = await approvedListing(3);
    const before = Date.parse((await findListing(db, listingId))?.expiresAt ?? '');
    const renewal = await quoteRenewal(listingId);
    await pay(renewal.quote.to, PRICE);
    const found = await reconcile();
    expect(found.differences).toEqual([expect.objectContaining({ kind: 'deposit_missing', quoteId: renewal.uploadId, chainTotal: PRICE, ledgerTotal: 0n })]);
    expect((await reconcile(true)).repaired).toBe(1);
    expect(Date.parse((await findListing(db, listingId))?.expiresAt ?? '') - before).toBe(30 * DAY);
    expect((await reconcile()).differences).toEqual([]);
    // The watcher later sees the same money: nothing more is recorded, the listing is not renewed twice.
    await confirmAndScan(2);
    await writeLedger(renewal.uploadId);
    expect(Date.parse((await findListing(db, listingId))?.expiresAt ?? '') - before).toBe(30 * DAY);
    expect(await uploads.state(renewal.uploadId)).toBe('saved');
  });

  it('a tx-hash hint settles a renewal at once; an unpaid renewal expires like an upload', async () => {
    const listingId = await approvedListing();
    const renewal = await quoteRenewal(listingId);
    const hash = await pay(renewal.quote.to, PRICE);
    await anvil.test.mine({ blocks: 2 });
    const hint = () =>
      handlePaymentSubmitted(
        { uploads, chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337 }), watcher, confirmations: 2, pollIntervalMs: 100 },
        { uploadId: renewal.uploadId, txHash: hash, round: 1 },
        recordingContext(env.bus, env.log).context,
      );
    expect(await runOnce(hint)).toBe('done');
    expect(await uploads.state(renewal.uploadId)).toBe('paid');

    const unpaid = await quoteRenewal(listingId, 1_000);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    await confirmAndScan(2);
    const expire = () =>
      handleUploadExpire(
        { bus: env.bus, uploads, watchList, chainId: 31337, stagingDir: '/nonexistent', pollIntervalMs: 100 },
        { uploadId: unpaid.uploadId },
        recordingContext(env.bus, env.log).context,
      );
    expect(await runOnce(expire)).toBe('done');
    expect(await uploads.state(unpaid.uploadId)).toBe('expired');
  });
});
