import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { createChainClient, type DepositSettings, depositAddressOf } from '@reelboard/chain';
import { applyCredit, connectDatabase, type Knex, migrateToLatest, recordQuote } from '@reelboard/db';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { depositCredit, quoteInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { reconcilePayments } from '../src/reconcile.js';

// Reconciliation per chain, with two chains' quotes in one ledger: each chain is judged on its own.
const BASE = Number(process.env.TEST_BASE_PORT ?? 19080);
const deposits: DepositSettings = { merchant: privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex, token: null };
const buyer = privateKeyToAccount(KEYS.buyer);
const chains = new Map<number, Anvil>();
let db: Knex;
const quoteIds: string[] = [];

beforeAll(async () => {
  const [one, two] = await Promise.all([startAnvil(BASE + 186, 31337), startAnvil(BASE + 187, 31338)]);
  chains.set(31337, one!).set(31338, two!);
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
});

afterAll(async () => {
  if (quoteIds.length) {
    await db('payments').whereIn('quote_id', quoteIds).delete();
    await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  }
  await db('reconcile_checkpoints').where({ merchant: deposits.merchant }).delete();
  await db?.destroy();
  await Promise.all([...chains.values()].map((anvil) => anvil.stop()));
});

async function issueQuote(chainId: number) {
  const base = quoteInput({ chainId });
  const quote = { ...base, depositAddress: depositAddressOf(deposits, base.quoteId) };
  await recordQuote(db, quote);
  quoteIds.push(quote.quoteId);
  return quote;
}

async function pay(chainId: number, to: Hex, value: bigint) {
  const anvil = chains.get(chainId)!;
  await anvil.client.waitForTransactionReceipt({ hash: await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to, value }) });
}

const reconcile = (chainId: number) =>
  reconcilePayments({
    db,
    chain: createChainClient({ rpcUrl: chains.get(chainId)!.rpcUrl, chainId, batchSize: 200 }),
    chainId,
    deposits,
    confirmations: 1,
    fromBlock: 0n,
    repair: false,
  });

describe('reconciliation per chain', () => {
  it('matches each chain against its own quotes, and finds money missing on one chain without blaming the other', async () => {
    const onFirst = await issueQuote(31337);
    const onSecond = await issueQuote(31338);
    const price = BigInt(onFirst.amount);
    for (const quote of [onFirst, onSecond]) {
      await pay(quote.chainId, quote.depositAddress as Hex, price);
      await applyCredit(db, depositCredit(quote, { totalReceived: price.toString(), status: 'paid' }));
    }
    // Money for the second chain's quote sent to its address on the first chain: not that quote's (another chain).
    await pay(31337, onSecond.depositAddress as Hex, 1_000n);

    for (const chainId of [31337, 31338]) {
      const clean = await reconcile(chainId);
      expect(clean.quotesChecked).toBe(1);
      expect(clean.differences).toEqual([]);
    }

    // More reaches the second chain's quote, unrecorded: only the second chain's reconciliation finds it.
    await pay(31338, onSecond.depositAddress as Hex, price / 2n);
    expect((await reconcile(31337)).differences).toEqual([]);
    expect((await reconcile(31338)).differences).toEqual([
      expect.objectContaining({ kind: 'deposit_missing', quoteId: onSecond.quoteId, chainTotal: price + price / 2n, ledgerTotal: price }),
    ]);
  });
});
