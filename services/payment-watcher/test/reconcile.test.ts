import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { createChainClient, type DepositSettings, depositAddressOf, ensureDepositFactory, sweepDeposits } from '@reelboard/chain';
import {
  applyCredit,
  connectDatabase,
  type Knex,
  markRefunded,
  migrateToLatest,
  moderateListing,
  type QuoteRecord,
  recordQuote,
  saveListing,
} from '@reelboard/db';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { depositCredit, listingInput, quoteInput, randomTxHash } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { advanceCheckpoint, reconcilePayments, reconcileStart } from '../src/reconcile.js';

const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 105;
const repoRoot = new URL('../../..', import.meta.url).pathname;
// A merchant of this file's own: the shared test database holds other merchants' quotes, which are not ours to judge.
const deposits: DepositSettings = { merchant: privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex, token: null };
const buyer = privateKeyToAccount(KEYS.buyer);

let anvil: Anvil;
let db: Knex;
const quoteIds: string[] = [];

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
});

afterAll(async () => {
  if (quoteIds.length) {
    await db('payments').whereIn('quote_id', quoteIds).delete();
    await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  }
  await db('payments').where({ to_address: deposits.merchant }).delete();
  await db('reconcile_checkpoints').where({ merchant: deposits.merchant }).delete();
  await db?.destroy();
  await anvil?.stop();
});

/** A quote of our merchant, recorded as the gateway records it. */
async function issueQuote(overrides: Partial<QuoteRecord> = {}) {
  const base = quoteInput(overrides);
  const quote = { ...base, depositAddress: depositAddressOf(deposits, base.quoteId) };
  await recordQuote(db, quote);
  quoteIds.push(quote.quoteId);
  return quote;
}

async function pay(to: Hex, value: bigint): Promise<Hex> {
  const hash = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to, value });
  await anvil.client.waitForTransactionReceipt({ hash });
  return hash;
}

/** A transfer to the merchant recorded as the watcher records it: unmatched, due back to its sender. */
async function recordUnmatched(txHash: Hex, amount: bigint): Promise<number> {
  const block = await anvil.client.getBlockNumber();
  const outcome = await applyCredit(db, {
    kind: 'merchant',
    chainId: 31337,
    address: deposits.merchant,
    token: null,
    transfer: { txHash, logIndex: null, from: buyer.address.toLowerCase() as Hex, amount: amount.toString() },
    blockNumber: block.toString(),
    blockTime: new Date().toISOString(),
  });
  return outcome.paymentIds[0] as number;
}

/** A refund sent to the payer by a real signed transaction, recorded in the ledger as the refund use-case does. */
async function refund(paymentId: number, value: bigint, paid = value): Promise<Hex> {
  const hash = await anvil.wallet(KEYS.stranger).sendTransaction({ account: privateKeyToAccount(KEYS.stranger), chain: anvil.chain, to: buyer.address, value });
  await anvil.client.waitForTransactionReceipt({ hash });
  await markRefunded(db, { paymentId, txHash: hash, actor: 'test', recipient: buyer.address, paid: paid.toString() });
  return hash;
}

const reconcile = (repair = false, fromBlock = 0n) =>
  reconcilePayments({
    db,
    chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 }),
    chainId: 31337,
    deposits,
    confirmations: 1,
    fromBlock,
    repair,
  });

describe('reconciliation of the chain with the ledger', () => {
  it('finds money the ledger lacks (a deposit, a transfer to the merchant), records it with --repair, then finds nothing', async () => {
    const recorded = await issueQuote();
    const missed = await issueQuote();
    const price = BigInt(recorded.amount);
    await pay(recorded.depositAddress, price);
    await applyCredit(db, depositCredit(recorded, { address: recorded.depositAddress, totalReceived: price.toString(), status: 'paid' }));
    await pay(missed.depositAddress, price / 2n);
    const direct = await pay(deposits.merchant, 777n);

    const before = await reconcile();
    expect(before.quotesChecked).toBe(2);
    expect(before.differences).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'deposit_missing', quoteId: missed.quoteId, chainTotal: price / 2n, ledgerTotal: 0n }),
        expect.objectContaining({ kind: 'merchant_missing', transfer: expect.objectContaining({ txHash: direct, amount: '777' }) }),
      ]),
    );
    expect(before.differences).toHaveLength(2);

    const repaired = await reconcile(true);
    expect(repaired.repaired).toBe(2);
    expect(await db('payments').where({ quote_id: missed.quoteId }).select('status', 'amount')).toMatchObject([
      { status: 'partial', amount: (price / 2n).toString() },
    ]);
    expect(await db('payments').where({ tx_hash: direct.toLowerCase() }).select('status', 'refund_due')).toMatchObject([
      { status: 'unmatched', refund_due: '777' },
    ]);
    expect((await reconcile()).differences).toEqual([]);
  });

  it('counts what sweeps moved to the merchant, and is not fooled by the sweep itself', async () => {
    const quote = await issueQuote();
    await pay(quote.depositAddress, 5_000n);
    await applyCredit(db, depositCredit(quote, { address: quote.depositAddress, totalReceived: '5000', status: 'partial' }));
    await sweepDeposits(anvil.wallet(KEYS.deployer) as never, anvil.client, deposits, [quote.quoteId]);
    expect(await anvil.client.getBalance({ address: quote.depositAddress })).toBe(0n);
    expect((await reconcile()).differences).toEqual([]);
  });

  it('reports a ledger that credits more than the chain shows, and does not "repair" it', async () => {
    const quote = await issueQuote();
    await applyCredit(db, depositCredit(quote, { address: quote.depositAddress, totalReceived: '999', status: 'partial' }));
    const result = await reconcile(true);
    expect(result.differences).toEqual([expect.objectContaining({ kind: 'deposit_excess', quoteId: quote.quoteId, chainTotal: 0n, ledgerTotal: 999n })]);
    expect(result.repaired).toBe(0);
    await db('payments').where({ quote_id: quote.quoteId }).delete();
    await db('payment_quotes').where({ quote_id: quote.quoteId }).update({ credited_total: '0' });
  });

  it('`pnpm payments reconcile` exits 0 when everything is accounted for, 1 with the differences listed', async () => {
    // --repair moves the uploads its credits pay: it reads the pipeline's Redis (a prefix of this test's own).
    const redis = { REDIS_URL: infraEnv().REDIS_URL, REDIS_PREFIX: `test-reconcile-cli-${Date.now().toString(36)}` };
    const run = (args: string[], extra: Record<string, string | undefined> = redis) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/payments.ts', 'reconcile', '--from-block', '0', '--settle-seconds', '0', ...args], {
        cwd: repoRoot,
        env: {
          ...process.env,
          DATABASE_URL: infraEnv().TEST_DATABASE_URL,
          RPC_URL: anvil.rpcUrl,
          CHAIN_ID: '31337',
          MERCHANT_ADDRESS: deposits.merchant,
          CONFIRMATIONS: '1',
          ...extra,
        },
      }).then(
        (out) => ({ code: 0, stdout: out.stdout, stderr: out.stderr }),
        (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
      );
    const clean = await run([]);
    expect(clean).toMatchObject({ code: 0, stdout: expect.stringContaining('the ledger matches the chain') });
    const quote = await issueQuote();
    await pay(quote.depositAddress, 42n);
    const dirty = await run([]);
    expect(dirty.code).toBe(1);
    expect(dirty.stdout).toContain(`quote ${quote.quoteId}: ${quote.depositAddress} received 42 on chain, the ledger credits 0`);
    expect(await run(['--repair'], { REDIS_URL: undefined, REDIS_SENTINELS: undefined })).toMatchObject({
      code: 78,
      stderr: expect.stringContaining('REDIS_URL'),
    });
    expect((await run(['--repair'])).code).toBe(1);
    expect((await run([])).code).toBe(0);
  });

  it('`pnpm payments reconcile` with no --from-block starts at the deployment block, then at its checkpoint', async () => {
    const env = {
      ...process.env,
      DATABASE_URL: infraEnv().TEST_DATABASE_URL,
      RPC_URL: anvil.rpcUrl,
      CHAIN_ID: '31337',
      MERCHANT_ADDRESS: deposits.merchant,
      CONFIRMATIONS: '1',
    };
    const run = () =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/payments.ts', 'reconcile', '--settle-seconds', '0'], { cwd: repoRoot, env }).then(
        (out) => out.stdout,
      );
    await ensureDepositFactory(anvil.wallet(KEYS.deployer) as never, anvil.client, deposits);
    await db('reconcile_checkpoints').where({ merchant: deposits.merchant }).delete();
    const first = await run();
    expect(first).toMatch(/in \d+ blocks \(\d+\.\.\d+, from the factory's deployment\)/);
    const height = /checkpoint: block (\d+)/.exec(first)?.[1];
    expect(height).toBeDefined();
    await pay(privateKeyToAddress(generatePrivateKey()), 1n);
    const second = await run();
    expect(second).toContain(`in 1 blocks (${BigInt(height as string) + 1n}..${BigInt(height as string) + 1n}, from the checkpoint)`);
    expect(second).toContain('the ledger matches the chain');
  });

  it("starts at the factory's deployment block, then reads only the blocks after its checkpoint", async () => {
    const scope = { db, chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337 }), chainId: 31337, deposits };
    const factory = await ensureDepositFactory(anvil.wallet(KEYS.deployer) as never, anvil.client, deposits);
    await db('reconcile_checkpoints').where({ merchant: deposits.merchant }).delete();
    const first = await reconcileStart(scope);
    expect(first.source).toBe('deployment');
    expect(await anvil.client.getCode({ address: factory, blockNumber: first.fromBlock })).not.toBe('0x');
    expect(await anvil.client.getCode({ address: factory, blockNumber: first.fromBlock - 1n })).toBeUndefined();
    expect(await reconcileStart(scope, 0n)).toEqual({ fromBlock: 0n, source: 'argument' });

    const full = await reconcile(false, first.fromBlock);
    expect(full.differences).toEqual([]);
    expect(await advanceCheckpoint(scope, first.fromBlock, full, false)).toBe(full.height);

    // A transfer to the merchant the ledger lacks: reported, and the checkpoint stays before it.
    const direct = await pay(deposits.merchant, 901n);
    const next = await reconcileStart(scope);
    expect(next).toEqual({ fromBlock: full.height + 1n, source: 'checkpoint' });
    const dirty = await reconcile(false, next.fromBlock);
    expect(dirty.blocksRead).toBe(Number(dirty.height - full.height));
    expect(dirty.blocksRead).toBeLessThan(full.blocksRead);
    expect(dirty.differences).toEqual([expect.objectContaining({ kind: 'merchant_missing', transfer: expect.objectContaining({ txHash: direct }) })]);
    expect(await advanceCheckpoint(scope, next.fromBlock, dirty, false)).toBeNull();
    expect(await reconcileStart(scope)).toEqual(next);

    // Recorded: the next run reads the same blocks, finds nothing, and moves the checkpoint past them.
    await recordUnmatched(direct, 901n);
    const clean = await reconcile(false, next.fromBlock);
    expect(clean.differences).toEqual([]);
    expect(await advanceCheckpoint(scope, next.fromBlock, clean, false)).toBe(clean.height);
    const after = await reconcile(false, (await reconcileStart(scope)).fromBlock);
    expect(after.blocksRead).toBe(Number(after.height - clean.height));
    // A run that leaves a gap after the checkpoint does not move it.
    expect(await advanceCheckpoint(scope, clean.height + 5n, { height: clean.height + 10n, differences: [] }, false)).toBeNull();
    // The chain no longer has the block the checkpoint vouched for (a reset node, a reorg below it): start over from the deployment.
    await db('reconcile_checkpoints').where({ merchant: deposits.merchant }).update({ last_block_hash: randomTxHash() });
    expect(await reconcileStart(scope)).toEqual(first);
    expect(await db('reconcile_checkpoints').where({ merchant: deposits.merchant }).first('last_block', 'deployment_block')).toEqual({
      last_block: null,
      deployment_block: String(first.fromBlock),
    });
  });

  it('checks the ledger against the chain: unmatched and reversed rows and refunds; nothing on a clean ledger', async () => {
    const rows: number[] = [];
    const checkedBefore = (await reconcile()).ledgerRowsChecked;
    // Clean: a real transfer to the merchant, refunded in full to its sender by a real transaction.
    rows.push(await recordUnmatched(await pay(deposits.merchant, 500n), 500n));
    await refund(rows[0] as number, 500n);
    const clean = await reconcile();
    expect(clean.differences).toEqual([]);
    expect(clean.ledgerRowsChecked).toBe(checkedBefore + 2);

    // An unmatched row the chain does not show (a reorg took it, or it was never there).
    const gone = randomTxHash();
    rows.push(await recordUnmatched(gone, 300n));
    // A reversed row whose transfer is on chain again, credited by no other row.
    const back = await pay(deposits.merchant, 600n);
    const reversedId = await recordUnmatched(back, 600n);
    rows.push(reversedId);
    await db('payments').where({ id: reversedId }).update({ status: 'reversed', refund_due: 0 });
    // A refund recorded (before refunds were verified) for a transaction that paid back less.
    const shortId = await recordUnmatched(await pay(deposits.merchant, 700n), 700n);
    rows.push(shortId);
    const short = await refund(shortId, 100n, 700n);

    // Read from the blocks after them (as an incremental run does): only the ledger half can see these.
    const after = (await anvil.client.getBlockNumber()) + 1n;
    const dirty = await reconcile(false, after);
    expect(dirty.blocksRead).toBe(0);
    expect(dirty.differences).toEqual([
      expect.objectContaining({ kind: 'unmatched_gone', paymentId: rows[1], txHash: gone.toLowerCase(), reason: 'not_found' }),
      expect.objectContaining({ kind: 'reversed_on_chain', paymentId: reversedId, txHash: back.toLowerCase() }),
      expect.objectContaining({
        kind: 'refund_unverified',
        paymentId: shortId,
        txHash: short.toLowerCase(),
        problem: expect.stringContaining('paid 100 base units'),
      }),
    ]);
    // --repair records what the ledger lacks; these it only reports (each needs an operator's judgement).
    expect((await reconcile(true, after)).repaired).toBe(0);
    // Read from block 0, the transfer back on chain is one the ledger lacks, reported once.
    expect(
      (await reconcile(false, 0n)).differences.filter((d) => JSON.stringify(d, (_, v) => (typeof v === 'bigint' ? String(v) : v)).includes(back.toLowerCase())),
    ).toEqual([expect.objectContaining({ kind: 'merchant_missing' })]);
    await db('payments').whereIn('id', rows).delete();
    expect((await reconcile(false, after)).differences).toEqual([]);
  });

  it('finds paid work the ledger never saw done nor owes back: an upload with no listing, a renewal not applied', async () => {
    // From the head on: transfers to the merchant are the tests' above, not this one's.
    const recent = async () => reconcile(false, (await anvil.client.getBlockNumber()) + 1n);
    const hours = (n: number) => new Date(Date.now() + n * 3_600_000).toISOString();
    const paid = async (overrides: Partial<QuoteRecord>) => {
      const quote = await issueQuote(overrides);
      await pay(quote.depositAddress, BigInt(quote.amount));
      await applyCredit(db, depositCredit(quote, { address: quote.depositAddress, totalReceived: quote.amount, status: 'paid' }));
      return quote;
    };
    // Clean: paid within its deadline (its work may still run), and a renewal paid and applied.
    await paid({ createdAt: hours(-1), expiresAt: hours(1) });
    const listing = listingInput();
    await saveListing(db, listing);
    // Only an approved (or expired) listing renews: the lifecycle's one renewal rule.
    await moderateListing(db, { listingId: listing.listingId, actor: 'test', action: 'approve', listingDays: 30 });
    const renewal = await paid({ createdAt: hours(-3), expiresAt: hours(-2), purpose: 'renewal', listingId: listing.listingId, renewalDays: 30 });
    expect((await recent()).differences).toEqual([]);

    // Lost: paid two hours past its deadline with no listing; and the renewal's application gone.
    const lost = await paid({ createdAt: hours(-3), expiresAt: hours(-2) });
    await db('listing_events').where({ listing_id: listing.listingId, action: 'renew' }).delete();
    const result = await recent();
    expect(result.differences).toEqual([
      // Oldest deadline first.
      expect.objectContaining({ kind: 'renewal_not_applied', quoteId: renewal.quoteId, listingId: listing.listingId }),
      expect.objectContaining({ kind: 'paid_no_listing', quoteId: lost.quoteId }),
    ]);
    // Recorded failed (its money due back): the refund process's, no longer lost.
    await db('payments').where({ quote_id: lost.quoteId }).update({ refund_due: lost.amount });
    expect((await recent()).differences).toEqual([expect.objectContaining({ kind: 'renewal_not_applied' })]);
    await db('payment_quotes').whereIn('quote_id', [lost.quoteId, renewal.quoteId]).update({ state: 'expired' });
  });
});

describe("reconciliation reads up to the block the chain's confirmation policy names", () => {
  it("with `safe` or `finalized`, money above the node's block of that tag is not counted yet, by the function and by `pnpm payments reconcile`", async () => {
    // A merchant of this test's own, so the file's other quotes and transfers are not judged here.
    const own: DepositSettings = { merchant: privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex, token: null };
    const base = quoteInput();
    const quote = { ...base, depositAddress: depositAddressOf(own, base.quoteId) };
    await recordQuote(db, quote);
    quoteIds.push(quote.quoteId);
    await pay(quote.depositAddress, 42n);
    const paidIn = await anvil.client.getBlockNumber();
    await anvil.test.mine({ blocks: 2 });
    const chain = createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 });
    const at = (confirmationPolicy: 'depth' | 'safe' | 'finalized') =>
      reconcilePayments({ db, chain, chainId: 31337, deposits: own, confirmations: 1, confirmationPolicy, fromBlock: paidIn, repair: false });
    const missing = [expect.objectContaining({ kind: 'deposit_missing', quoteId: quote.quoteId, chainTotal: 42n, ledgerTotal: 0n })];

    // Three blocks deep: counted with a depth of 1, not yet under the node's tags (anvil answers them 32 and 64 blocks down).
    expect((await at('depth')).differences).toEqual(missing);
    for (const policy of ['safe', 'finalized'] as const) {
      const tagged = (await anvil.client.getBlock({ blockTag: policy })).number;
      expect(tagged).toBeLessThan(paidIn);
      const result = await at(policy);
      expect(result.height).toBe(tagged);
      expect(result.differences).toEqual([]);
    }

    const cli = (extra: Record<string, string>) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/payments.ts', 'reconcile', '--from-block', String(paidIn), '--settle-seconds', '0'], {
        cwd: repoRoot,
        env: {
          ...process.env,
          DATABASE_URL: infraEnv().TEST_DATABASE_URL,
          RPC_URL: anvil.rpcUrl,
          CHAIN_ID: '31337',
          MERCHANT_ADDRESS: own.merchant,
          CONFIRMATIONS: '1',
          ...extra,
        },
      }).then(
        (out) => ({ code: 0, stdout: out.stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );
    try {
      expect(await cli({})).toMatchObject({ code: 1, stdout: expect.stringContaining(`quote ${quote.quoteId}`) });
      expect(await cli({ CONFIRMATION_POLICY: 'safe' })).toMatchObject({ code: 0, stdout: expect.stringContaining('the ledger matches the chain') });
      // CHAINS' entry for the chain decides over the single-chain settings, as in the watcher.
      const chains = JSON.stringify([{ id: 31337, name: 'anvil', rpcUrls: [anvil.rpcUrl], confirmationPolicy: 'finalized' }]);
      expect(await cli({ CHAINS: chains })).toMatchObject({ code: 0, stdout: expect.stringContaining('the ledger matches the chain') });

      // Once the node's finalized block passes the payment, it is counted.
      await anvil.test.mine({ blocks: 70 });
      expect((await at('finalized')).differences).toEqual(missing);
      expect(await cli({ CHAINS: chains })).toMatchObject({ code: 1 });
    } finally {
      await db('reconcile_checkpoints').where({ merchant: own.merchant }).delete();
    }
  });
});
