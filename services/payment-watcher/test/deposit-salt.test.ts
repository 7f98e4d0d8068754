import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hex, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { createChainClient, type DepositSettings, depositAddressAt, keyedDepositSalt, quoteSettingsOf } from '@reelboard/chain';
import { applyCredit, connectDatabase, type Knex, migrateToLatest, quotesToWatch, recordQuote } from '@reelboard/db';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { depositCredit, quoteInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { DepositWatcher } from '../src/deposit-watcher.js';
import { reconcilePayments } from '../src/reconcile.js';
import { ScanLock } from '../src/scan-lock.js';
import { AutoSweeper } from '../src/sweep.js';
import { WatchList } from '../src/watch-list.js';
import { testBus } from './support/harness.js';

// A quote's deposit address is salted under the gateway's DEPOSIT_SALT_KEY and the salt is stored
// with the quote: the watcher, the sweeper and reconciliation never derive it again, so a quote
// issued under an earlier key is still watched, swept and reconciled after the key changed.
const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 212;
const OLD_KEY = 'the key the gateway ran with when the quote was issued';
const deposits: DepositSettings = { merchant: privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex, token: null };
const buyer = privateKeyToAccount(KEYS.buyer);
const env = testBus('pw-deposit-salt');

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
  await db?.destroy();
  await env.bus.close(1_000);
  await env.redis.quit();
  await anvil?.stop();
});

/** A quote as the gateway issued it under OLD_KEY: its address from the keyed salt, the salt recorded with it. */
async function issueUnderOldKey() {
  const quoteId = randomUUID();
  const salt = keyedDepositSalt(OLD_KEY, quoteId);
  const quote = quoteInput({
    quoteId,
    uploadId: quoteId,
    depositAddress: depositAddressAt(deposits, salt),
    settings: quoteSettingsOf(deposits),
    depositSalt: salt,
  });
  await recordQuote(db, quote);
  quoteIds.push(quoteId);
  return { ...quote, salt };
}

describe('the stored deposit salt', () => {
  it('a keyed salt is not the public id, and differs by key', () => {
    const id = randomUUID();
    expect(keyedDepositSalt(OLD_KEY, id)).toMatch(/^0x[0-9a-f]{64}$/);
    expect(keyedDepositSalt(OLD_KEY, id)).toBe(keyedDepositSalt(OLD_KEY, id.toUpperCase()));
    expect(keyedDepositSalt(OLD_KEY, id)).not.toBe(keyedDepositSalt(`${OLD_KEY}, rotated`, id));
    expect(keyedDepositSalt(OLD_KEY, id).slice(-32)).not.toBe(id.replace(/-/g, ''));
  });

  it('after a change of key, the quote is restored from the ledger with its salt, swept by it, and reconciled', async () => {
    const quote = await issueUnderOldKey();
    const price = parseEther('0.01');
    const hash = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: quote.depositAddress as Hex, value: price });
    await anvil.client.waitForTransactionReceipt({ hash });
    await applyCredit(db, depositCredit(quote, { address: quote.depositAddress as Hex, totalReceived: price.toString(), status: 'paid' }));

    // Redis lost the watch set: it is rebuilt from the ledger, salt included.
    const chain = createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 50 });
    const watchList = new WatchList(env.redis, env.prefix);
    const watcher = new DepositWatcher({
      bus: env.bus,
      uploads: undefined as never,
      watchList,
      chain,
      lock: new ScanLock(env.redis, `${env.prefix}:payment:scan-lock`, 5_000),
      log: env.log,
      chainId: 31337,
      deposits,
      confirmations: 1,
      startBehind: 0,
      maxBlocksPerPass: 100,
      ledger: {
        quotesToWatch: async (expiredAfter) => (await quotesToWatch(db, { chainId: 31337, expiredAfter })).filter((q) => q.quoteId === quote.quoteId),
        lateWatchMs: 3_600_000,
      },
    });
    expect(await watcher.restoreWatchSet()).toBe(1);
    expect((await watchList.quote(quote.quoteId))?.salt).toBe(quote.salt);

    // The sweeper reaches the address by the stored salt (derived from the id, it would sweep an empty one).
    const sweeper = new AutoSweeper({
      chain,
      rpcUrls: [anvil.rpcUrl],
      chainId: 31337,
      privateKey: KEYS.deployer,
      deposits,
      watchList,
      minimums: { native: 1n, token: 1n },
      redis: env.redis,
      prefix: env.prefix,
      intervalMs: 60_000,
      log: env.log,
    });
    expect(await sweeper.sweepOnce()).toBe(1);
    await sweeper.stop();
    expect(await anvil.client.getBalance({ address: quote.depositAddress as Hex })).toBe(0n);
    expect(await anvil.client.getBalance({ address: deposits.merchant })).toBe(price);

    // Reconciliation judges the quote under its stored salt: checked, and it matches (balance 0 plus swept).
    const result = await reconcilePayments({ db, chain, chainId: 31337, deposits, confirmations: 1, fromBlock: 0n, repair: false });
    expect(result.quotesChecked).toBe(1);
    expect(result.differences).toEqual([]);
  });
});
