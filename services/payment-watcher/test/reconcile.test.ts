import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { createChainClient, type DepositSettings, depositAddressOf, sweepDeposits } from '@reelboard/chain';
import { applyCredit, connectDatabase, type Knex, migrateToLatest, recordQuote } from '@reelboard/db';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { depositCredit, quoteInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { reconcilePayments } from '../src/reconcile.js';

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
  await db?.destroy();
  await anvil?.stop();
});

/** A quote of our merchant, recorded as the gateway records it. */
async function issueQuote() {
  const base = quoteInput();
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
});
