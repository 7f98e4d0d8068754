import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register } from 'prom-client';
import { applyCredit, connectDatabase, type Knex, migrateToLatest, recordQuote } from '@reelboard/db';
import { depositCredit, quoteInput, randomAddress } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { watchRefundsDue } from '../src/metrics.js';

// The money due back, on /metrics from the ledger itself (so the RefundsDue alert needs no SQL
// exporter). A token of the test's own keeps other tests' rows out of the series it reads.

const infra = infraEnv();
let db: Knex;
const token = randomAddress().toLowerCase() as `0x${string}`;
const quoteIds: string[] = [];

async function gauge(name: string): Promise<number | undefined> {
  const metric = register.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.find((v) => v.labels.token === token)?.value;
}

/** A quote of 10000 base units of the test's token, credited `received`. */
async function credited(received: string, status: 'paid' | 'overpaid') {
  const quote = quoteInput({ amount: '10000', token });
  await recordQuote(db, quote);
  quoteIds.push(quote.quoteId);
  await applyCredit(db, depositCredit(quote, { totalReceived: received, status }));
}

/** Past the gauges' shared one-second read. */
const nextScrape = () => new Promise((resolve) => setTimeout(resolve, 1_100));

beforeAll(async () => {
  db = connectDatabase(infra.TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
  watchRefundsDue(db);
});

afterAll(async () => {
  if (quoteIds.length) {
    await db('payments').whereIn('quote_id', quoteIds).delete();
    await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  }
  await db?.destroy();
});

describe('the refunds-due gauges', () => {
  it('count the ledger rows with money due back and sum what is due, by token', async () => {
    expect(await gauge('reelboard_refunds_due')).toBeUndefined();
    await credited('10000', 'paid');
    await nextScrape();
    // A payment that bought its listing owes nothing.
    expect(await gauge('reelboard_refunds_due')).toBeUndefined();
    await credited('15000', 'overpaid');
    await nextScrape();
    expect(await gauge('reelboard_refunds_due')).toBe(1);
    expect(await gauge('reelboard_refunds_due_value')).toBe(5000);
    await credited('12000', 'overpaid');
    await nextScrape();
    expect(await gauge('reelboard_refunds_due')).toBe(2);
    expect(await gauge('reelboard_refunds_due_value')).toBe(7000);
  });
});
