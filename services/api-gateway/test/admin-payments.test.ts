import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicClient, createTestClient, createWalletClient, type Hex, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { chainFor } from '@reelboard/chain';
import type { UploadReceived } from '@reelboard/contracts';
import { applyCredit, paymentHistory, type QuoteRecord, recordQuote, saveListing } from '@reelboard/db';
import type { TransitionName } from '@reelboard/lifecycle';
import { depositCredit, listingInput, quoteInput, randomAddress, randomTxHash, transfer } from '@reelboard/testkit/db-fixtures';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { CHAIN_ID, type Gateway, infra, startGateway } from './harness.js';

const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-payments-test');
let gw: Gateway;
let adminSession: string;
let stranger: string;
const quoteIds: string[] = [];
const unmatchedHashes: string[] = [];
const wallets: string[] = [];

// The refund wallet of this file: a key of its own, funded by anvil_setBalance (no other test shares its nonces).
const refunder = privateKeyToAccount(generatePrivateKey());
const chainDef = chainFor({ rpcUrl: infra.RPC_URL ?? '', chainId: CHAIN_ID });
const wallet = createWalletClient({ account: refunder, chain: chainDef, transport: http(infra.RPC_URL) });
const reader = createPublicClient({ chain: chainDef, transport: http(infra.RPC_URL), pollingInterval: 100 });
const testClient = createTestClient({ chain: chainDef, mode: 'anvil', transport: http(infra.RPC_URL) });

/** Pays `value` wei back to `to` by a real signed transaction, mined and confirmed (the gateway wants 2 confirmations). */
async function refundTx(to: string, value: bigint): Promise<Hex> {
  const hash = await wallet.sendTransaction({ to: to as Hex, value });
  await reader.waitForTransactionReceipt({ hash });
  await testClient.mine({ blocks: 1 });
  return hash;
}

async function api(method: string, path: string, init: { token?: string; admin?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.admin) headers['x-admin-token'] = init.admin;
  const res = await fetch(`${gw.base}${path}`, { method, headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
  return { status: res.status, body: (await res.json()) as any };
}

async function quote(): Promise<QuoteRecord> {
  const q = quoteInput({ amount: '10000' });
  await recordQuote(gw.db, q);
  quoteIds.push(q.quoteId);
  return q;
}

/** Registers the quote's upload in the lifecycle and walks it through `path`, as the pipeline would have. */
async function uploadAt(q: QuoteRecord, path: ('pay' | TransitionName)[]): Promise<void> {
  await gw.uploads.register(
    { uploadId: q.uploadId, owner: q.owner, quote: { expiresAt: q.expiresAt }, receivedAt: new Date().toISOString() } as unknown as UploadReceived,
    'api-gateway',
  );
  for (const step of path) {
    if (step === 'pay')
      await gw.uploads.pay(
        q.uploadId,
        {
          chainId: 31337,
          address: q.depositAddress as `0x${string}`,
          token: null,
          amount: q.amount,
          blockNumber: '1',
          blockTime: new Date().toISOString(),
          status: 'overpaid',
          txHashes: [],
        },
        'payment-watcher',
      );
    else await gw.uploads.transition(q.uploadId, step, { stage: 'test' });
  }
}

/** A quote paid `total`; returns its ledger row ids, oldest first. */
async function credited(q: QuoteRecord, total: string, status: 'partial' | 'paid' | 'overpaid' | 'late'): Promise<number[]> {
  return (await applyCredit(gw.db, depositCredit(q, { totalReceived: total, status }))).paymentIds;
}

beforeAll(async () => {
  gw = await startGateway(redis);
  await testClient.setBalance({ address: refunder.address, value: 10n ** 21n });
  adminSession = await gw.signIn(ANVIL_ACCOUNTS.buyer.key);
  stranger = await gw.signIn(ANVIL_ACCOUNTS.stranger.key);
});

afterAll(async () => {
  if (quoteIds.length) {
    await gw.db('payments').whereIn('quote_id', quoteIds).delete();
    await gw.db('payment_quotes').whereIn('quote_id', quoteIds).delete();
    await gw.db('listings').whereIn('id', quoteIds).delete();
  }
  if (unmatchedHashes.length) await gw.db('payments').whereIn('tx_hash', unmatchedHashes).delete();
  if (wallets.length) await gw.db('users').whereIn('wallet_address', wallets).delete();
  await gw?.close();
  await redis.quit();
});

describe('GET /v1/admin/payments', () => {
  it('is for admins only', async () => {
    expect((await api('GET', '/v1/admin/payments')).status).toBe(401);
    expect(await api('GET', '/v1/admin/payments', { token: stranger })).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect((await api('GET', '/v1/admin/payments', { admin: 'x'.repeat(48) })).status).toBe(403);
  });

  it('lists what is due back, newest first, a page at a time, and rows by status', async () => {
    const [oldestId] = await credited(await quote(), '500', 'late');
    const late = await quote();
    const [lateId] = await credited(late, '10000', 'late');
    const over = await quote();
    const [overId] = await credited(over, '12000', 'overpaid');
    const paid = await quote();
    const [paidId] = await credited(paid, '10000', 'paid');

    const page = await api('GET', '/v1/admin/payments?status=refund_due&limit=2', { token: adminSession });
    expect(page.status).toBe(200);
    expect(page.body.items.map((item: { id: number }) => item.id)).toEqual([overId, lateId]);
    expect(page.body.items[0]).toMatchObject({
      quoteId: over.quoteId,
      uploadId: over.uploadId,
      owner: over.owner.toLowerCase(),
      status: 'overpaid',
      amount: '12000',
      refundDue: '2000',
      quote: { amount: '10000', state: 'paid' },
    });
    expect(page.body.nextCursor).toEqual(expect.any(String));
    const next = await api('GET', `/v1/admin/payments?status=refund_due&limit=2&cursor=${page.body.nextCursor}`, { admin: gw.adminToken });
    expect(next.body.items[0]).toMatchObject({ id: oldestId, refundDue: '500' });
    expect(next.body.items.every((item: { id: number; refundDue: string }) => item.id < (lateId as number) && item.refundDue !== '0')).toBe(true);

    const byStatus = await api('GET', '/v1/admin/payments?status=paid&limit=100', { admin: gw.adminToken });
    expect(byStatus.body.items.map((item: { id: number }) => item.id)).toContain(paidId);
    expect(byStatus.body.items.every((item: { status: string }) => item.status === 'paid')).toBe(true);
  });

  it('answers 400 naming the parameter at fault', async () => {
    expect(await api('GET', '/v1/admin/payments?status=lost', { admin: gw.adminToken })).toMatchObject({
      status: 400,
      body: { error: 'invalid_query', field: 'status' },
    });
    expect(await api('GET', '/v1/admin/payments?limit=0', { admin: gw.adminToken })).toMatchObject({
      status: 400,
      body: { error: 'invalid_query', field: 'limit' },
    });
    expect(await api('GET', '/v1/admin/payments?cursor=bm9wZQ', { admin: gw.adminToken })).toMatchObject({
      status: 400,
      body: { error: 'invalid_cursor', field: 'cursor' },
    });
  });
});

describe('POST /v1/admin/payments/:id/refund', () => {
  it('records the refund, audits it, tells the owner; the same refund again changes nothing; another tx is 409', async () => {
    const q = await quote();
    await credited(q, '4000', 'partial');
    const [id] = (
      await applyCredit(gw.db, { kind: 'closed', uploadId: q.uploadId, chainId: q.chainId, address: q.depositAddress as `0x${string}`, outcome: 'expired' })
    ).paymentIds;
    await uploadAt(q, ['expireOwingRefund']);
    const tx = await refundTx(q.owner, 4000n);
    const refund = await api('POST', `/v1/admin/payments/${id}/refund`, { token: adminSession, body: { txHash: tx, note: '  sent from the ops wallet ' } });
    expect(refund).toMatchObject({
      status: 200,
      body: {
        refunded: '4000',
        repeated: false,
        payment: {
          id,
          status: 'refunded',
          refundDue: '0',
          refundTxHash: tx,
          refundTo: q.owner.toLowerCase(),
          refundedBy: ANVIL_ACCOUNTS.buyer.address.toLowerCase(),
        },
      },
    });
    expect(await paymentHistory(gw.db, id as number)).toMatchObject([
      { actor: ANVIL_ACCOUNTS.buyer.address.toLowerCase(), txHash: tx, amount: '4000', note: 'sent from the ops wallet' },
    ]);
    const told = (await gw.bus.status.history(q.uploadId)).filter((e) => e.event === 'refund.sent');
    expect(told).toMatchObject([{ event: 'refund.sent', stage: 'admin', state: 'refunded' }]);
    expect(told[0]?.message).toContain(tx);
    expect(await gw.uploads.state(q.uploadId)).toBe('refunded');

    const again = await api('POST', `/v1/admin/payments/${id}/refund`, { admin: gw.adminToken, body: { txHash: tx } });
    expect(again).toMatchObject({
      status: 200,
      body: { refunded: '4000', repeated: true, payment: { refundTxHash: tx, refundedAt: refund.body.payment.refundedAt } },
    });
    expect((await gw.bus.status.history(q.uploadId)).filter((e) => e.event === 'refund.sent')).toHaveLength(1);

    const other = await api('POST', `/v1/admin/payments/${id}/refund`, { admin: gw.adminToken, body: { txHash: randomTxHash() } });
    expect(other).toMatchObject({ status: 409, body: { error: 'already_refunded', refundTxHash: tx } });
    expect(await paymentHistory(gw.db, id as number)).toHaveLength(1);
  });

  it("refunds the excess of a saved listing's overpayment: its upload stays saved", async () => {
    const q = await quote();
    const [id] = await credited(q, '12500', 'overpaid');
    const input = listingInput({ id: q.uploadId });
    await saveListing(gw.db, input);
    await uploadAt(q, ['pay', 'start', 'save']);
    wallets.push(input.owner.walletAddress.toLowerCase());
    const refund = await api('POST', `/v1/admin/payments/${id}/refund`, { admin: gw.adminToken, body: { txHash: await refundTx(q.owner, 2500n) } });
    expect(refund).toMatchObject({
      status: 200,
      body: { refunded: '2500', payment: { listingId: q.uploadId, refundedAmount: '2500', refundedBy: 'admin-token' } },
    });
    expect(await gw.bus.status.latest(q.uploadId)).toMatchObject({ event: 'refund.sent', state: 'saved' });
    expect(await gw.uploads.state(q.uploadId)).toBe('saved');
  });

  it('refunds an unmatched transfer (no upload to tell)', async () => {
    const t = transfer('321');
    unmatchedHashes.push(t.txHash);
    const [id] = (
      await applyCredit(gw.db, {
        kind: 'merchant',
        chainId: 31337,
        address: randomAddress(),
        token: null,
        transfer: t,
        blockNumber: '9',
        blockTime: new Date().toISOString(),
      })
    ).paymentIds;
    const listed = await api('GET', '/v1/admin/payments?status=unmatched&limit=100', { admin: gw.adminToken });
    expect(listed.body.items.find((item: { id: number }) => item.id === id)).toMatchObject({
      uploadId: null,
      owner: null,
      from: t.from,
      txHash: t.txHash,
      refundDue: '321',
    });
    const back = await refundTx(t.from, 321n);
    expect(await api('POST', `/v1/admin/payments/${id}/refund`, { admin: gw.adminToken, body: { txHash: back } })).toMatchObject({
      status: 200,
      body: { refunded: '321', payment: { status: 'refunded', creditStatus: 'unmatched', refundTo: t.from.toLowerCase() } },
    });
  });

  it('answers 422 naming what the chain shows wrong, and 409 for a transaction that already refunded another row; nothing is recorded', async () => {
    const q = await quote();
    const [id] = await credited(q, '700', 'late');
    // The same owner's second row: a transaction paying that owner is a refund it could take, but it is spent.
    const other = quoteInput({ amount: '10000', owner: q.owner });
    await recordQuote(gw.db, other);
    quoteIds.push(other.quoteId);
    const [otherId] = await credited(other, '700', 'late');
    const path = `/v1/admin/payments/${id}/refund`;
    expect(await api('POST', path, { admin: gw.adminToken, body: { txHash: randomTxHash() } })).toMatchObject({
      status: 422,
      body: { error: 'refund_tx_not_found' },
    });
    const stranger = randomAddress();
    const elsewhere = await refundTx(stranger, 700n);
    expect(await api('POST', path, { admin: gw.adminToken, body: { txHash: elsewhere } })).toMatchObject({
      status: 422,
      body: { error: 'refund_wrong_recipient', paidTo: stranger.toLowerCase() },
    });
    const unproven = await api('POST', path, { admin: gw.adminToken, body: { txHash: elsewhere, to: stranger } });
    expect(unproven).toMatchObject({
      status: 422,
      body: { error: 'refund_recipient_unproven', message: expect.stringContaining('signature'), signMessage: expect.stringContaining(`payment ${id} `) },
    });
    const short = await refundTx(q.owner, 699n);
    expect(await api('POST', path, { admin: gw.adminToken, body: { txHash: short } })).toMatchObject({
      status: 422,
      body: { error: 'refund_amount_short', paid: '699', due: '700' },
    });
    const paid = await refundTx(q.owner, 700n);
    expect((await api('POST', path, { admin: gw.adminToken, body: { txHash: paid } })).status).toBe(200);
    expect(await api('POST', `/v1/admin/payments/${otherId}/refund`, { admin: gw.adminToken, body: { txHash: paid } })).toMatchObject({
      status: 409,
      body: { error: 'refund_tx_used', refundTxHash: paid },
    });
    expect(await paymentHistory(gw.db, otherId as number)).toEqual([]);
  });

  it('answers 400 naming the field, 404 for an unknown payment, 409 for one with nothing due, 401/403 for non-admins', async () => {
    const q = await quote();
    const [id] = await credited(q, '10000', 'paid');
    const path = `/v1/admin/payments/${id}/refund`;
    expect(await api('POST', path, { admin: gw.adminToken, body: {} })).toMatchObject({ status: 400, body: { error: 'invalid_body', field: 'txHash' } });
    expect(await api('POST', path, { admin: gw.adminToken, body: { txHash: '0x1234' } })).toMatchObject({ status: 400, body: { field: 'txHash' } });
    expect(await api('POST', path, { admin: gw.adminToken, body: { txHash: randomTxHash(), note: 'n'.repeat(501) } })).toMatchObject({
      status: 400,
      body: { field: 'note' },
    });
    expect(await api('POST', path, { admin: gw.adminToken, body: { txHash: randomTxHash(), to: '0x12' } })).toMatchObject({
      status: 400,
      body: { field: 'to' },
    });
    expect(await api('POST', path, { admin: gw.adminToken, body: { txHash: randomTxHash(), to: randomAddress(), signature: 'nope' } })).toMatchObject({
      status: 400,
      body: { field: 'signature' },
    });
    expect(await api('POST', path, { admin: gw.adminToken, body: { txHash: randomTxHash() } })).toMatchObject({
      status: 409,
      body: { error: 'not_refundable' },
    });
    expect(await api('POST', '/v1/admin/payments/999999999999/refund', { admin: gw.adminToken, body: { txHash: randomTxHash() } })).toMatchObject({
      status: 404,
      body: { error: 'payment_not_found' },
    });
    expect(await api('POST', '/v1/admin/payments/abc/refund', { admin: gw.adminToken, body: { txHash: randomTxHash() } })).toMatchObject({ status: 404 });
    expect((await api('POST', path, { body: { txHash: randomTxHash() } })).status).toBe(401);
    expect((await api('POST', path, { token: stranger, body: { txHash: randomTxHash() } })).status).toBe(403);
    // Nothing of that reached the ledger.
    expect(await paymentHistory(gw.db, id as number)).toEqual([]);
  });
});

describe('POST /v1/admin/payments/:id/refund/approve', () => {
  it("approves the refund wallet to pay a row's due to its owner, audited with the caller; once; refusing a row with nothing due", async () => {
    const q = await quote();
    const [id] = await credited(q, '12000', 'late');
    const path = `/v1/admin/payments/${id}/refund/approve`;
    expect((await api('POST', path)).status).toBe(401);
    expect((await api('POST', path, { token: stranger })).status).toBe(403);
    const approved = await api('POST', path, { admin: gw.adminToken });
    expect(approved).toMatchObject({
      status: 200,
      body: {
        repeated: false,
        send: { paymentId: id, state: 'approved', approvedBy: 'admin-token', recipient: q.owner.toLowerCase(), amount: '12000', chainId: 31337, token: null },
      },
    });
    expect(await gw.db('refund_sends').where({ payment_id: id }).select('approved_by', 'state')).toEqual([{ approved_by: 'admin-token', state: 'approved' }]);
    expect(await api('POST', path, { admin: gw.adminToken })).toMatchObject({ status: 200, body: { repeated: true, send: { id: approved.body.send.id } } });
    expect(await gw.db('refund_sends').where({ payment_id: id }).count({ n: '*' })).toEqual([{ n: '1' }]);
    const paid = await quote();
    const [paidId] = await credited(paid, '10000', 'paid');
    expect(await api('POST', `/v1/admin/payments/${paidId}/refund/approve`, { admin: gw.adminToken })).toMatchObject({
      status: 409,
      body: { error: 'not_refundable' },
    });
    expect(await api('POST', '/v1/admin/payments/999999999999/refund/approve', { admin: gw.adminToken })).toMatchObject({
      status: 404,
      body: { error: 'payment_not_found' },
    });
    // Not ours to send: a refund sender on this chain (pnpm payments refunds send in another test) must not pay it.
    await gw.db('refund_sends').where({ payment_id: id }).delete();
  });
});
