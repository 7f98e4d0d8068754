import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicClient, type Hex, http, type PublicClient } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { RetryLaterError } from '@reelboard/bus';
import { createChainClient, type DepositSettings, depositAddressOf } from '@reelboard/chain';
import type { PaymentCredited, UploadReceived } from '@reelboard/contracts';
import { connectDatabase, type Knex, migrateToLatest, quotesToWatch, recordQuote } from '@reelboard/db';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deletePrefix } from '@reelboard/testkit/uploads';
import { handlePaymentCredited } from '../../profile-writer/src/handle-payment-credited.js';
import { handleUploadFailed } from '../../profile-writer/src/handle-upload-failed.js';
import { DepositWatcher, type DepositWatcherDeps } from '../src/deposit-watcher.js';
import { handlePaymentSubmitted, hintPollDelay } from '../src/handle-payment-submitted.js';
import { handleUploadExpire } from '../src/handle-upload-expire.js';
import { handleUploadReceived } from '../src/handle-upload-received.js';
import { judgeCredit } from '../src/judge-credit.js';
import { scanLag } from '../src/metrics.js';
import { type RepairSettle, reconcilePayments } from '../src/reconcile.js';
import { ScanLock } from '../src/scan-lock.js';
import { makeUpload, PRICE, recordingContext, runOnce, type WatcherRig, watcherRig } from './support/harness.js';

const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 130;
const buyer = privateKeyToAccount(KEYS.buyer);
// A merchant of this file's own: its deposit addresses, quotes and reconciliation are this file's alone in the shared test database.
const deposits: DepositSettings = { merchant: privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex, token: null };

let anvil: Anvil;
let db: Knex;
let rig: WatcherRig;
let watcher: DepositWatcher;
let staging: string;
let firstBlock: bigint;
const quoteIds = new Set<string>();

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 3 });
  await migrateToLatest(db);
  staging = await mkdtemp(join(tmpdir(), 'pw-ledger-truth-'));
  firstBlock = await anvil.client.getBlockNumber();
  rig = await watcherRig('pw-ledger-truth', anvil.rpcUrl, deposits);
  // The rig's watcher, with the ledger it rebuilds its watch set from (this file's quotes only: other
  // files' quotes share the test database and chain id).
  watcher = new DepositWatcher({
    ...(rig.watcher as unknown as { deps: DepositWatcherDeps }).deps,
    ledger: {
      quotesToWatch: async (expiredAfter) => (await quotesToWatch(db, { chainId: 31337, expiredAfter })).filter((q) => quoteIds.has(q.quoteId)),
      lateWatchMs: 3_600_000,
    },
  });
});

afterAll(async () => {
  if (quoteIds.size) {
    await db('payments')
      .whereIn('quote_id', [...quoteIds])
      .delete();
    await db('payment_quotes')
      .whereIn('quote_id', [...quoteIds])
      .delete();
  }
  await db?.destroy();
  await rig?.close();
  await anvil?.stop();
  if (staging) await rm(staging, { recursive: true, force: true });
});

/** A deadline `ms` after both the wall clock and the chain's clock (anvil's may run ahead). */
async function deadlineIn(ms: number): Promise<string> {
  const chainNow = Number((await anvil.client.getBlock()).timestamp) * 1000;
  return new Date(Math.max(Date.now(), chainNow) + ms).toISOString();
}

/** What the gateway does for a new upload: the quote in the ledger, the lifecycle, the watcher's job. */
async function receive(expiresAt: string): Promise<UploadReceived> {
  const base = makeUpload(buyer.address, { expiresAt });
  const upload = { ...base, quote: { ...base.quote, to: depositAddressOf(deposits, base.uploadId) } };
  await recordQuote(db, {
    quoteId: upload.uploadId,
    uploadId: upload.uploadId,
    owner: upload.owner,
    chainId: 31337,
    depositAddress: upload.quote.to,
    token: null,
    amount: upload.quote.amount,
    createdAt: upload.quote.createdAt,
    expiresAt: upload.quote.expiresAt,
  });
  quoteIds.add(upload.uploadId);
  await rig.uploads.register(upload, 'test');
  await handleUploadReceived({ bus: rig.bus, watchList: rig.watchList, lateWatchMs: 3_600_000 }, upload, recordingContext(rig.bus, rig.env.log).context);
  return upload;
}

async function pay(to: Hex, value: bigint): Promise<Hex> {
  const hash = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to, value });
  expect((await anvil.client.waitForTransactionReceipt({ hash })).status).toBe('success');
  return hash;
}

async function confirmAndScan(blocks = 1): Promise<void> {
  await anvil.test.mine({ blocks });
  await watcher.scanOnce();
}

/** Waits until the wall clock is past the deadline and mines `blocks` blocks stamped after it. */
async function mineAfter(deadline: string, blocks: number): Promise<void> {
  const wait = Date.parse(deadline) + 1_100 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  await anvil.test.mine({ blocks });
}

type DepositCredit = Extract<PaymentCredited, { kind: 'deposit' }>;
const credits = async (uploadId: string): Promise<DepositCredit[]> =>
  ((await rig.bus.queue('payment.credited').getJobs(['waiting', 'delayed', 'completed'])) as { data: PaymentCredited }[])
    .map((job) => job.data)
    .filter((c): c is DepositCredit => c.kind === 'deposit' && c.uploadId === uploadId)
    .sort((a, b) => (BigInt(a.totalReceived) < BigInt(b.totalReceived) ? -1 : 1));

/** The profile-writer's ledger step on every credit queued for these uploads (as its queue would run them), in order. */
async function writeLedger(uploadIds: string[]): Promise<void> {
  const jobs = (
    (await rig.bus.queue('payment.credited').getJobs(['waiting', 'delayed'])) as { data: PaymentCredited; timestamp: number; remove: () => Promise<void> }[]
  ).sort((a, b) => a.timestamp - b.timestamp);
  for (const job of jobs) {
    if (!('uploadId' in job.data) || !uploadIds.includes(job.data.uploadId)) continue;
    await handlePaymentCredited({ db, uploads: rig.uploads }, job.data, recordingContext(rig.bus, rig.env.log).context);
    await job.remove();
  }
}

const ledgerRows = (quoteId: string) =>
  db('payments')
    .where({ quote_id: quoteId })
    .orderBy('id')
    .select('credit_status', 'status', db.raw('amount::text AS amount'), db.raw('refund_due::text AS refund_due')) as Promise<
    { credit_status: string; status: string; amount: string; refund_due: string }[]
  >;

const expire = (uploadId: string) =>
  runOnce(() =>
    handleUploadExpire(
      { bus: rig.bus, uploads: rig.uploads, watchList: rig.watchList, chainId: 31337, stagingDir: staging, pollIntervalMs: 100 },
      { uploadId },
      recordingContext(rig.bus, rig.env.log).context,
    ),
  );

const deps = () => ({ uploads: rig.uploads, chain: anvil.client, watcher, confirmations: 2, pollIntervalMs: 100 });

const lagSeconds = async () => (await scanLag.get()).values[0]?.value;

describe('Postgres is the truth for money, Redis a cache', () => {
  it('an upload Redis does not know is never open: what reaches its address is due back', () => {
    const quote = { amount: PRICE.toString(), expiresAt: new Date(Date.now() + 60_000).toISOString() };
    expect(judgeCredit({ quote, state: undefined, payment: undefined, total: PRICE, blockTime: Date.now() })).toEqual({ status: 'late', settles: false });
    expect(judgeCredit({ quote, state: 'awaiting_payment', payment: undefined, total: PRICE, blockTime: Date.now() })).toEqual({
      status: 'paid',
      settles: true,
    });
  });

  it('Redis flushed with quotes open and money arriving: the watch set and credited marks come back from the ledger, every credit is booked due back, the quotes close', async () => {
    const deadline = await deadlineIn(6_000);
    const partlyPaid = await receive(deadline);
    const untouched = await receive(deadline);
    await pay(partlyPaid.quote.to, PRICE / 4n);
    await confirmAndScan();
    await writeLedger([partlyPaid.uploadId]);
    expect(await ledgerRows(partlyPaid.uploadId)).toEqual([{ credit_status: 'partial', status: 'partial', amount: (PRICE / 4n).toString(), refund_due: '0' }]);

    // Redis loses everything of this deployment: uploads, watch set, credited marks, cursor, queued jobs.
    await deletePrefix(rig.env.redis, rig.env.prefix);
    await pay(partlyPaid.quote.to, PRICE / 4n);
    await pay(untouched.quote.to, PRICE);
    await confirmAndScan();

    expect(await rig.watchList.watchSetRestored()).toBe(true);
    // Judged from the ledger's credited mark (not from zero), and due back: no upload is left to pay.
    expect((await credits(untouched.uploadId)).map((c) => [c.status, c.totalReceived])).toEqual([['late', PRICE.toString()]]);
    expect((await credits(partlyPaid.uploadId)).map((c) => [c.status, c.totalReceived])).toEqual([['late', (PRICE / 2n).toString()]]);
    expect(await rig.uploads.state(untouched.uploadId)).toBeUndefined();
    // Their expiries, lost with Redis, are scheduled again from the ledger.
    expect(await rig.bus.queue('upload.expire').getJob(`${partlyPaid.uploadId}.upload.expire`)).toBeDefined();

    await mineAfter(deadline, 2);
    await watcher.scanOnce();
    expect(await expire(partlyPaid.uploadId)).toBe('done');
    expect(await expire(untouched.uploadId)).toBe('done');
    await writeLedger([partlyPaid.uploadId, untouched.uploadId]);

    expect(await ledgerRows(partlyPaid.uploadId)).toEqual([
      { credit_status: 'partial', status: 'partial', amount: (PRICE / 4n).toString(), refund_due: (PRICE / 4n).toString() },
      { credit_status: 'late', status: 'late', amount: (PRICE / 4n).toString(), refund_due: (PRICE / 4n).toString() },
    ]);
    expect(await ledgerRows(untouched.uploadId)).toEqual([{ credit_status: 'late', status: 'late', amount: PRICE.toString(), refund_due: PRICE.toString() }]);
    const states = await db('payment_quotes').whereIn('quote_id', [partlyPaid.uploadId, untouched.uploadId]).pluck('state');
    expect(states).toEqual(['expired', 'expired']);
    const reconciled = await reconcilePayments({
      db,
      chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 }),
      chainId: 31337,
      deposits,
      confirmations: 2,
      fromBlock: firstBlock,
      repair: false,
    });
    expect(reconciled.differences).toEqual([]);
  });

  it('a restart rebuilds the watch set from the ledger even when Redis kept a marker: a quote whose upload.received was lost is watched', async () => {
    await watcher.scanOnce();
    const upload = makeUpload(buyer.address, { expiresAt: await deadlineIn(60_000) });
    const to = depositAddressOf(deposits, upload.uploadId);
    await recordQuote(db, {
      quoteId: upload.uploadId,
      uploadId: upload.uploadId,
      owner: upload.owner,
      chainId: 31337,
      depositAddress: to,
      token: null,
      amount: upload.quote.amount,
      createdAt: upload.quote.createdAt,
      expiresAt: upload.quote.expiresAt,
    });
    quoteIds.add(upload.uploadId);
    await rig.uploads.register({ ...upload, quote: { ...upload.quote, to } }, 'test');
    await watcher.scanOnce();
    expect(await rig.watchList.quote(upload.uploadId)).toBeUndefined();
    await rig.watchList.markWatchSetStale();
    await pay(to, PRICE);
    await confirmAndScan();
    expect(await rig.watchList.quote(upload.uploadId)).toMatchObject({ address: to, amount: PRICE.toString() });
    expect(await rig.uploads.state(upload.uploadId)).toBe('paid');
    await writeLedger([upload.uploadId]);
  });
});

describe('every terminal upload transition closes its quote', () => {
  it('an upload expired with nothing received and one a stage rejected while it awaited payment leave no quote open in the ledger', async () => {
    const deadline = await deadlineIn(3_000);
    const unpaid = await receive(deadline);
    const rejected = await receive(deadline);
    // The transcoder's early cut refused the file while the owner was still to pay: the stage gives up for good.
    expect((await rig.uploads.transition(rejected.uploadId, 'fail', { stage: 'transcoder', reason: 'not a video' })).moved).toBe(true);
    const context = recordingContext(rig.bus, rig.env.log).context;
    await handleUploadFailed(db, { uploadId: rejected.uploadId, stage: 'transcoder', reason: 'not a video', upload: {} }, context);

    await mineAfter(deadline, 2);
    await watcher.scanOnce();
    expect(await expire(unpaid.uploadId)).toBe('done');
    expect(await rig.uploads.state(unpaid.uploadId)).toBe('expired');
    await writeLedger([unpaid.uploadId, rejected.uploadId]);

    const quotes = await db('payment_quotes').whereIn('quote_id', [unpaid.uploadId, rejected.uploadId]).select('quote_id', 'state');
    expect(Object.fromEntries(quotes.map((q: { quote_id: string; state: string }) => [q.quote_id, q.state]))).toEqual({
      [unpaid.uploadId]: 'expired',
      [rejected.uploadId]: 'expired',
    });
  });
});

describe('reconcile --repair', () => {
  it('judges missing money at the block it arrived and drives the lifecycle: paid in time, found after the deadline, the upload is paid', async () => {
    const deadline = await deadlineIn(3_000);
    // A quote the watcher never watched (its upload.received lost with no restart since).
    const base = makeUpload(buyer.address, { expiresAt: deadline });
    const upload = { ...base, quote: { ...base.quote, to: depositAddressOf(deposits, base.uploadId) } };
    await recordQuote(db, {
      quoteId: upload.uploadId,
      uploadId: upload.uploadId,
      owner: upload.owner,
      chainId: 31337,
      depositAddress: upload.quote.to,
      token: null,
      amount: upload.quote.amount,
      createdAt: upload.quote.createdAt,
      expiresAt: upload.quote.expiresAt,
    });
    quoteIds.add(upload.uploadId);
    await rig.uploads.register(upload, 'test');
    await pay(upload.quote.to, PRICE / 2n);
    await pay(upload.quote.to, PRICE / 2n);
    const inTimeBlock = await anvil.client.getBlockNumber();
    await mineAfter(deadline, 2);
    const late = await pay(upload.quote.to, PRICE / 4n);
    const lateBlock = (await anvil.client.getTransactionReceipt({ hash: late })).blockNumber;
    await anvil.test.mine({ blocks: 2 });

    const settle: RepairSettle = (quote, total, at) =>
      watcher.settle(
        {
          uploadId: quote.uploadId,
          owner: quote.owner as Hex,
          address: quote.depositAddress as Hex,
          token: null,
          amount: quote.amount,
          createdAt: quote.createdAt,
          expiresAt: quote.expiresAt,
        },
        total,
        { ...at, transfers: [] },
      );
    const chain = createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 });
    const repaired = await reconcilePayments({ db, chain, chainId: 31337, deposits, confirmations: 2, fromBlock: firstBlock, repair: true, settle });
    expect(repaired.differences).toEqual([expect.objectContaining({ kind: 'deposit_missing', quoteId: upload.uploadId, chainTotal: (PRICE * 5n) / 4n })]);

    expect(await rig.uploads.state(upload.uploadId)).toBe('paid');
    expect(await rig.bus.queue('payment.confirmed').getJob(`${upload.uploadId}.payment.confirmed`)).toBeDefined();
    const rows = await db('payments')
      .where({ quote_id: upload.uploadId })
      .orderBy('id')
      .select('credit_status', 'to_block', db.raw('amount::text AS amount'), db.raw('refund_due::text AS refund_due'));
    expect(rows).toEqual([
      { credit_status: 'partial', to_block: String(inTimeBlock - 1n), amount: (PRICE / 2n).toString(), refund_due: '0' },
      { credit_status: 'paid', to_block: String(inTimeBlock), amount: (PRICE / 2n).toString(), refund_due: '0' },
      { credit_status: 'overpaid', to_block: String(lateBlock), amount: (PRICE / 4n).toString(), refund_due: (PRICE / 4n).toString() },
    ]);
    // The partial row became part of the payment once the quote was covered.
    expect(await db('payments').where({ quote_id: upload.uploadId }).pluck('status')).toEqual(['paid', 'paid', 'overpaid']);
    expect((await reconcilePayments({ db, chain, chainId: 31337, deposits, confirmations: 2, fromBlock: firstBlock, repair: false })).differences).toEqual([]);
  });
});

describe('expiry waits for the watcher', () => {
  it('the RPC down past a quote’s deadline: no expiry, the scan lag rises; once the watcher caught up the in-time payment counts', async () => {
    const deadline = await deadlineIn(3_000);
    const upload = await receive(deadline);
    await pay(upload.quote.to, PRICE);
    // The node stops answering: a watcher whose every call fails.
    const down = new DepositWatcher({
      ...(rig.watcher as unknown as { deps: DepositWatcherDeps }).deps,
      chain: createPublicClient({ chain: anvil.chain, transport: http('http://127.0.0.1:9', { retryCount: 0 }) }) as PublicClient,
      lock: new ScanLock(rig.env.redis, `${rig.env.prefix}:payment:down-lock`, 5_000),
    });
    down.start(100);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(deadline) + 2_000 - Date.now()));
    await down.stop();
    const cursor = await rig.watchList.cursor();
    expect(cursor?.time ?? 0).toBeLessThan(Date.parse(deadline));
    expect(await lagSeconds()).toBeGreaterThan(2);
    // Past the deadline by the wall clock, and long after it for a deployment: no pass read past it, so no expiry.
    expect(await expire(upload.uploadId)).toBe('retry');
    expect(await rig.uploads.state(upload.uploadId)).toBe('awaiting_payment');

    // The node is back: blocks after the deadline confirm, the pass judges the payment at its own block.
    await anvil.test.mine({ blocks: 2 });
    await watcher.scanOnce();
    expect(await lagSeconds()).toBe(0);
    expect(await rig.uploads.state(upload.uploadId)).toBe('paid');
    expect((await credits(upload.uploadId)).map((c) => c.status)).toEqual(['paid']);
    expect(await expire(upload.uploadId)).toBe('done');
    expect(await rig.uploads.state(upload.uploadId)).toBe('paid');
  });
});

describe('hints are judged at their block', () => {
  it('paid before the deadline, confirmed after it: the hint settles it paid', async () => {
    const deadline = await deadlineIn(3_000);
    const upload = await receive(deadline);
    const txHash = await pay(upload.quote.to, PRICE);
    const recorder = recordingContext(rig.bus, rig.env.log);
    expect(await runOnce(() => handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash, round: 1 }, recorder.context))).toBe('retry');
    // Its confirmations come after the deadline (the confirmed head's time is past it).
    await mineAfter(deadline, 3);
    expect(await runOnce(() => handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash, round: 1 }, recorder.context))).toBe('done');
    expect(await rig.uploads.state(upload.uploadId)).toBe('paid');
    expect((await credits(upload.uploadId)).map((c) => c.status)).toEqual(['paid']);
  });

  it('a hint for late money does not lift the credited mark over an in-time payment the pass has not judged yet', async () => {
    const deadline = await deadlineIn(3_000);
    const upload = await receive(deadline);
    await pay(upload.quote.to, PRICE);
    await mineAfter(deadline, 1);
    const late = await pay(upload.quote.to, PRICE / 2n);
    await anvil.test.mine({ blocks: 2 });
    expect(
      await runOnce(() =>
        handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash: late, round: 1 }, recordingContext(rig.bus, rig.env.log).context),
      ),
    ).toBe('done');
    await watcher.scanOnce();
    expect(await rig.uploads.state(upload.uploadId)).toBe('paid');
    expect((await credits(upload.uploadId)).map((c) => [c.status, c.totalReceived])).toEqual([
      ['paid', PRICE.toString()],
      ['overpaid', ((PRICE * 3n) / 2n).toString()],
    ]);
  });
});

describe('one hint job per (upload, hash), with backoff', () => {
  it('the same hash sent again while it is checked is the same job', async () => {
    const uploadId = randomUUID();
    const txHash = `0x${'7a'.repeat(32)}` as Hex;
    for (const sent of [txHash, txHash, txHash.toUpperCase().replace('0X', '0x') as Hex]) {
      const followed = await rig.uploads.followHint(uploadId, sent, 3);
      if (followed === 'limit') throw new Error('limit');
      await rig.bus.publish('payment.submitted', { uploadId, txHash: sent, round: followed.round });
    }
    const jobs = (await rig.bus.queue('payment.submitted').getJobs(['waiting', 'delayed'])).filter(
      (job) => (job.data as { uploadId: string }).uploadId === uploadId,
    );
    expect(jobs).toHaveLength(1);
  });

  it('a hash not yet seen is looked at less and less often, never far past the deadline', async () => {
    expect(hintPollDelay(1_000, new Date(Date.now() + 600_000).toISOString(), 1)).toBe(1_000);
    expect(hintPollDelay(1_000, new Date(Date.now() + 600_000).toISOString(), 3)).toBe(4_000);
    expect(hintPollDelay(1_000, new Date(Date.now() + 600_000).toISOString(), 12)).toBe(30_000);
    expect(hintPollDelay(1_000, new Date(Date.now() + 2_000).toISOString(), 12, Date.now())).toBeLessThanOrEqual(3_000);

    const upload = await receive(await deadlineIn(600_000));
    const unseen = `0x${'5f'.repeat(32)}` as Hex;
    await rig.uploads.followHint(upload.uploadId, unseen, 3);
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        await handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash: unseen, round: 1 }, recordingContext(rig.bus, rig.env.log).context);
      } catch (error) {
        if (!(error instanceof RetryLaterError)) throw error;
        delays.push(error.delayMs);
      }
    }
    expect(delays).toEqual([100, 200, 400, 800]);
  });
});
