import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, type StageContext } from '@reelboard/bus';
import { type AssetsStored, parsePayload, type UploadReceived } from '@reelboard/contracts';
import { connectDatabase, type Knex, migrateToLatest, type QuoteRecord, recordQuote } from '@reelboard/db';
import { createBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { depositCredit, quoteInput, randomAddress, transfer } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { handleAssetsStored } from '../src/handle-assets-stored.js';
import { handlePaymentCredited } from '../src/handle-payment-credited.js';
import { handleUploadFailed } from '../src/handle-upload-failed.js';

let db: Knex;
let staging: string;
const quoteIds: string[] = [];
const owners: string[] = [];
const log = createLogger('profile-writer-test', 'error');
const context: StageContext = { log, attempt: 1, emit: async () => undefined, status: async () => undefined };
const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'pw-ledger-test');
const prefix = `pw-ledger-${Date.now().toString(36)}`;
const bus = createBus(redis, prefix, 'profile-writer', log);
const uploads = new Uploads(redis, prefix, bus.status);

beforeAll(async () => {
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
  staging = await mkdtemp(join(tmpdir(), 'pw-ledger-'));
});

afterAll(async () => {
  if (quoteIds.length) {
    await db('payments').whereIn('quote_id', quoteIds).delete();
    await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
    await db('listings').whereIn('id', quoteIds).delete();
  }
  if (owners.length) await db('users').whereIn('wallet_address', owners).delete();
  await db?.destroy();
  await bus.close(1_000);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  await rm(staging, { recursive: true, force: true });
});

async function quote(): Promise<QuoteRecord> {
  const q = quoteInput({ amount: '10000' });
  await recordQuote(db, q);
  quoteIds.push(q.quoteId);
  owners.push(q.owner.toLowerCase());
  return q;
}

/** The `assets.stored` job of a quote's upload, validated by its channel's contract. */
function assetsStored(q: QuoteRecord): AssetsStored {
  const id = q.uploadId;
  return parsePayload('assets.stored', {
    uploadId: id,
    owner: q.owner,
    form: { title: 'A bike', description: 'red', hashtags: [], latitude: 52.5, longitude: 13.4 },
    quote: { chainId: q.chainId, to: q.depositAddress, amount: q.amount, token: null, createdAt: q.createdAt, expiresAt: q.expiresAt },
    staged: { source: `${id}/source.mp4`, sourceBytes: 1000 },
    receivedAt: q.createdAt,
    payment: {
      chainId: q.chainId,
      address: q.depositAddress,
      token: null,
      amount: q.amount,
      blockNumber: '10',
      blockTime: q.createdAt,
      status: 'paid',
      txHashes: [],
    },
    video: { path: `${id}/video.webm`, bytes: 500, durationSeconds: 2, width: 320, height: 240 },
    preview: { path: `${id}/preview.webm`, bytes: 100, durationSeconds: 1 },
    poster: { path: `${id}/poster.webp`, bytes: 50 },
    objects: { video: `listings/${id}/video.webm`, preview: `listings/${id}/preview.webm`, poster: `listings/${id}/poster.webp` },
  });
}

const rowsOf = (q: QuoteRecord) => db('payments').where({ quote_id: q.quoteId }).orderBy('id');

describe('payment.credited', () => {
  it('writes each observation to the ledger once, however often the job runs', async () => {
    const q = await quote();
    const partial = parsePayload('payment.credited', depositCredit(q, { totalReceived: '4000', status: 'partial', transfers: [transfer('4000')] }));
    const paid = parsePayload('payment.credited', depositCredit(q, { totalReceived: '10000', status: 'paid', fromBlock: '11', toBlock: '11' }));
    for (const job of [partial, paid, partial, paid]) await handlePaymentCredited({ db }, job, context);
    expect((await rowsOf(q)).map((row) => [row.status, row.amount, row.refund_due])).toEqual([
      ['paid', '4000', '0'],
      ['paid', '6000', '0'],
    ]);
  });

  it('records a transfer to the merchant address unmatched, due back', async () => {
    const t = transfer('900', 1);
    const job = parsePayload('payment.credited', {
      kind: 'merchant',
      chainId: 31337,
      address: randomAddress(),
      token: randomAddress(),
      transfer: t,
      blockNumber: '3',
      blockTime: new Date().toISOString(),
    });
    await handlePaymentCredited({ db }, job, context);
    await handlePaymentCredited({ db }, job, context);
    const rows = await db('payments').where({ tx_hash: t.txHash });
    await db('payments').where({ tx_hash: t.txHash }).delete();
    expect(rows).toMatchObject([{ status: 'unmatched', refund_due: '900', quote_id: null }]);
  });
});

describe('the end of an upload', () => {
  it("saves the listing with the quote's credits tied to it, reports `saved` and clears staging", async () => {
    const q = await quote();
    await handlePaymentCredited({ db }, depositCredit(q, { totalReceived: '10000', status: 'paid' }), context);
    await mkdir(join(staging, q.uploadId));
    const stored = assetsStored(q);
    await uploads.register(stored as unknown as UploadReceived, 'api-gateway');
    await uploads.pay(q.uploadId, stored.payment, 'payment-watcher');
    await uploads.transition(q.uploadId, 'start', { stage: 'transcoder' });
    await handleAssetsStored({ db, uploads, stagingDir: staging }, stored, context);
    expect(await rowsOf(q)).toMatchObject([{ listing_id: q.uploadId, status: 'paid' }]);
    expect(await uploads.state(q.uploadId)).toBe('saved');
    expect((await uploads.latest(q.uploadId))?.event).toBe('profile.saved');
    await expect(stat(join(staging, q.uploadId))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('records a paid upload that failed unfulfilled, found by upload id, and a retry that saves it makes it paid again', async () => {
    const q = await quote();
    await handlePaymentCredited({ db }, depositCredit(q, { totalReceived: '10000', status: 'paid' }), context);
    const failure = parsePayload('upload.failed', {
      uploadId: q.uploadId,
      stage: 'transcoder',
      reason: 'invalid_video: no video stream',
      upload: { uploadId: q.uploadId },
    });
    await handleUploadFailed(db, failure, context);
    await handleUploadFailed(db, failure, context);
    expect(await rowsOf(q)).toMatchObject([
      { status: 'unfulfilled', refund_due: '10000', failed_stage: 'transcoder', failure_reason: 'invalid_video: no video stream', listing_id: null },
    ]);
    await handleAssetsStored({ db, uploads, stagingDir: staging }, assetsStored(q), context);
    expect(await rowsOf(q)).toMatchObject([{ status: 'paid', refund_due: '0', failed_stage: null, listing_id: q.uploadId }]);
  });

  it('records a credit that reaches the ledger after the failure unfulfilled, even for a quote the gateway had not recorded', async () => {
    const q = quoteInput({ amount: '10000' });
    quoteIds.push(q.quoteId);
    owners.push(q.owner.toLowerCase());
    // The failed stage's input: paid, by the payload; the ledger has neither the quote nor the credit yet.
    await handleUploadFailed(
      db,
      parsePayload('upload.failed', { uploadId: q.uploadId, stage: 'uploader', reason: 'S3 refused', upload: assetsStored(q) }),
      context,
    );
    expect(await db('payment_quotes').where({ quote_id: q.quoteId }).first()).toMatchObject({
      deposit_address: q.depositAddress,
      amount: '10000',
      failed_stage: 'uploader',
    });
    await handlePaymentCredited({ db }, depositCredit(q, { totalReceived: '10000', status: 'paid' }), context);
    expect(await rowsOf(q)).toMatchObject([{ status: 'unfulfilled', refund_due: '10000', failed_stage: 'uploader', failure_reason: 'S3 refused' }]);
  });

  it('records nothing for an unpaid upload that failed', async () => {
    const q = await quote();
    await handleUploadFailed(db, parsePayload('upload.failed', { uploadId: q.uploadId, stage: 'payment-watcher', reason: 'expired', upload: {} }), context);
    expect(await rowsOf(q)).toEqual([]);
  });
});
