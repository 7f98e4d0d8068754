import { openAsBlob } from 'node:fs';
import { access, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import type { PaymentCredited } from '@reelboard/contracts';
import { applyCredit } from '@reelboard/db';
import { makeClip } from '@reelboard/testkit/media';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, infra, startGateway } from './harness.js';

type Json = Record<string, any>;

// The seller's routes on a real gateway (Redis, Postgres, S3 server, anvil for SIWE): the fee, the
// unpaid uploads and cancelling one; the ledger is driven as profile-writer drives it (applyCredit).
const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-seller-test');
const PRICE_WEI = '12500000000000000';
let gw: Gateway;
let work: string;
let clip: string;
let seller: string;
let stranger: string;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function upload(token: string, title: string) {
  const form = new FormData();
  for (const [name, value] of Object.entries({ title, latitude: '52.5', longitude: '13.4' })) form.append(name, value);
  form.append('video', await openAsBlob(clip), 'clip.mp4');
  const res = await fetch(`${gw.base}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: res.status, body: (await res.json()) as Json };
}
const call = async (path: string, token: string | undefined, method = 'GET') => {
  const res = await fetch(`${gw.base}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gw-seller-'));
  clip = join(work, 'clip.mp4');
  await makeClip(clip, { width: 320, height: 240, seconds: 1 });
  gw = await startGateway(redis, {
    PRICE_WEI,
    STAGING_MAX_UNPAID_UPLOADS_PER_WALLET: '2',
    MAX_VIDEO_BYTES: String((await stat(clip)).size + 20_000),
  });
  seller = await gw.signIn(ANVIL_ACCOUNTS.buyer.key);
  stranger = await gw.signIn(ANVIL_ACCOUNTS.stranger.key);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await redis.quit();
  await rm(work, { recursive: true, force: true });
});

describe('GET /v1/pricing', () => {
  it('tells anyone the fee in base units with the coin, its decimals and the quote lifetime, as the next quote asks it', async () => {
    const res = await call('/v1/pricing', undefined);
    expect(res.status).toBe(200);
    const fee = { chainId: Number(infra.CHAIN_ID), amount: PRICE_WEI, token: null, symbol: 'ETH', decimals: 18 };
    // Priced in base units: no fiat price, and the one offer of the home chain, the same as the top-level fee.
    expect(res.body).toEqual({ ...fee, quoteTtlSeconds: 900, price: null, offers: [{ ...fee, chainName: `chain-${infra.CHAIN_ID}` }] });
    expect(res.headers.get('cache-control')).toBe('public, max-age=60');
    const quoted = await upload(seller, 'priced');
    expect(quoted.body.payment.amount).toBe(res.body.amount);
    await call(`/v1/uploads/${quoted.body.uploadId}`, seller, 'DELETE');
  });
});

describe('unpaid uploads', () => {
  it('lists only the wallet’s own, with received, remaining and deadline; cancel frees the quota at once and removes the staging', async () => {
    const first = await upload(seller, 'first draft');
    const second = await upload(seller, 'second draft');
    expect([first.status, second.status]).toEqual([202, 202]);
    // At the wallet's limit of two unpaid uploads: a third is refused.
    expect((await upload(seller, 'third')).body.error).toBe('unpaid_uploads_limit');

    const listed = await call('/v1/me/unpaid-uploads', seller);
    expect(listed.status).toBe(200);
    expect(listed.headers.get('cache-control')).toBe('private, no-store');
    expect(listed.body.items.map((item: Json) => item.title)).toEqual(['second draft', 'first draft']);
    expect(listed.body.items[1]).toMatchObject({
      uploadId: first.body.uploadId,
      received: '0',
      remaining: PRICE_WEI,
      payment: { to: first.body.payment.to, amount: PRICE_WEI, expiresAt: first.body.payment.expiresAt },
    });
    expect((await call('/v1/me/unpaid-uploads', stranger)).body.items).toEqual([]);
    expect((await call('/v1/me/unpaid-uploads', undefined)).status).toBe(401);

    // Someone else's upload does not exist for them.
    expect(await call(`/v1/uploads/${first.body.uploadId}`, stranger, 'DELETE')).toMatchObject({ status: 404, body: { error: 'upload_not_found' } });
    expect(await exists(join(gw.stagingDir, first.body.uploadId))).toBe(true);

    const cancelled = await call(`/v1/uploads/${first.body.uploadId}`, seller, 'DELETE');
    expect(cancelled).toMatchObject({ status: 200, body: { uploadId: first.body.uploadId, state: 'expired', refundDue: '0', refundsDue: [] } });
    expect(await exists(join(gw.stagingDir, first.body.uploadId))).toBe(false);
    const status = await call(`/v1/uploads/${first.body.uploadId}`, seller);
    expect(status.body.status).toMatchObject({ event: 'expired', state: 'expired', code: 'cancelled' });
    // The quota is free at once: a new upload is accepted without waiting for the quote's expiry.
    const third = await upload(seller, 'third');
    expect(third.status).toBe(202);
    expect((await call('/v1/me/unpaid-uploads', seller)).body.items.map((item: Json) => item.title)).toEqual(['third', 'second draft']);
    // The quote is closed in the ledger as an expired one would be (the job profile-writer applies).
    const closing = await gw.bus.queue('payment.credited').getJob(`${first.body.uploadId}.closed.payment.credited`);
    expect(closing?.data).toMatchObject({ kind: 'closed', uploadId: first.body.uploadId, address: first.body.payment.to });
    await applyCredit(gw.db, closing?.data as PaymentCredited);
    expect(await gw.db('payment_quotes').where({ quote_id: first.body.uploadId }).first('state')).toEqual({ state: 'expired' });

    // Once ended, it cannot be cancelled again.
    expect(await call(`/v1/uploads/${first.body.uploadId}`, seller, 'DELETE')).toMatchObject({
      status: 409,
      body: { error: 'upload_state', state: 'expired' },
    });
    await call(`/v1/uploads/${second.body.uploadId}`, seller, 'DELETE');
    await call(`/v1/uploads/${third.body.uploadId}`, seller, 'DELETE');
  });

  it('shows a partial payment as received with the rest remaining; cancelling it makes what arrived due back, and a later payment too', async () => {
    const quoted = await upload(seller, 'half paid');
    const { uploadId, payment } = quoted.body;
    const deposit = (total: bigint, status: 'partial' | 'late', block: number): PaymentCredited => ({
      kind: 'deposit',
      uploadId,
      owner: ANVIL_ACCOUNTS.buyer.address.toLowerCase() as `0x${string}`,
      chainId: payment.chainId,
      address: payment.to,
      token: null,
      quoteAmount: payment.amount,
      totalReceived: total.toString(),
      fromBlock: String(block),
      toBlock: String(block),
      blockTime: new Date().toISOString(),
      transfers: [],
      status,
    });
    const half = BigInt(PRICE_WEI) / 2n;
    await applyCredit(gw.db, deposit(half, 'partial', 1));
    const [item] = (await call('/v1/me/unpaid-uploads', seller)).body.items;
    expect(item).toMatchObject({ uploadId, received: half.toString(), remaining: (BigInt(PRICE_WEI) - half).toString() });

    const cancelled = await call(`/v1/uploads/${uploadId}`, seller, 'DELETE');
    expect(cancelled.body).toEqual({
      uploadId,
      state: 'refund_due',
      refundDue: half.toString(),
      refundsDue: [{ chainId: payment.chainId, token: null, amount: half.toString() }],
    });
    expect((await call(`/v1/uploads/${uploadId}`, seller)).body.status).toMatchObject({ event: 'refund.due', state: 'refund_due', code: 'cancelled' });
    const closing = await gw.bus.queue('payment.credited').getJob(`${uploadId}.closed.payment.credited`);
    await applyCredit(gw.db, closing?.data as PaymentCredited);
    // Money arriving after the cancel is late: due back in full, as after an expiry.
    await applyCredit(gw.db, deposit(BigInt(PRICE_WEI), 'late', 2));
    const rows: { status: string; amount: string; refund_due: string }[] = await gw
      .db('payments')
      .where({ quote_id: uploadId })
      .orderBy('id')
      .select('status', 'amount', 'refund_due');
    expect(rows).toEqual([
      { status: 'partial', amount: half.toString(), refund_due: half.toString() },
      { status: 'late', amount: (BigInt(PRICE_WEI) - half).toString(), refund_due: (BigInt(PRICE_WEI) - half).toString() },
    ]);
    expect((await call('/v1/me/unpaid-uploads', seller)).body.items).toEqual([]);
  });
});
