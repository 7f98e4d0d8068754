import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from 'prom-client';
import { type Hex, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { createChainClient, type DepositSettings, depositAddressOf } from '@reelboard/chain';
import type { PaymentCredited, UploadReceived } from '@reelboard/contracts';
import { applyCredit, connectDatabase, type Knex, migrateToLatest, recordQuote } from '@reelboard/db';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { depositCredit, quoteInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { compileTestContracts } from '@reelboard/testkit/test-contracts';
import { loadPaymentWatcherConfig } from '../src/config.js';
import { DepositWatcher } from '../src/deposit-watcher.js';
import { handleUploadReceived } from '../src/handle-upload-received.js';
import { reconcilePayments } from '../src/reconcile.js';
import { makeUpload, PRICE, recordingContext, type WatcherRig, watcherRig } from './support/harness.js';

const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 111;
const buyer = privateKeyToAccount(KEYS.buyer);
const contracts = compileTestContracts();

let anvil: Anvil;
let db: Knex;
const rigs: WatcherRig[] = [];
const merchants: Hex[] = [];

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
});

afterAll(async () => {
  for (const r of rigs) await r.close();
  if (merchants.length) await db('payments').whereIn('to_address', merchants).delete();
  await db?.destroy();
  await anvil?.stop();
});

const jobsOf = async (r: WatcherRig): Promise<PaymentCredited[]> =>
  ((await r.bus.queue('payment.credited').getJobs(['waiting', 'delayed', 'completed', 'active'])) as { data: PaymentCredited }[]).map((job) => job.data);

describe('only what happened counts', () => {
  it('a reverted 100 ETH transfer to a contract merchant is booked neither by the watcher nor by reconciliation', async () => {
    const { abi, bytecode } = contracts.AlwaysReverts;
    const deployed = await anvil.wallet(KEYS.deployer).deployContract({ abi, bytecode, account: privateKeyToAccount(KEYS.deployer), chain: anvil.chain });
    const merchant = ((await anvil.client.waitForTransactionReceipt({ hash: deployed })).contractAddress as Hex).toLowerCase() as Hex;
    const deposits: DepositSettings = { merchant, token: null };
    // anvil's addresses and hashes repeat from run to run: rows an earlier run left would not be this run's.
    merchants.push(merchant);
    await db('payments').where({ to_address: merchant }).delete();
    const r = await watcherRig('pw-final-revert', anvil.rpcUrl, deposits);
    rigs.push(r);

    // An explicit gas limit: without it the wallet's estimate fails and nothing is mined at all.
    const hash = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: merchant, value: parseEther('100'), gas: 100_000n });
    const receipt = await anvil.client.waitForTransactionReceipt({ hash });
    expect(receipt.status).toBe('reverted');
    // A transfer that succeeded in the same pass still counts: the filter is the receipt, not the recipient.
    const other = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: merchant, value: 0n, gas: 100_000n });
    await anvil.client.waitForTransactionReceipt({ hash: other });
    await anvil.test.mine({ blocks: 2 });
    await r.watcher.scanOnce();
    expect((await r.watchList.cursor())?.block).toBeGreaterThanOrEqual(receipt.blockNumber);
    expect((await jobsOf(r)).filter((c) => c.kind === 'merchant')).toEqual([]);

    const result = await reconcilePayments({
      db,
      chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 }),
      chainId: 31337,
      deposits,
      confirmations: 1,
      fromBlock: 0n,
      repair: true,
    });
    expect(result.merchantTransfersChecked).toBe(0);
    expect(result.differences).toEqual([]);
    expect(await db('payments').where({ tx_hash: hash.toLowerCase() })).toEqual([]);
  });
});

/** An upload the gateway accepted (quote to its deposit address) and the watcher now watches. */
async function receive(r: WatcherRig): Promise<UploadReceived> {
  const base = makeUpload(buyer.address, { token: r.deposits.token });
  const upload = { ...base, quote: { ...base.quote, to: depositAddressOf(r.deposits, base.uploadId) } };
  await r.uploads.register(upload, 'test');
  await handleUploadReceived({ bus: r.bus, watchList: r.watchList, lateWatchMs: 3_600_000 }, upload, recordingContext(r.bus, r.env.log).context);
  return upload;
}

/** A payment signed once, so the very same transaction can be mined again after a reorg dropped it. */
async function signedPayment(to: Hex, value: bigint): Promise<Hex> {
  const wallet = anvil.wallet(KEYS.buyer);
  const request = await wallet.prepareTransactionRequest({ account: buyer, chain: anvil.chain, to, value });
  return wallet.signTransaction(request as never);
}

async function mineRaw(raw: Hex): Promise<bigint> {
  const hash = await anvil.client.sendRawTransaction({ serializedTransaction: raw });
  return (await anvil.client.waitForTransactionReceipt({ hash })).blockNumber;
}

const reorg = (depth: number) => anvil.client.request({ method: 'anvil_reorg' as never, params: [depth, []] as never });
const reversalsCounted = async () => (await register.getSingleMetric('reelboard_payment_reversals_total')?.get())?.values[0]?.value ?? 0;

describe('a reorg deeper than the confirmations', () => {
  it('is noticed: the credit is reversed (ledger job, lower mark, the owner told, counted), the cursor follows the new chain, and the same transaction mined again is credited again', async () => {
    const r = await watcherRig('pw-final-reorg', anvil.rpcUrl, { merchant: MERCHANT, token: null });
    rigs.push(r);
    const upload = await receive(r);
    const raw = await signedPayment(upload.quote.to, PRICE);
    const paidIn = await mineRaw(raw);
    await anvil.test.mine({ blocks: 3 });
    await r.watcher.scanOnce();
    expect(await r.uploads.state(upload.uploadId)).toBe('paid');
    expect(await r.watchList.credited([upload.quote.to])).toEqual([PRICE]);
    // The listing is saved: the upload's stream has ended, and its owner must still hear of the reversal.
    await r.uploads.transition(upload.uploadId, 'start', { stage: 'test' });
    expect((await r.uploads.transition(upload.uploadId, 'save', { stage: 'test' })).moved).toBe(true);
    const counted = await reversalsCounted();

    // Replaces every block from the payment's up: deeper than the 2 confirmations, behind the cursor.
    const head = await anvil.client.getBlockNumber();
    await reorg(Number(head - paidIn) + 1);
    expect(await anvil.client.getBalance({ address: upload.quote.to })).toBe(0n);
    await anvil.test.mine({ blocks: 1 });
    await r.watcher.scanOnce();

    expect(await r.watchList.credited([upload.quote.to])).toEqual([0n]);
    const reversed = (await jobsOf(r)).filter((c) => c.kind === 'reversed');
    expect(reversed).toEqual([
      expect.objectContaining({
        uploadId: upload.uploadId,
        address: upload.quote.to,
        totalReceived: '0',
        creditedBefore: PRICE.toString(),
        fromBlock: paidIn.toString(),
        epoch: 1,
      }),
    ]);
    // The status event comes through pub/sub after the pass: waited for, not given a fixed 200 ms.
    await vi.waitFor(
      () =>
        expect(r.events.filter((e) => e.uploadId === upload.uploadId && e.event === 'payment.reversed')).toEqual([
          expect.objectContaining({ state: 'saved', code: 'reorg', reason: expect.stringContaining(`took back ${PRICE}`) }),
        ]),
      { timeout: 10_000, interval: 50 },
    );
    expect((await r.uploads.latest(upload.uploadId))?.event).toBe('payment.reversed');
    expect(await reversalsCounted()).toBe(counted + 1);
    const cursor = await r.watchList.cursor();
    expect(cursor?.hash).toBe((await anvil.client.getBlock({ blockNumber: cursor!.block })).hash);
    // A second pass on the same chain finds nothing more to reverse.
    await r.watcher.scanOnce();
    expect((await jobsOf(r)).filter((c) => c.kind === 'reversed')).toHaveLength(1);

    // The same signed transaction mined again: the money is back, and credited again as a new observation.
    await mineRaw(raw);
    await anvil.test.mine({ blocks: 2 });
    await r.watcher.scanOnce();
    expect(await r.watchList.credited([upload.quote.to])).toEqual([PRICE]);
    const deposits = (await jobsOf(r)).filter(
      (c): c is Extract<PaymentCredited, { kind: 'deposit' }> => c.kind === 'deposit' && c.uploadId === upload.uploadId,
    );
    expect(deposits).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ totalReceived: PRICE.toString(), status: 'paid' }),
        expect.objectContaining({ totalReceived: PRICE.toString(), status: 'paid', epoch: 1 }),
      ]),
    );
  });

  it('takes back a transfer to the merchant it removed (recorded unmatched, due back): reversed, nothing due; mined again, recorded again', async () => {
    const merchant = privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex;
    const r = await watcherRig('pw-final-merchant', anvil.rpcUrl, { merchant, token: null });
    rigs.push(r);
    const raw = await signedPayment(merchant, 777n);
    const minedIn = await mineRaw(raw);
    await anvil.test.mine({ blocks: 3 });
    await r.watcher.scanOnce();
    const merchantJobs = async () => (await jobsOf(r)).filter((c) => c.kind === 'merchant' || c.kind === 'merchant_reversed');
    expect(await merchantJobs()).toEqual([expect.objectContaining({ kind: 'merchant', blockNumber: minedIn.toString() })]);

    await reorg(Number((await anvil.client.getBlockNumber()) - minedIn) + 1);
    await anvil.test.mine({ blocks: 1 });
    await r.watcher.scanOnce();
    expect(await merchantJobs()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'merchant_reversed', epoch: 1, fromBlock: minedIn.toString(), transfer: expect.objectContaining({ amount: '777' }) }),
      ]),
    );

    await mineRaw(raw);
    await anvil.test.mine({ blocks: 2 });
    await r.watcher.scanOnce();
    expect((await merchantJobs()).filter((c) => c.kind === 'merchant')).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'merchant', epoch: 1 })]),
    );
  });

  it('costs no node call of its own: a pass with no new block asks only for the head, one with new blocks only what it reads anyway', async () => {
    const r = await watcherRig('pw-final-calls', anvil.rpcUrl, { merchant: MERCHANT, token: null });
    rigs.push(r);
    let requests = 0;
    const deps = (r.watcher as unknown as { deps: ConstructorParameters<typeof DepositWatcher>[0] }).deps;
    const counted = new DepositWatcher({ ...deps, chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, onRequest: () => void (requests += 1) }) });
    await anvil.test.mine({ blocks: 3 });
    await counted.scanOnce();
    expect((await r.watchList.cursor())?.hash).toMatch(/^0x[0-9a-f]{64}$/);
    requests = 0;
    expect(await counted.scanOnce()).toBe(0);
    expect(requests).toBe(1);
    await anvil.test.mine({ blocks: 1 });
    requests = 0;
    expect(await counted.scanOnce()).toBe(1);
    // The head, the block (its parent hash is the reorg check) and the sweep logs; no watched address, no balance.
    expect(requests).toBe(3);
  });

  it('deeper than the block hashes kept: still reversed (totals are read on the new chain), read again from the oldest hash kept', async () => {
    const r = await watcherRig('pw-final-deep', anvil.rpcUrl, { merchant: MERCHANT, token: null });
    rigs.push(r);
    const deps = (r.watcher as unknown as { deps: ConstructorParameters<typeof DepositWatcher>[0] }).deps;
    const watcher = new DepositWatcher({ ...deps, hashesKept: 2 });
    const upload = await receive(r);
    const paidIn = await mineRaw(await signedPayment(upload.quote.to, PRICE));
    for (let i = 0; i < 4; i++) {
      await anvil.test.mine({ blocks: 1 });
      await watcher.scanOnce();
    }
    expect(await r.watchList.credited([upload.quote.to])).toEqual([PRICE]);
    expect([...(await r.watchList.recentHashes()).keys()].every((n) => n > paidIn)).toBe(true);
    await reorg(Number((await anvil.client.getBlockNumber()) - paidIn) + 1);
    await anvil.test.mine({ blocks: 1 });
    await watcher.scanOnce();
    expect(await r.watchList.credited([upload.quote.to])).toEqual([0n]);
    expect((await jobsOf(r)).filter((c) => c.kind === 'reversed')).toEqual([expect.objectContaining({ uploadId: upload.uploadId, totalReceived: '0' })]);
  });

  it('a reorg shallower than the confirmations changes nothing', async () => {
    const r = await watcherRig('pw-final-shallow', anvil.rpcUrl, { merchant: MERCHANT, token: null });
    rigs.push(r);
    const upload = await receive(r);
    await mineRaw(await signedPayment(upload.quote.to, PRICE));
    await anvil.test.mine({ blocks: 2 });
    await r.watcher.scanOnce();
    const before = await r.watchList.cursor();
    // One block on top of the cursor is replaced: never read, so nothing to follow.
    await reorg(1);
    await r.watcher.scanOnce();
    expect((await jobsOf(r)).filter((c) => c.kind === 'reversed')).toEqual([]);
    expect((await r.watchList.cursor())?.block).toBeGreaterThanOrEqual(before!.block);
  });
});

describe('the confirmation policy', () => {
  const base = {
    REDIS_URL: 'redis://127.0.0.1:1',
    // The watcher rebuilds its watch set from the ledger, so it needs the database too.
    DATABASE_URL: 'postgres://127.0.0.1:1/reelboard',
    RPC_URL: 'http://127.0.0.1:1',
    CHAIN_ID: '31337',
    MERCHANT_ADDRESS: '0x000000000000000000000000000000000000dEaD',
  };

  it("is a depth by default, or the node's safe / finalized block; anything else is refused naming the variable", () => {
    expect(loadPaymentWatcherConfig(base).CONFIRMATION_POLICY).toBe('depth');
    expect(loadPaymentWatcherConfig({ ...base, CONFIRMATION_POLICY: 'finalized' }).CONFIRMATION_POLICY).toBe('finalized');
    expect(() => loadPaymentWatcherConfig({ ...base, CONFIRMATION_POLICY: 'latest' })).toThrow(
      /CONFIRMATION_POLICY: must be depth \(CONFIRMATIONS blocks\), safe or finalized/,
    );
  });

  it("with `finalized`, a pass reads up to the node's finalized block, not the depth below the head", async () => {
    const r = await watcherRig('pw-final-policy', anvil.rpcUrl, { merchant: MERCHANT, token: null });
    rigs.push(r);
    await anvil.test.mine({ blocks: 5 });
    const watcher = new DepositWatcher({
      ...(r.watcher as unknown as { deps: ConstructorParameters<typeof DepositWatcher>[0] }).deps,
      confirmationPolicy: 'finalized',
    });
    const finalized = (await anvil.client.getBlock({ blockTag: 'finalized' })).number;
    const head = await anvil.client.getBlockNumber();
    expect(finalized).toBeLessThan(head - 1n);
    expect(await watcher.confirmedHeight()).toBe(finalized);
  });
});

describe('reconciliation after a reversal', () => {
  it('--repair books money the watcher missed coming back to an uncovered quote as paid, not overpaid', async () => {
    const deposits: DepositSettings = { merchant: privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex, token: null };
    merchants.push(deposits.merchant);
    const base = quoteInput();
    const quote = { ...base, depositAddress: depositAddressOf(deposits, base.quoteId) };
    await recordQuote(db, quote);
    await applyCredit(db, depositCredit(quote, { address: quote.depositAddress, totalReceived: quote.amount, status: 'paid' }));
    await applyCredit(db, {
      kind: 'reversed',
      uploadId: quote.uploadId,
      owner: quote.owner as Hex,
      chainId: 31337,
      address: quote.depositAddress,
      token: null,
      totalReceived: '0',
      creditedBefore: quote.amount,
      fromBlock: '1',
      toBlock: '2',
      epoch: 1,
    });
    // The money is on chain (mined again), and no watcher saw it.
    await mineRaw(await signedPayment(quote.depositAddress, BigInt(quote.amount)));
    try {
      const result = await reconcilePayments({
        db,
        chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 }),
        chainId: 31337,
        deposits,
        confirmations: 1,
        fromBlock: 0n,
        repair: true,
      });
      expect(result.differences).toEqual([expect.objectContaining({ kind: 'deposit_missing', quoteId: quote.quoteId, ledgerTotal: 0n })]);
      expect((await db('payments').where({ quote_id: quote.quoteId }).orderBy('id').select('status')).map((row) => row.status)).toEqual(['reversed', 'paid']);
    } finally {
      await db('payments').where({ quote_id: quote.quoteId }).delete();
      await db('payment_quotes').where({ quote_id: quote.quoteId }).delete();
    }
  });
});
