import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentCredited } from '@reelboard/contracts';
import {
  applyCredit,
  connectDatabase,
  findListing,
  type Knex,
  ledgerTotals,
  migrateToLatest,
  moderateListing,
  type QuoteRecord,
  recordQuote,
  saveListing,
} from '@reelboard/db';
import { depositCredit, listingInput, quoteInput, randomAddress, transfer } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';

let db: Knex;
const quoteIds: string[] = [];
const listingIds: string[] = [];
// A chain id of its own, so ledgerTotals sees only this file's quotes.
const CHAIN = 800_000 + Math.floor(Math.random() * 90_000);
const PRICE = 10_000n;

type Reversal = Extract<PaymentCredited, { kind: 'reversed' }>;
const reversal = (q: QuoteRecord, totalReceived: bigint, creditedBefore: bigint, epoch = 1): Reversal => ({
  kind: 'reversed',
  uploadId: q.uploadId,
  owner: q.owner.toLowerCase() as `0x${string}`,
  chainId: q.chainId,
  address: q.depositAddress.toLowerCase() as `0x${string}`,
  token: null,
  totalReceived: totalReceived.toString(),
  creditedBefore: creditedBefore.toString(),
  fromBlock: '21',
  toBlock: '24',
  epoch,
});

async function quote(): Promise<QuoteRecord> {
  const q = quoteInput({ amount: PRICE.toString(), chainId: CHAIN });
  await recordQuote(db, q);
  quoteIds.push(q.quoteId);
  return q;
}

/** The listing of a quote, saved and approved: public. */
async function publicListing(q: QuoteRecord): Promise<void> {
  const input = listingInput({ id: q.uploadId });
  await saveListing(db, input);
  listingIds.push(input.listingId);
  await moderateListing(db, { listingId: input.listingId, actor: 'test', action: 'approve', listingDays: 30 });
}

const rowsOf = (q: QuoteRecord) =>
  db('payments')
    .where({ quote_id: q.quoteId })
    .orderBy('id')
    .select('status', 'amount', 'refund_due', 'tx_hash', 'reversed_from_block', 'reversed_to_block', 'total_after');
const totalsOf = async (q: QuoteRecord) => (await ledgerTotals(db, CHAIN)).quotes.find((t) => t.quoteId === q.quoteId);

beforeAll(async () => {
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 4 });
  await migrateToLatest(db);
});

afterAll(async () => {
  if (quoteIds.length) {
    await db('payments').whereIn('quote_id', quoteIds).delete();
    await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  }
  if (listingIds.length) await db('listings').whereIn('id', listingIds).delete();
  await db('payments').where({ chain_id: CHAIN }).delete();
  await db?.destroy();
});

describe('a credit a reorg took back', () => {
  it('is reversed with the reorg blocks, its listing held from the public (not deleted), nothing due back; the money credited again makes it paid and public', async () => {
    const q = await quote();
    const paid = transfer(PRICE.toString());
    await applyCredit(db, depositCredit(q, { totalReceived: PRICE.toString(), status: 'paid', transfers: [paid] }));
    await publicListing(q);
    expect(await findListing(db, q.uploadId)).toBeDefined();

    const outcome = await applyCredit(db, reversal(q, 0n, PRICE));
    expect(outcome).toMatchObject({ recorded: 1, amount: PRICE.toString(), refundDue: '0', reversal: { listingId: q.uploadId, held: true } });
    expect(await rowsOf(q)).toEqual([
      expect.objectContaining({ status: 'reversed', refund_due: '0', tx_hash: paid.txHash, reversed_from_block: '21', reversed_to_block: '24' }),
    ]);
    expect(await findListing(db, q.uploadId)).toBeUndefined();
    expect(await findListing(db, q.uploadId, { anyStatus: true })).toBeDefined();
    expect(await db('listings').where({ id: q.uploadId }).first('payment_held_reason')).toEqual({
      payment_held_reason: expect.stringContaining('blocks 21..24'),
    });
    // What reconciliation compares: the ledger now credits what the chain shows, and its rows agree.
    expect(await totalsOf(q)).toMatchObject({ creditedTotal: '0', rowsTotal: '0' });
    // The same reversal again (a retried job) changes nothing.
    expect((await applyCredit(db, reversal(q, 0n, PRICE))).recorded).toBe(0);

    // The transaction mined again: the watcher credits the same total after the reversal.
    const again = await applyCredit(db, depositCredit(q, { totalReceived: PRICE.toString(), status: 'paid', transfers: [paid], toBlock: '26', epoch: 1 }));
    expect(again.recorded).toBe(1);
    expect((await rowsOf(q)).map((row) => row.status)).toEqual(['reversed', 'paid']);
    expect(await findListing(db, q.uploadId)).toBeDefined();
    expect(await totalsOf(q)).toMatchObject({ creditedTotal: PRICE.toString(), rowsTotal: PRICE.toString() });
  });

  it('takes back only what the chain no longer shows: a row partly above is split, what stays is partial and due back, never less than zero', async () => {
    const q = await quote();
    const first = transfer('6000');
    await applyCredit(db, depositCredit(q, { totalReceived: '6000', status: 'partial', transfers: [first] }));
    await applyCredit(db, depositCredit(q, { totalReceived: '12000', status: 'overpaid', transfers: [] }));
    // The overpaid row is already refunded its excess: reversing it must not make anything negative.
    await db('payments').where({ quote_id: q.quoteId, total_after: '12000' }).update({ status: 'refunded', refund_due: 0, refunded_amount: 2000 });

    await applyCredit(db, reversal(q, 4000n, 12000n));
    const rows = await rowsOf(q);
    expect(rows).toEqual([
      expect.objectContaining({ status: 'partial', amount: '4000', total_after: '4000', tx_hash: first.txHash, refund_due: '4000' }),
      expect.objectContaining({ status: 'reversed', amount: '6000', total_after: '12000', refund_due: '0' }),
      expect.objectContaining({ status: 'reversed', amount: '2000', total_after: '6000', tx_hash: null, refund_due: '0' }),
    ]);
    expect(await totalsOf(q)).toMatchObject({ creditedTotal: '4000', rowsTotal: '4000' });
  });

  it('a listing saved after its payment was reversed is saved held', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: PRICE.toString(), status: 'paid', transfers: [transfer(PRICE.toString())] }));
    await applyCredit(db, reversal(q, 0n, PRICE));
    await publicListing(q);
    expect(await findListing(db, q.uploadId)).toBeUndefined();
    expect(await db('listings').where({ id: q.uploadId }).first('payment_held_reason')).toEqual({
      payment_held_reason: expect.stringContaining('before the listing was saved'),
    });
  });
});

describe('a transfer to the merchant a reorg took back', () => {
  it('is reversed with nothing due, left out of what reconciliation holds; mined again, it is due back again', async () => {
    const merchant = randomAddress();
    const sent = transfer('777');
    const unmatched = {
      kind: 'merchant' as const,
      chainId: CHAIN,
      address: merchant,
      token: null,
      transfer: sent,
      blockNumber: '30',
      blockTime: new Date().toISOString(),
    };
    await applyCredit(db, unmatched);
    const reversedBy = {
      kind: 'merchant_reversed' as const,
      chainId: CHAIN,
      address: merchant,
      token: null,
      transfer: sent,
      blockNumber: '30',
      fromBlock: '29',
      toBlock: '33',
      epoch: 1,
    };
    expect(await applyCredit(db, reversedBy)).toMatchObject({ recorded: 1, refundDue: '0', reversal: { amount: '777', held: false } });
    const row = () => db('payments').where({ chain_id: CHAIN, tx_hash: sent.txHash }).first('status', 'refund_due', 'reversed_from_block', 'block_number');
    expect(await row()).toEqual({ status: 'reversed', refund_due: '0', reversed_from_block: '29', block_number: '30' });
    expect((await applyCredit(db, reversedBy)).recorded).toBe(0);
    expect((await ledgerTotals(db, CHAIN)).unmatched.filter((u) => u.txHash === sent.txHash)).toEqual([]);

    expect((await applyCredit(db, { ...unmatched, blockNumber: '35', epoch: 1 })).recorded).toBe(1);
    expect(await row()).toEqual({ status: 'unmatched', refund_due: '777', reversed_from_block: null, block_number: '35' });
    // The same observation again records nothing.
    expect((await applyCredit(db, { ...unmatched, blockNumber: '35', epoch: 1 })).recorded).toBe(0);
  });
});
