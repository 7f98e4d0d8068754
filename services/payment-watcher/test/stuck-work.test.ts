import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register } from 'prom-client';
import { connectRedis, type StageContext } from '@reelboard/bus';
import { type Payment, parsePayload, type RenewalQuoted, type UploadFailed, type UploadReceived } from '@reelboard/contracts';
import { applyCredit, connectDatabase, type Knex, migrateToLatest, type QuoteRecord, recordQuote, saveListing } from '@reelboard/db';
import { createBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { depositCredit, listingInput, quoteInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { handleUploadFailed } from '../../profile-writer/src/handle-upload-failed.js';
import { STUCK_WORK_STAGE, type StuckWorkDeadlines, StuckWorkSweeper, sweepStuckWork } from '../src/stuck-work.js';

const infra = infraEnv();
const log = createLogger('stuck-work-test', 'error');
const context: StageContext = { log, attempt: 1, emit: async () => undefined, status: async () => undefined };
const redis = connectRedis(infra.REDIS_URL ?? '', 'stuck-work-test');
const prefix = `stuck-work-${Date.now().toString(36)}`;
const bus = createBus(redis, prefix, 'payment-watcher', log);
const uploads = new Uploads(redis, prefix, bus.status);
const deadlines: StuckWorkDeadlines = { paidMs: 60_000, processingMs: 120_000, renewalMs: 30_000 };
let db: Knex;
const quoteIds: string[] = [];
const listingIds: string[] = [];
const wallets: string[] = [];

/** The ledger side of `upload.failed` (profile-writer), fed what the sweep published: the channel's contract checked. */
const failures: UploadFailed[] = [];
const publishFailed = async (failure: UploadFailed) => {
  failures.push(parsePayload('upload.failed', failure));
};
const toLedger = async (uploadId: string) => {
  const failure = failures.find((f) => f.uploadId === uploadId);
  if (!failure) throw new Error(`no upload.failed for ${uploadId}`);
  await handleUploadFailed(db, failure, context);
};

async function ledgerQuote(overrides: Partial<QuoteRecord> = {}): Promise<QuoteRecord> {
  const q = quoteInput({ amount: '10000', ...overrides });
  await recordQuote(db, q);
  quoteIds.push(q.quoteId);
  return q;
}

const quoteOf = (q: QuoteRecord) => ({
  chainId: q.chainId,
  to: q.depositAddress,
  amount: q.amount,
  token: q.token,
  createdAt: q.createdAt,
  expiresAt: q.expiresAt,
});
const paymentOf = (q: QuoteRecord): Payment =>
  ({
    chainId: q.chainId,
    address: q.depositAddress,
    token: null,
    amount: q.amount,
    blockNumber: '10',
    blockTime: new Date().toISOString(),
    status: 'paid',
    txHashes: [],
  }) as Payment;

/** An upload registered and paid in the lifecycle (as the gateway and the watcher do), then walked through `more`. */
async function paidUpload(q: QuoteRecord, more: ('start' | 'save')[] = []): Promise<void> {
  await uploads.register(
    { uploadId: q.uploadId, owner: q.owner, quote: quoteOf(q), receivedAt: new Date().toISOString() } as unknown as UploadReceived,
    'api-gateway',
  );
  await uploads.pay(q.uploadId, paymentOf(q), 'payment-watcher');
  for (const step of more) await uploads.transition(q.uploadId, step, { stage: 'test' });
}

const sweepAt = (offsetMs: number) => sweepStuckWork({ uploads, publishFailed, deadlines, now: Date.now() + offsetMs });

beforeAll(async () => {
  db = connectDatabase(infra.TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
});

afterAll(async () => {
  if (quoteIds.length) {
    await db('payments').whereIn('quote_id', quoteIds).delete();
    await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  }
  if (listingIds.length) await db('listings').whereIn('id', listingIds).delete();
  if (wallets.length) await db('users').whereIn('wallet_address', wallets).delete();
  await db?.destroy();
  await bus.close(1_000);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('the stuck-work sweep', () => {
  it('fails an upload left paid past its deadline, and the ledger records its confirmed payment due back', async () => {
    const q = await ledgerQuote();
    await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'paid' }));
    await paidUpload(q);

    // Within the deadline nothing happens.
    expect((await sweepAt(deadlines.paidMs - 5_000)).failed.map((f) => f.uploadId)).not.toContain(q.uploadId);
    expect(await uploads.state(q.uploadId)).toBe('paid');

    const swept = await sweepAt(deadlines.paidMs + 5_000);
    expect(swept.failed.find((f) => f.uploadId === q.uploadId)).toMatchObject({ kind: 'paid', reason: expect.stringContaining('left paid') });
    expect(await uploads.state(q.uploadId)).toBe('failed');
    expect(await uploads.latest(q.uploadId)).toMatchObject({ event: 'failed', stage: STUCK_WORK_STAGE, reason: expect.stringContaining('its job was lost') });

    await toLedger(q.uploadId);
    expect(await db('payments').where({ quote_id: q.quoteId })).toMatchObject([{ status: 'unfulfilled', refund_due: '10000', failed_stage: STUCK_WORK_STAGE }]);
    // A second run finds nothing more to do.
    expect((await sweepAt(deadlines.paidMs + 5_000)).failed.map((f) => f.uploadId)).not.toContain(q.uploadId);
  });

  it('fails an upload processing with no progress past its deadline; a saved one is never touched', async () => {
    const stuck = await ledgerQuote();
    await paidUpload(stuck, ['start']);
    const saved = await ledgerQuote();
    await paidUpload(saved, ['start', 'save']);
    expect((await sweepAt(deadlines.paidMs + 5_000)).failed.map((f) => f.uploadId)).not.toContain(stuck.uploadId);

    const swept = await sweepAt(deadlines.processingMs + 5_000);
    expect(swept.failed.find((f) => f.uploadId === stuck.uploadId)).toMatchObject({ kind: 'processing' });
    expect(swept.failed.map((f) => f.uploadId)).not.toContain(saved.uploadId);
    expect(await uploads.state(stuck.uploadId)).toBe('failed');
    expect(await uploads.state(saved.uploadId)).toBe('saved');
    // Its payment had not reached the ledger yet: the quote is marked failed, so the credit is due back when it lands.
    await toLedger(stuck.uploadId);
    await applyCredit(db, depositCredit(stuck, { totalReceived: '10000', status: 'paid' }));
    expect(await db('payments').where({ quote_id: stuck.quoteId })).toMatchObject([{ status: 'unfulfilled', refund_due: '10000' }]);
  });

  it('fails a renewal paid and never applied; its credit, landing later, is due back and renews nothing', async () => {
    const listing = listingInput();
    await saveListing(db, listing);
    listingIds.push(listing.listingId);
    wallets.push(listing.owner.walletAddress.toLowerCase());
    const before = (await db('listings').where({ id: listing.listingId }).first('expires_at')).expires_at;
    const q = await ledgerQuote({ purpose: 'renewal', listingId: listing.listingId, renewalDays: 30 });
    const renewal = {
      uploadId: q.uploadId,
      purpose: 'renewal',
      listingId: listing.listingId,
      owner: q.owner,
      quote: quoteOf(q),
      days: 30,
      receivedAt: new Date().toISOString(),
    } as RenewalQuoted;
    await uploads.registerRenewal(renewal, 'api-gateway');
    await uploads.pay(q.uploadId, paymentOf(q), 'payment-watcher');

    const swept = await sweepAt(deadlines.renewalMs + 5_000);
    expect(swept.failed.find((f) => f.uploadId === q.uploadId)).toMatchObject({ kind: 'renewal', reason: expect.stringContaining(listing.listingId) });
    expect(await uploads.state(q.uploadId)).toBe('failed');
    await toLedger(q.uploadId);
    await applyCredit(db, depositCredit(q, { totalReceived: '10000', status: 'paid' }));
    expect(await db('payments').where({ quote_id: q.quoteId })).toMatchObject([{ status: 'unfulfilled', refund_due: '10000', failed_stage: STUCK_WORK_STAGE }]);
    expect((await db('listings').where({ id: listing.listingId }).first('expires_at')).expires_at).toEqual(before);
  });

  it('runs on one replica at a time (a Redis lease) and counts what it failed', async () => {
    const q = await ledgerQuote();
    await paidUpload(q);
    const replica = () =>
      new StuckWorkSweeper({ redis, prefix, uploads, publishFailed, deadlines: { paidMs: 0, processingMs: 0, renewalMs: 0 }, log, intervalMs: 60_000 });
    const [a, b] = [replica(), replica()];
    await new Promise((resolve) => setTimeout(resolve, 5));
    const first = await a.runOnce();
    expect(first?.failed.map((f) => f.uploadId)).toContain(q.uploadId);
    expect(await b.runOnce()).toBeUndefined();
    expect(await register.getSingleMetricAsString('reelboard_stuck_work_total')).toMatch(/reelboard_stuck_work_total\{kind="paid"\} [1-9]/);
    // The holder gives the lease up at stop; the other replica takes over.
    await a.stop();
    expect(await b.runOnce()).toEqual({ failed: [] });
    await b.stop();
  });
});
