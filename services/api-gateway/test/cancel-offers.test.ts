import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import type { PaymentCredited, QuoteOffer, UploadReceived } from '@reelboard/contracts';
import { applyCredit, recordQuote } from '@reelboard/db';
import { announceRefund } from '@reelboard/lifecycle';
import { randomAddress, randomTxHash } from '@reelboard/testkit/db-fixtures';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, infra, startGateway } from './harness.js';

// Cancelling an unpaid upload whose money came in another offer than the quote's own, or in an
// asset it did not offer: it owes a refund like any other (real gateway, Redis and Postgres; the
// ledger driven as profile-writer drives it, with applyCredit).
const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-cancel-offers-test');
const owner = ANVIL_ACCOUNTS.buyer.address.toLowerCase() as `0x${string}`;
const usdc = randomAddress() as `0x${string}`;
const eurc = randomAddress() as `0x${string}`;
const ETH_AMOUNT = '2500000000000000';
let gw: Gateway;
let seller: string;

beforeAll(async () => {
  gw = await startGateway(redis);
  seller = await gw.signIn(ANVIL_ACCOUNTS.buyer.key);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await redis.quit();
});

const offer = (chainId: number, token: `0x${string}` | null, amount: string): QuoteOffer => ({
  chainId,
  chainName: `chain-${chainId}`,
  token,
  symbol: token ? 'USDC' : 'ETH',
  decimals: token ? 6 : 18,
  amount,
});

/** An upload awaiting payment whose quote offers ETH on 31337 (its own) and USDC on 31338, as the gateway records and registers it. */
async function unpaid(): Promise<UploadReceived> {
  const now = Date.now();
  const uploadId = randomUUID();
  const offers = [offer(31337, null, ETH_AMOUNT), offer(31338, usdc, '5000000')];
  const quote = {
    chainId: 31337,
    to: randomAddress() as `0x${string}`,
    amount: ETH_AMOUNT,
    token: null,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 15 * 60_000).toISOString(),
    offers,
  };
  const upload: UploadReceived = {
    uploadId,
    owner,
    form: { title: 'paid elsewhere', description: '', hashtags: [], latitude: 0, longitude: 0 },
    quote,
    staged: { source: `${uploadId}/source`, sourceBytes: 1 },
    receivedAt: new Date(now).toISOString(),
  };
  await recordQuote(gw.db, { quoteId: uploadId, uploadId, owner, depositAddress: quote.to, ...quote });
  await gw.uploads.register(upload, 'api-gateway');
  return upload;
}

/** A credit on 31338, as the watcher of that chain sends it. */
const credit = (upload: UploadReceived, token: `0x${string}`, total: string, status: 'partial' | 'unmatched'): PaymentCredited => ({
  kind: 'deposit',
  uploadId: upload.uploadId,
  owner,
  chainId: 31338,
  address: upload.quote.to,
  token,
  quoteAmount: token === usdc ? '5000000' : '0',
  totalReceived: total,
  fromBlock: '1',
  toBlock: '1',
  blockTime: new Date().toISOString(),
  transfers: [],
  status,
});

async function cancel(uploadId: string) {
  const res = await fetch(`${gw.base}/v1/uploads/${uploadId}`, { method: 'DELETE', headers: { authorization: `Bearer ${seller}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const dueRows = (uploadId: string) =>
  gw
    .db('payments')
    .where({ quote_id: uploadId })
    .orderBy('id')
    .select('id', 'chain_id', 'token_address', 'status', 'refund_due')
    .then((rows) => rows.map((r) => [r.chain_id, r.token_address, r.status, r.refund_due]));

describe('cancelling an upload whose money came only in another (chain, asset)', () => {
  it('part paid in its other offer (USDC on 31338): it ends refund_due with that amount, announced; the refund sent then ends it refunded', async () => {
    const upload = await unpaid();
    await applyCredit(gw.db, credit(upload, usdc, '1000000', 'partial'));

    const cancelled = await cancel(upload.uploadId);
    expect(cancelled).toEqual({
      status: 200,
      body: { uploadId: upload.uploadId, state: 'refund_due', refundDue: '0', refundsDue: [{ chainId: 31338, token: usdc, amount: '1000000' }] },
    });
    expect(await gw.uploads.state(upload.uploadId)).toBe('refund_due');
    expect(await gw.uploads.latest(upload.uploadId)).toMatchObject({
      event: 'refund.due',
      code: 'cancelled',
      reason: expect.stringContaining('1000000 of USDC on chain 31338'),
    });
    // The ledger closes the quote: the USDC is due back in its own asset.
    const closing = await gw.bus.queue('payment.credited').getJob(`${upload.uploadId}.closed.payment.credited`);
    await applyCredit(gw.db, closing?.data as PaymentCredited);
    expect(await dueRows(upload.uploadId)).toEqual([[31338, usdc, 'partial', '1000000']]);

    // The refund wallet pays it back: the upload that owed it ends refunded, as every refund does.
    const [row] = await gw.db('payments').where({ quote_id: upload.uploadId }).select('id');
    await announceRefund(
      gw.uploads,
      {
        repeated: false,
        refunded: '1000000',
        payment: { id: row.id, uploadId: upload.uploadId, listingId: null, refundTo: owner, refundTxHash: randomTxHash() },
      },
      'refund-wallet',
    );
    expect(await gw.uploads.state(upload.uploadId)).toBe('refunded');
  });

  it('money only in an asset the quote did not offer (EURC on 31338): it ends refund_due too, naming it', async () => {
    const upload = await unpaid();
    await applyCredit(gw.db, credit(upload, eurc, '2000000', 'unmatched'));
    const cancelled = await cancel(upload.uploadId);
    expect(cancelled.body).toEqual({
      uploadId: upload.uploadId,
      state: 'refund_due',
      refundDue: '0',
      refundsDue: [{ chainId: 31338, token: eurc, amount: '2000000' }],
    });
    expect(await gw.uploads.latest(upload.uploadId)).toMatchObject({
      event: 'refund.due',
      reason: expect.stringContaining(`2000000 of ${eurc} on chain 31338`),
    });
  });

  it('nothing received in any offer: it ends expired, nothing due', async () => {
    const upload = await unpaid();
    expect((await cancel(upload.uploadId)).body).toEqual({ uploadId: upload.uploadId, state: 'expired', refundDue: '0', refundsDue: [] });
    expect(await gw.uploads.state(upload.uploadId)).toBe('expired');
  });
});
