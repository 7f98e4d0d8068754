import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyCredit,
  connectDatabase,
  findPayment,
  InvalidPaymentCursorError,
  type Knex,
  ledgerTotals,
  listPayments,
  markRefunded,
  migrateToLatest,
  PaymentNotFoundError,
  paymentHistory,
  type QuoteRecord,
  RefundConflictError,
  recordQuote,
  recordUnfulfilled,
  saveListing,
} from '@reelboard/db';
import { depositCredit, listingInput, quoteInput, randomAddress, randomTxHash, transfer } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';

let db: Knex;
const quoteIds: string[] = [];
const listingIds: string[] = [];
const wallets: string[] = [];
const unmatchedHashes: string[] = [];
// Chain ids of their own, so ledgerTotals sees only this file's quotes.
const CHAIN = 900_000 + Math.floor(Math.random() * 90_000);

const PRICE = 10_000n;

async function quote(overrides: Partial<QuoteRecord> = {}): Promise<QuoteRecord> {
  const q = quoteInput({ amount: PRICE.toString(), chainId: CHAIN, ...overrides });
  await recordQuote(db, q);
  quoteIds.push(q.quoteId);
  return q;
}

const rowsOf = (q: QuoteRecord) => db('payments').where({ quote_id: q.quoteId }).orderBy('id');
const quoteRow = (q: QuoteRecord) => db('payment_quotes').where({ quote_id: q.quoteId }).first();

async function saveFor(q: QuoteRecord) {
  const input = listingInput({ id: q.uploadId });
  await saveListing(db, input);
  listingIds.push(input.listingId);
  wallets.push(input.owner.walletAddress.toLowerCase());
  return input;
}

beforeAll(async () => {
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 4 });
  await migrateToLatest(db);
});

afterAll(async () => {
  if (quoteIds.length) await db('payments').whereIn('quote_id', quoteIds).delete();
  if (unmatchedHashes.length) await db('payments').whereIn('tx_hash', unmatchedHashes).delete();
  if (quoteIds.length) await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  if (listingIds.length) await db('listings').whereIn('id', listingIds).delete();
  if (wallets.length) await db('users').whereIn('wallet_address', wallets).delete();
  await db?.destroy();
});

describe('recording quotes', () => {
  it('is idempotent by quote id, and refuses a second quote on the same address and token', async () => {
    const q = await quote();
    expect(await recordQuote(db, q)).toEqual({ created: false });
    await expect(recordQuote(db, { ...q, quoteId: randomUUID() })).rejects.toThrow(/payment_quotes_address_unique/);
    // The same address for another token is another account.
    const token = randomAddress();
    const other = { ...q, quoteId: randomUUID(), token };
    expect(await recordQuote(db, other)).toEqual({ created: true });
    quoteIds.push(other.quoteId);
  });
});

describe('deposit credits', () => {
  it('adds partial payments up; the covering one turns the earlier partial rows paid', async () => {
    const q = await quote();
    const first = transfer('4000');
    const one = await applyCredit(db, depositCredit(q, { totalReceived: '4000', status: 'partial', transfers: [first] }));
    expect(one).toMatchObject({ recorded: 1, amount: '4000', refundDue: '0', quoteState: 'open' });
    // The second arrives by an internal call: no transfer the chain shows.
    const two = await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'paid', fromBlock: '11', toBlock: '12' }));
    expect(two).toMatchObject({ recorded: 1, amount: '6000', refundDue: '0', quoteState: 'paid' });
    const rows = await rowsOf(q);
    expect(rows.map((row) => [row.amount, row.status, row.credit_status, row.total_after, row.tx_hash, row.refund_due])).toEqual([
      ['4000', 'paid', 'partial', '4000', first.txHash, '0'],
      ['6000', 'paid', 'paid', '10000', null, '0'],
    ]);
    expect(rows[0]).toMatchObject({ from_address: first.from, log_index: -1, deposit_address: q.depositAddress, from_block: '10', to_block: '10' });
    expect(rows[1]).toMatchObject({ from_address: null, log_index: null, from_block: '11', to_block: '12', upload_id: q.uploadId });
    expect(await quoteRow(q)).toMatchObject({ state: 'paid', credited_total: '10000', credited_block: '12' });
  });

  it('records a duplicate or an older observation no more', async () => {
    const q = await quote();
    const paid = depositCredit(q, { totalReceived: '10000', status: 'paid', transfers: [transfer('10000')] });
    await applyCredit(db, paid);
    expect(await applyCredit(db, paid)).toMatchObject({ recorded: 0 });
    expect(await applyCredit(db, depositCredit(q, { totalReceived: '3000', status: 'partial', toBlock: '9', fromBlock: '9' }))).toMatchObject({ recorded: 0 });
    // Applied at once (two replicas, a retried pass): one row.
    const q2 = await quote();
    const observation = depositCredit(q2, { totalReceived: '10000', status: 'paid' });
    await Promise.all([applyCredit(db, observation), applyCredit(db, observation), applyCredit(db, observation)]);
    expect(await rowsOf(q)).toHaveLength(1);
    expect(await rowsOf(q2)).toHaveLength(1);
  });

  it('splits an increment into one row per transfer when they make it up, each with its own running total', async () => {
    const q = await quote({ token: randomAddress() });
    const a = transfer('2500', 3);
    const b = transfer('7500', 7);
    await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'paid', transfers: [a, b] }));
    const rows = await rowsOf(q);
    expect(rows.map((row) => [row.tx_hash, row.log_index, row.amount, row.total_after, row.token_address])).toEqual([
      [a.txHash, 3, '2500', '2500', q.token],
      [b.txHash, 7, '7500', '10000', q.token],
    ]);
  });

  it('records one row for an increment the listed transfers do not make up, and never a transfer twice', async () => {
    const q = await quote();
    const seen = transfer('3000');
    await applyCredit(db, depositCredit(q, { totalReceived: '3000', status: 'partial', transfers: [seen] }));
    // The next range overlaps the first (the watcher caught up): the known transfer is not this increment.
    const next = transfer('4000');
    await applyCredit(db, depositCredit(q, { totalReceived: '7000', status: 'partial', transfers: [seen, next] }));
    // Two listed transfers that do not make the increment: one row, no hash.
    await applyCredit(db, depositCredit(q, { totalReceived: '9000', status: 'partial', transfers: [transfer('500'), transfer('600')] }));
    const rows = await rowsOf(q);
    expect(rows.map((row) => [row.tx_hash, row.amount, row.total_after])).toEqual([
      [seen.txHash, '3000', '3000'],
      [next.txHash, '4000', '7000'],
      [null, '2000', '9000'],
    ]);
  });

  it('names a sender only where one transfer is the whole increment (1 wei beside an internal payment names nobody)', async () => {
    const q = await quote();
    // A Safe pays 10000 by an internal call (no transfer the chain shows) and an attacker sends 1 wei beside it.
    const dust = transfer('1');
    await applyCredit(db, depositCredit(q, { totalReceived: '10001', status: 'overpaid', transfers: [dust] }));
    expect(await rowsOf(q)).toMatchObject([{ amount: '10001', from_address: null, tx_hash: null, log_index: null, refund_due: '1' }]);
    // One transfer that is the whole increment names its sender.
    const whole = transfer('500');
    await applyCredit(db, depositCredit(q, { totalReceived: '10501', status: 'overpaid', transfers: [whole] }));
    expect((await rowsOf(q)).at(-1)).toMatchObject({ amount: '500', from_address: whole.from, tx_hash: whole.txHash });
  });

  it('keeps the excess of an overpayment due back, and a second payment after paid wholly due', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: '4000', status: 'partial' }));
    const over = await applyCredit(db, depositCredit(q, { totalReceived: '12500', status: 'overpaid', transfers: [transfer('8500')] }));
    expect(over).toMatchObject({ amount: '8500', refundDue: '2500', quoteState: 'paid' });
    const again = await applyCredit(db, depositCredit(q, { totalReceived: '14000', status: 'overpaid' }));
    expect(again).toMatchObject({ amount: '1500', refundDue: '1500' });
    const rows = await rowsOf(q);
    expect(rows.map((row) => [row.status, row.amount, row.refund_due])).toEqual([
      ['paid', '4000', '0'],
      ['overpaid', '8500', '2500'],
      ['overpaid', '1500', '1500'],
    ]);
  });

  it('records what arrives after expiry late, due back in full', async () => {
    const q = await quote();
    const late = await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'late', transfers: [transfer('10000')] }));
    expect(late).toMatchObject({ recorded: 1, refundDue: '10000' });
    expect(await rowsOf(q)).toMatchObject([{ status: 'late', refund_due: '10000', listing_id: null }]);
  });

  it('builds the quote from the credit when the gateway had not recorded it', async () => {
    const q = quoteInput({ amount: PRICE.toString(), chainId: CHAIN });
    quoteIds.push(q.quoteId);
    const blockTime = '2026-01-02T03:04:05.000Z';
    await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'paid', blockTime }));
    expect(await quoteRow(q)).toMatchObject({
      upload_id: q.uploadId,
      owner: q.owner.toLowerCase(),
      deposit_address: q.depositAddress,
      amount: '10000',
      state: 'paid',
      credited_total: '10000',
    });
    expect((await quoteRow(q)).expires_at.toISOString()).toBe(blockTime);
  });
});

describe('unmatched transfers and closed quotes', () => {
  it('records a transfer to the plain merchant address unmatched, due back, once', async () => {
    const t = transfer('777', 2);
    unmatchedHashes.push(t.txHash);
    const observation = {
      kind: 'merchant' as const,
      chainId: CHAIN,
      address: randomAddress(),
      token: randomAddress(),
      transfer: t,
      blockNumber: '42',
      blockTime: new Date().toISOString(),
    };
    expect(await applyCredit(db, observation)).toMatchObject({ recorded: 1, refundDue: '777', quoteState: null });
    expect(await applyCredit(db, observation)).toMatchObject({ recorded: 0 });
    const rows = await db('payments').where({ tx_hash: t.txHash });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      status: 'unmatched',
      quote_id: null,
      upload_id: null,
      refund_due: '777',
      log_index: 2,
      from_address: t.from,
      block_number: '42',
    });
  });

  it('makes the partial rows of a quote that expired uncovered due back; a covered quote stays paid', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: '3000', status: 'partial' }));
    await applyCredit(db, depositCredit(q, { totalReceived: '5000', status: 'partial' }));
    const closed = { kind: 'closed' as const, uploadId: q.uploadId, chainId: CHAIN, address: q.depositAddress as `0x${string}`, outcome: 'expired' as const };
    expect(await applyCredit(db, closed)).toMatchObject({ recorded: 2, refundDue: '5000', quoteState: 'expired' });
    expect(await applyCredit(db, closed)).toMatchObject({ recorded: 0, refundDue: '0' });
    expect((await rowsOf(q)).map((row) => [row.status, row.refund_due])).toEqual([
      ['partial', '3000'],
      ['partial', '2000'],
    ]);
    expect(await quoteRow(q)).toMatchObject({ state: 'expired' });
    // A partial credit seen after the close (an older block, processed late) is due at once.
    await applyCredit(db, depositCredit(q, { totalReceived: '6000', status: 'partial' }));
    expect((await rowsOf(q)).at(-1)).toMatchObject({ status: 'partial', refund_due: '1000' });

    const paid = await quote();
    await applyCredit(db, depositCredit(paid, { totalReceived: '10000', status: 'paid' }));
    await applyCredit(db, { ...closed, uploadId: paid.uploadId, address: paid.depositAddress as `0x${string}` });
    expect(await quoteRow(paid)).toMatchObject({ state: 'paid' });
    expect(await rowsOf(paid)).toMatchObject([{ status: 'paid', refund_due: '0' }]);
  });
});

describe('linking to the listing', () => {
  it('ties the paid rows of the quote to its listing when it is saved, and never re-links a row', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: '4000', status: 'partial' }));
    await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'paid' }));
    const input = await saveFor(q);
    expect((await rowsOf(q)).map((row) => row.listing_id)).toEqual([input.listingId, input.listingId]);
    expect(await quoteRow(q)).toMatchObject({ listing_id: input.listingId });
    // A second save (retried job) leaves them; an overpayment after the save is the listing's too, due back.
    await saveListing(db, input);
    await applyCredit(db, depositCredit(q, { totalReceived: '11000', status: 'overpaid' }));
    expect((await rowsOf(q)).map((row) => [row.listing_id, row.refund_due])).toEqual([
      [input.listingId, '0'],
      [input.listingId, '0'],
      [input.listingId, '1000'],
    ]);

    // Another upload pointing at the same rows (a forged or mistaken link) cannot take them.
    const other = listingInput();
    await saveListing(db, other);
    listingIds.push(other.listingId);
    wallets.push(other.owner.walletAddress.toLowerCase());
    await db('payments').where({ quote_id: q.quoteId }).update({ upload_id: other.listingId });
    await saveListing(db, other);
    expect((await rowsOf(q)).map((row) => row.listing_id)).toEqual([input.listingId, input.listingId, input.listingId]);
    await db('payments').where({ quote_id: q.quoteId }).update({ upload_id: q.uploadId });
  });

  it('ties a credit that reaches the ledger after the listing was saved (its job retried late); a late one stays apart', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: '4000', status: 'partial' }));
    const input = await saveFor(q);
    expect(await rowsOf(q)).toMatchObject([{ listing_id: null, status: 'partial' }]);
    await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'paid' }));
    await applyCredit(db, depositCredit(q, { totalReceived: '10500', status: 'late' }));
    expect((await rowsOf(q)).map((row) => [row.status, row.listing_id])).toEqual([
      ['paid', input.listingId],
      ['paid', input.listingId],
      ['late', null],
    ]);
  });

  it('records a paid upload that failed unfulfilled, and turns it back to paid when a retry saves it', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: '4000', status: 'partial' }));
    await applyCredit(db, depositCredit(q, { totalReceived: '12000', status: 'overpaid' }));
    expect(await recordUnfulfilled(db, q.uploadId, { stage: 'transcoder', reason: 'invalid_video' })).toBe(2);
    expect((await rowsOf(q)).map((row) => [row.status, row.refund_due, row.failed_stage, row.failure_reason])).toEqual([
      ['unfulfilled', '4000', 'transcoder', 'invalid_video'],
      ['unfulfilled', '8000', 'transcoder', 'invalid_video'],
    ]);
    // The operator retried: the listing is saved after all.
    const input = await saveFor(q);
    expect((await rowsOf(q)).map((row) => [row.status, row.refund_due, row.failed_stage, row.listing_id])).toEqual([
      ['paid', '0', null, input.listingId],
      ['overpaid', '2000', null, input.listingId],
    ]);
    // A saved upload's rows are never made unfulfilled.
    expect(await recordUnfulfilled(db, q.uploadId, { stage: 'uploader', reason: 'late failure' })).toBe(0);
  });

  it('closes a part-paid quote whose upload failed: its part payments are due back, and so is what arrives later', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: '3000', status: 'partial' }));
    expect(await recordUnfulfilled(db, q.uploadId, { stage: 'transcoder', reason: 'not a video' })).toBe(1);
    expect(await rowsOf(q)).toMatchObject([
      { status: 'unfulfilled', credit_status: 'partial', refund_due: '3000', failed_stage: 'transcoder', failure_reason: 'not a video' },
    ]);
    expect(await quoteRow(q)).toMatchObject({ state: 'expired', failed_stage: 'transcoder' });
    // More of the price after the failure can no longer cover anything: due back at once.
    const more = await applyCredit(db, depositCredit(q, { totalReceived: '5000', status: 'partial' }));
    expect(more).toMatchObject({ recorded: 1, refundDue: '2000' });
    expect((await rowsOf(q)).at(-1)).toMatchObject({ status: 'unfulfilled', credit_status: 'partial', refund_due: '2000' });
  });

  it('records a credit that reaches the ledger after its upload failed unfulfilled at once', async () => {
    const q = await quote();
    expect(await recordUnfulfilled(db, q.uploadId, { stage: 'payment-watcher', reason: 'stalled' })).toBe(0);
    await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'paid' }));
    expect(await rowsOf(q)).toMatchObject([
      { status: 'unfulfilled', credit_status: 'paid', refund_due: '10000', failed_stage: 'payment-watcher', failure_reason: 'stalled' },
    ]);
  });
});

describe('refunds', () => {
  it('marks a row with something due refunded, audited; the same refund again answers the same; another tx is a conflict', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'late' }));
    const [row] = await rowsOf(q);
    const id = Number(row.id);
    const tx = randomTxHash();
    const first = await markRefunded(db, { paymentId: id, txHash: tx.toUpperCase().replace('0X', '0x'), actor: '0xadmin', note: 'sent back' });
    expect(first).toMatchObject({
      refunded: '10000',
      repeated: false,
      payment: { status: 'refunded', refundDue: '0', refundedAmount: '10000', refundTxHash: tx, refundedBy: '0xadmin', creditStatus: 'late' },
    });
    expect(first.payment.refundedAt).not.toBeNull();
    const again = await markRefunded(db, { paymentId: id, txHash: tx, actor: '0xadmin' });
    expect(again).toMatchObject({ refunded: '10000', repeated: true, payment: { refundTxHash: tx, refundedAt: first.payment.refundedAt } });
    const conflict = await markRefunded(db, { paymentId: id, txHash: randomTxHash(), actor: '0xadmin' }).catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(RefundConflictError);
    expect(conflict).toMatchObject({ code: 'already_refunded', refundTxHash: tx });
    expect(await paymentHistory(db, id)).toEqual([
      { actor: '0xadmin', action: 'refund', txHash: tx, amount: '10000', note: 'sent back', at: expect.any(String) },
    ]);
  });

  it('refuses a row with nothing due, and an unknown row', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'paid' }));
    const [row] = await rowsOf(q);
    await expect(markRefunded(db, { paymentId: Number(row.id), txHash: randomTxHash(), actor: 'x' })).rejects.toMatchObject({
      name: 'RefundConflictError',
      code: 'not_refundable',
    });
    await expect(markRefunded(db, { paymentId: 9_000_000_000_000, txHash: randomTxHash(), actor: 'x' })).rejects.toBeInstanceOf(PaymentNotFoundError);
    expect(await paymentHistory(db, Number(row.id))).toEqual([]);
  });

  it('refunds only the excess of an overpaid row, which still pays the listing', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: '12000', status: 'overpaid' }));
    const [row] = await rowsOf(q);
    const refund = await markRefunded(db, { paymentId: Number(row.id), txHash: randomTxHash(), actor: 'ops' });
    expect(refund).toMatchObject({ refunded: '2000', payment: { status: 'refunded', refundedAmount: '2000' } });
    const input = await saveFor(q);
    expect(await findPayment(db, Number(row.id))).toMatchObject({ listingId: input.listingId, status: 'refunded' });
  });
});

describe('listing the ledger', () => {
  it('pages newest first, filtered by status or by refund due, with the quote', async () => {
    const q = await quote();
    await applyCredit(db, depositCredit(q, { totalReceived: '1000', status: 'late' }));
    await applyCredit(db, depositCredit(q, { totalReceived: '2000', status: 'late' }));
    await applyCredit(db, depositCredit(q, { totalReceived: '3000', status: 'late' }));
    const first = await listPayments(db, { status: 'refund_due', limit: 2 });
    expect(first.items.map((item) => item.amount)).toEqual(['1000', '1000']);
    expect(first.items[0]).toMatchObject({
      quoteId: q.quoteId,
      owner: q.owner.toLowerCase(),
      status: 'late',
      refundDue: '1000',
      quote: { amount: '10000', creditedTotal: '3000' },
    });
    expect(first.items[0]!.id).toBeGreaterThan(first.items[1]!.id);
    expect(first.nextCursor).not.toBeNull();
    const second = await listPayments(db, { status: 'refund_due', limit: 2, cursor: first.nextCursor ?? undefined });
    expect(second.items[0]!.id).toBeLessThan(first.items[1]!.id);
    const late = await listPayments(db, { status: 'late', limit: 100 });
    expect(late.items.every((item) => item.status === 'late')).toBe(true);
    await expect(listPayments(db, { limit: 2, cursor: 'bm9wZQ' })).rejects.toBeInstanceOf(InvalidPaymentCursorError);
  });
});

describe('ledger totals for reconciliation', () => {
  it('gives every issued quote address with what was credited, and the unmatched transfers', async () => {
    const chainId = CHAIN + 1;
    const open = await quote({ chainId, createdAt: '2026-01-01T00:00:00.000Z' });
    const paid = await quote({ chainId, createdAt: '2026-01-01T00:00:01.000Z' });
    await applyCredit(db, depositCredit(paid, { totalReceived: '10000', status: 'paid', toBlock: '77', fromBlock: '70' }));
    const t = transfer('55');
    unmatchedHashes.push(t.txHash);
    await applyCredit(db, {
      kind: 'merchant',
      chainId,
      address: randomAddress(),
      token: null,
      transfer: t,
      blockNumber: '5',
      blockTime: new Date().toISOString(),
    });
    const totals = await ledgerTotals(db, chainId);
    expect(totals.quotes.map((item) => [item.quoteId, item.depositAddress, item.creditedTotal, item.rowsTotal, item.creditedBlock, item.state])).toEqual([
      [open.quoteId, open.depositAddress, '0', '0', null, 'open'],
      [paid.quoteId, paid.depositAddress, '10000', '10000', '77', 'paid'],
    ]);
    expect(totals.unmatched).toEqual([{ txHash: t.txHash, logIndex: null, token: null, amount: '55', blockNumber: '5' }]);
  });
});

describe('payment tolerance', () => {
  it('a quote judged paid by a total short of its amount (within the tolerance) keeps what it lacked; one paid in full keeps none', async () => {
    const short = await quote();
    // 0.3 % short: the watcher judged it paid (PAYMENT_TOLERANCE_BPS); the ledger records it paid, nothing due back.
    await applyCredit(db, depositCredit(short, { totalReceived: '9970', status: 'paid' }));
    expect(await quoteRow(short)).toMatchObject({ state: 'paid', shortfall: '30' });
    expect(await rowsOf(short)).toMatchObject([{ status: 'paid', amount: '9970', refund_due: '0' }]);
    const full = await quote();
    await applyCredit(db, depositCredit(full, { totalReceived: '10000', status: 'paid' }));
    expect(await quoteRow(full)).toMatchObject({ state: 'paid', shortfall: null });
  });

  it('a quote keeps the fiat price it was asked in and the rate its amount was computed at', async () => {
    const priced = await quote({
      price: { amount: '5.00', currency: 'USD' },
      rate: { feed: randomAddress(), answer: '200000000000', decimals: 8, updatedAt: new Date(1_700_000_000_000).toISOString() },
    });
    expect(await quoteRow(priced)).toMatchObject({ price_amount: '5.00', price_currency: 'USD', rate_answer: '200000000000', rate_decimals: 8 });
  });
});
