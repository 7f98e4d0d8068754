import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import type { QuoteOffer, UploadReceived } from '@reelboard/contracts';
import { recordQuote } from '@reelboard/db';
import { randomAddress, randomTxHash } from '@reelboard/testkit/db-fixtures';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, infra, startGateway } from './harness.js';

// A payment hint names the chain of the offer the client paid: the gateway checks it against the
// quote's offers and hands it to the watcher with the hash (real gateway, Redis and Postgres).
const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-payment-hint-test');
const owner = ANVIL_ACCOUNTS.buyer.address.toLowerCase() as `0x${string}`;
const usdc = randomAddress() as `0x${string}`;
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

/** An upload awaiting payment under a quote with these offers (none: a quote from before offers), as the gateway registers it. */
async function unpaid(offers?: QuoteOffer[]): Promise<UploadReceived> {
  const now = Date.now();
  const uploadId = randomUUID();
  const first = offers?.[0] ?? { chainId: 31337, token: null, amount: '1000' };
  const quote = {
    chainId: first.chainId,
    to: randomAddress() as `0x${string}`,
    amount: first.amount,
    token: first.token,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 15 * 60_000).toISOString(),
    ...(offers ? { offers } : {}),
  };
  const upload: UploadReceived = {
    uploadId,
    owner,
    form: { title: 'hinted', description: '', hashtags: [], latitude: 0, longitude: 0 },
    quote,
    staged: { source: `${uploadId}/source`, sourceBytes: 1 },
    receivedAt: new Date(now).toISOString(),
  };
  await recordQuote(gw.db, { quoteId: uploadId, uploadId, owner, depositAddress: quote.to, ...quote });
  await gw.uploads.register(upload, 'api-gateway');
  return upload;
}

const offer = (chainId: number, token: `0x${string}` | null, amount: string): QuoteOffer => ({
  chainId,
  chainName: `chain-${chainId}`,
  token,
  symbol: token ? 'USDC' : 'ETH',
  decimals: token ? 6 : 18,
  amount,
});

async function hint(uploadId: string, body: Record<string, unknown>) {
  const res = await fetch(`${gw.base}/v1/uploads/${uploadId}/payment`, {
    method: 'POST',
    headers: { authorization: `Bearer ${seller}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const submitted = async (uploadId: string, txHash: string) => (await gw.bus.queue('payment.submitted').getJob(`${uploadId}.${txHash}.1`))?.data;

describe('POST /v1/uploads/{id}/payment with the chain of the offer paid', () => {
  it('hands a hash on another offered chain to the watcher with its chain id; without one, the quote’s own chain, as before', async () => {
    const upload = await unpaid([offer(31337, null, '2500000000000000'), offer(31338, usdc, '5000000')]);
    const onSecond = randomTxHash();
    expect(await hint(upload.uploadId, { txHash: onSecond, chainId: 31338 })).toMatchObject({ status: 202, body: { state: 'awaiting_payment' } });
    expect(await submitted(upload.uploadId, onSecond)).toEqual({ uploadId: upload.uploadId, txHash: onSecond, round: 1, chainId: 31338 });

    const unnamed = randomTxHash();
    expect((await hint(upload.uploadId, { txHash: unnamed })).status).toBe(202);
    expect(await submitted(upload.uploadId, unnamed)).toEqual({ uploadId: upload.uploadId, txHash: unnamed, round: 1 });
  });

  it('refuses a chain the quote does not offer with 400 `chain_not_offered`, naming the chains it offers; nothing is followed', async () => {
    const upload = await unpaid([offer(31337, null, '2500000000000000'), offer(31338, usdc, '5000000')]);
    const txHash = randomTxHash();
    const refused = await hint(upload.uploadId, { txHash, chainId: 8453 });
    expect(refused).toEqual({
      status: 400,
      body: {
        error: 'chain_not_offered',
        message: "chainId 8453 is not a chain this upload's quote offers; it offers chain 31337, 31338",
        field: 'chainId',
        offered: [31337, 31338],
      },
    });
    expect(await submitted(upload.uploadId, txHash)).toBeUndefined();
    expect(await gw.uploads.followedHints(upload.uploadId)).toBe(0);

    // A quote from before offers offers its own chain only.
    const old = await unpaid();
    expect((await hint(old.uploadId, { txHash, chainId: 31338 })).body).toMatchObject({ error: 'chain_not_offered', offered: [31337] });
    expect((await hint(old.uploadId, { txHash, chainId: 31337 })).status).toBe(202);
  });

  it('refuses a chain id that is not a positive integer with 400 `invalid_chain_id`', async () => {
    const upload = await unpaid([offer(31337, null, '1000')]);
    for (const chainId of ['31337', 0, -1, 1.5, null]) {
      expect(await hint(upload.uploadId, { txHash: randomTxHash(), chainId })).toMatchObject({
        status: 400,
        body: { error: 'invalid_chain_id', field: 'chainId' },
      });
    }
  });
});
