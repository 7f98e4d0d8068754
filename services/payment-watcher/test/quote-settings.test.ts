import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFunctionData, erc20Abi, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { createChainClient, type DepositSettings, depositAddressOf, quoteSettingsOf } from '@reelboard/chain';
import type { UploadReceived } from '@reelboard/contracts';
import { applyCredit, backfillQuoteSettings, connectDatabase, type Knex, migrateToLatest, quotesToWatch, recordQuote } from '@reelboard/db';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { compileTestContracts } from '@reelboard/testkit/test-contracts';
import { DepositWatcher } from '../src/deposit-watcher.js';
import { handleUploadReceived } from '../src/handle-upload-received.js';
import { describeDifference, reconcilePayments } from '../src/reconcile.js';
import { ScanLock } from '../src/scan-lock.js';
import { AutoSweeper } from '../src/sweep.js';
import { makeUpload, recordingContext, type WatcherRig, watcherRig } from './support/harness.js';

const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 135;
const buyer = privateKeyToAccount(KEYS.buyer);
const contracts = compileTestContracts();
const newMerchant = () => privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex;

let anvil: Anvil;
let db: Knex;
const quoteIds: string[] = [];

async function mined(hash: Hex) {
  const receipt = await anvil.client.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe('success');
}

async function deployToken(): Promise<Hex> {
  const deployer = anvil.wallet(KEYS.deployer);
  const hash = await deployer.deployContract({
    abi: contracts.TestToken.abi,
    bytecode: contracts.TestToken.bytecode,
    args: [buyer.address, 10n ** 24n],
    account: deployer.account!,
    chain: anvil.chain,
  });
  return (await anvil.client.waitForTransactionReceipt({ hash })).contractAddress?.toLowerCase() as Hex;
}

async function payToken(token: Hex, to: Hex, amount: bigint) {
  const wallet = anvil.wallet(KEYS.buyer);
  await mined(
    await wallet.sendTransaction({
      account: buyer,
      chain: anvil.chain,
      to: token,
      data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to, amount] }),
    }),
  );
}

const balanceOf = (token: Hex, account: Hex) => anvil.client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [account] });

/** A quote as the gateway issues it under `settings`: recorded in the ledger with its settings, registered, watched. */
async function issue(r: WatcherRig, settings: DepositSettings, amount: bigint): Promise<UploadReceived> {
  const base = makeUpload(buyer.address, { token: settings.token, amount: amount.toString(), merchant: settings.merchant });
  const upload = { ...base, quote: { ...base.quote, to: depositAddressOf(settings, base.uploadId) } };
  await recordQuote(db, {
    quoteId: upload.uploadId,
    uploadId: upload.uploadId,
    owner: upload.owner,
    chainId: 31337,
    depositAddress: upload.quote.to,
    token: upload.quote.token,
    amount: upload.quote.amount,
    createdAt: upload.quote.createdAt,
    expiresAt: upload.quote.expiresAt,
    settings: quoteSettingsOf(settings),
  });
  quoteIds.push(upload.uploadId);
  await r.uploads.register(upload, 'test');
  await handleUploadReceived({ bus: r.bus, watchList: r.watchList, lateWatchMs: 3_600_000 }, upload, recordingContext(r.bus, r.env.log).context);
  return upload;
}

/** Waits until the ledger (fed by the bus, as the profile-writer feeds it) credits each quote its amount. */
async function ledgerCredits(expected: Record<string, bigint>) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const rows: { quote_id: string; credited_total: string }[] = await db('payment_quotes')
      .whereIn('quote_id', Object.keys(expected))
      .select('quote_id', db.raw('credited_total::text AS credited_total'));
    const got = Object.fromEntries(rows.map((row) => [row.quote_id, BigInt(row.credited_total)]));
    if (Object.entries(expected).every(([id, amount]) => got[id] === amount)) return;
    if (Date.now() > deadline) expect(got).toEqual(expected);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 4 });
  await migrateToLatest(db);
}, 60_000);

afterAll(async () => {
  if (quoteIds.length) {
    await db('payments').whereIn('quote_id', quoteIds).delete();
    await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  }
  await db?.destroy();
  await anvil?.stop();
});

describe('quotes carry their settings', () => {
  it('drill: merchant and token changed with quotes open; money then arrives for the old quotes: credited in their own token, swept to their own merchant, reconciliation clean', async () => {
    const [t1, t2] = [await deployToken(), await deployToken()];
    const before: DepositSettings = { merchant: newMerchant(), token: t1 };
    const after: DepositSettings = { merchant: newMerchant(), token: t2 };
    const r = await watcherRig('quote-settings', anvil.rpcUrl, before);
    // The ledger is written from the bus, as the profile-writer does.
    r.bus.consume('payment.credited', async (credit) => void (await applyCredit(db, credit)), { concurrency: 1 });
    try {
      const old = await issue(r, before, 1_000n);
      // The deployment changes PAYMENT_TOKEN and MERCHANT_ADDRESS (the old watcher stops, giving up the lease);
      // a quote is issued under the new settings.
      await r.watcher.stop();
      const watcher = new DepositWatcher({
        bus: r.bus,
        uploads: r.uploads,
        watchList: r.watchList,
        chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 }),
        lock: new ScanLock(r.env.redis, `${r.env.prefix}:payment:scan-lock`, 5_000),
        log: r.env.log,
        chainId: 31337,
        deposits: after,
        confirmations: 2,
        startBehind: 0,
        maxBlocksPerPass: 200,
      });
      const fresh = await issue(r, after, 2_000n);

      // The ledger keeps each quote's settings, and the watch set rebuilt from it carries them.
      const row = await db('payment_quotes').where({ quote_id: old.uploadId }).first('merchant_address', 'factory_address', 'sweeper_code_hash');
      const { factory, sweeperCodeHash } = quoteSettingsOf(before);
      expect(row).toEqual({ merchant_address: before.merchant, factory_address: factory, sweeper_code_hash: sweeperCodeHash });
      const watched = await quotesToWatch(db, { chainId: 31337, expiredAfter: new Date(Date.now() - 60_000) });
      expect(watched.find((q) => q.quoteId === old.uploadId)).toMatchObject({ merchant: before.merchant, token: t1 });

      // Money arrives: the old quote in its token T1, the new one in T2.
      await payToken(t1, old.quote.to, 1_000n);
      await payToken(t2, fresh.quote.to, 2_000n);
      await anvil.test.mine({ blocks: 2 });

      // Reconciliation under the new settings, told the old ones, still judges the old quote: its money is missing from the ledger yet.
      const reconcile = () =>
        reconcilePayments({
          db,
          chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 }),
          chainId: 31337,
          deposits: after,
          alsoSettings: [before],
          confirmations: 1,
          fromBlock: 0n,
          repair: false,
        });
      const missing = (await reconcile()).differences.filter((d) => 'quoteId' in d && quoteIds.includes(d.quoteId));
      expect(missing).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'deposit_missing', quoteId: old.uploadId, chainTotal: 1_000n }),
          expect.objectContaining({ kind: 'deposit_missing', quoteId: fresh.uploadId, chainTotal: 2_000n }),
        ]),
      );

      await watcher.scanOnce();
      expect(await r.uploads.state(old.uploadId)).toBe('paid');
      expect(await r.uploads.state(fresh.uploadId)).toBe('paid');
      await ledgerCredits({ [old.uploadId]: 1_000n, [fresh.uploadId]: 2_000n });

      // The sweeper, configured with the new settings, sweeps each quote to the merchant it was issued for.
      const sweeper = new AutoSweeper({
        chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 }),
        rpcUrls: [anvil.rpcUrl],
        chainId: 31337,
        privateKey: KEYS.deployer,
        deposits: after,
        watchList: r.watchList,
        minimums: { native: 1n, token: 1n },
        redis: r.env.redis,
        prefix: r.env.prefix,
        intervalMs: 60_000,
        log: r.env.log,
      });
      expect(await sweeper.sweepOnce()).toBe(2);
      await sweeper.stop();
      expect(await balanceOf(t1, before.merchant)).toBe(1_000n);
      expect(await balanceOf(t2, after.merchant)).toBe(2_000n);
      expect(await balanceOf(t1, old.quote.to)).toBe(0n);

      // The passes after the sweep still count the swept money (no reversal, nothing new), and reconciliation is clean.
      await anvil.test.mine({ blocks: 2 });
      await watcher.scanOnce();
      expect(r.events.filter((e) => e.event === 'payment.reversed')).toEqual([]);
      const result = await reconcile();
      expect(result.differences.filter((d) => 'quoteId' in d && quoteIds.includes(d.quoteId))).toEqual([]);
    } finally {
      await r.close();
    }
  }, 60_000);

  it('reconcile --also an old merchant checks plain transfers to it too (native and its token): reported, recorded by --repair, then clean', async () => {
    const t1 = await deployToken();
    const before: DepositSettings = { merchant: newMerchant(), token: t1 };
    const after: DepositSettings = { merchant: newMerchant(), token: null };
    const from = await anvil.client.getBlockNumber();
    // Someone pays the old merchant address itself, after the deployment moved to a new one: no watcher pass reads it any more.
    const native = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: before.merchant, value: 777n });
    await mined(native);
    await payToken(t1, before.merchant, 300n);
    await anvil.test.mine({ blocks: 2 });
    const reconcile = (alsoSettings: DepositSettings[], repair = false) =>
      reconcilePayments({
        db,
        chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 }),
        chainId: 31337,
        deposits: after,
        alsoSettings,
        confirmations: 1,
        fromBlock: from + 1n,
        repair,
      });
    const toOld = (differences: Awaited<ReturnType<typeof reconcile>>['differences']) =>
      differences.filter((d) => d.kind === 'merchant_missing' && d.merchant === before.merchant);

    // Under the new settings alone, the old merchant is not looked at.
    expect(toOld((await reconcile([])).differences)).toEqual([]);
    const told = await reconcile([before]);
    expect(toOld(told.differences)).toEqual([
      expect.objectContaining({ kind: 'merchant_missing', token: null, transfer: expect.objectContaining({ txHash: native, amount: '777' }) }),
      expect.objectContaining({ kind: 'merchant_missing', token: t1, transfer: expect.objectContaining({ amount: '300' }) }),
    ]);
    expect(describeDifference(toOld(told.differences)[0]!)).toContain(`to the merchant ${before.merchant}`);

    // --repair records them `unmatched`, due back, at the old merchant's address; the next run is clean, the ledger half included.
    await reconcile([before], true);
    const rows = await db('payments').where({ to_address: before.merchant }).orderBy('id').select('status', 'token_address', 'amount', 'refund_due');
    expect(rows).toEqual([
      { status: 'unmatched', token_address: null, amount: '777', refund_due: '777' },
      { status: 'unmatched', token_address: t1, amount: '300', refund_due: '300' },
    ]);
    const clean = await reconcile([before]);
    expect(toOld(clean.differences)).toEqual([]);
    expect(clean.differences.filter((d) => d.kind === 'unmatched_gone')).toEqual([]);
    await db('payments').where({ to_address: before.merchant }).delete();
  });

  it('backfills quotes recorded before they carried settings, only where the configuration derives their address', async () => {
    const settings: DepositSettings = { merchant: newMerchant(), token: null };
    const mine = { quoteId: crypto.randomUUID() };
    const foreign = { quoteId: crypto.randomUUID() };
    for (const [quote, merchant] of [
      [mine, settings.merchant],
      [foreign, newMerchant()],
    ] as const) {
      await recordQuote(db, {
        quoteId: quote.quoteId,
        uploadId: quote.quoteId,
        owner: buyer.address,
        chainId: 31337,
        depositAddress: depositAddressOf({ merchant, token: null }, quote.quoteId),
        token: null,
        amount: '1',
        createdAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      });
      quoteIds.push(quote.quoteId);
    }
    await backfillQuoteSettings(db, 31337, (quote) => {
      const candidate = { merchant: settings.merchant, token: quote.token };
      return depositAddressOf(candidate, quote.quoteId) === quote.depositAddress ? quoteSettingsOf(candidate) : undefined;
    });
    const rows = await db('payment_quotes').whereIn('quote_id', [mine.quoteId, foreign.quoteId]).select('quote_id', 'merchant_address', 'factory_address');
    const byId = Object.fromEntries(rows.map((row) => [row.quote_id, row]));
    expect(byId[mine.quoteId]).toMatchObject({ merchant_address: settings.merchant, factory_address: quoteSettingsOf(settings).factory });
    expect(byId[foreign.quoteId]).toMatchObject({ merchant_address: null, factory_address: null });
  });

  it('`pnpm payments sweep` under a new merchant sweeps an old quote to the merchant it was issued for', async () => {
    const before: DepositSettings = { merchant: newMerchant(), token: null };
    const after: DepositSettings = { merchant: newMerchant(), token: null };
    const quoteId = crypto.randomUUID();
    const address = depositAddressOf(before, quoteId);
    await recordQuote(db, {
      quoteId,
      uploadId: quoteId,
      owner: buyer.address,
      chainId: 31337,
      depositAddress: address,
      token: null,
      amount: '5000',
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      settings: quoteSettingsOf(before),
    });
    quoteIds.push(quoteId);
    await mined(await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: address, value: 5_000n }));
    const out = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/payments.ts', 'sweep'], {
      cwd: new URL('../../..', import.meta.url).pathname,
      env: {
        ...process.env,
        DATABASE_URL: infraEnv().TEST_DATABASE_URL,
        RPC_URL: anvil.rpcUrl,
        CHAIN_ID: '31337',
        MERCHANT_ADDRESS: after.merchant,
        CONFIRMATIONS: '1',
        SWEEP_PRIVATE_KEY: KEYS.deployer,
      },
    });
    expect(out.stdout).toContain(`swept ${address}: 5000 native`);
    expect(out.stdout).toContain(`swept into ${before.merchant}`);
    expect(await anvil.client.getBalance({ address: before.merchant })).toBe(5_000n);
    expect(await anvil.client.getBalance({ address: after.merchant })).toBe(0n);
  }, 60_000);
});
