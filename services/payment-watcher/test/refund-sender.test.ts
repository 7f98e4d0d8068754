import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register } from 'prom-client';
import { erc20Abi, type Hex, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { createChainClient, type DepositSettings } from '@reelboard/chain';
import { applyCredit, approveRefund, connectDatabase, findPayment, type Knex, migrateToLatest } from '@reelboard/db';
import { createLogger } from '@reelboard/logger';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deployPaymentAssets } from '@reelboard/testkit/payment-assets';
import { reconcilePayments } from '../src/reconcile.js';
import { RefundSender, type RefundSenderDeps } from '../src/refund-sender.js';

const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 147;
// A chain id of this file's own: the sender (and its approval policy) acts on every row of its chain in the shared test database.
const CHAIN = 31_399;
const log = createLogger('refund-sender-test', 'error');
// A merchant of this file's own: the shared test database holds other files' rows.
const deposits: DepositSettings = { merchant: privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex, token: null };
const buyer = privateKeyToAccount(KEYS.buyer);

let anvil: Anvil;
let db: Knex;
let usdc: Hex;
const rows: number[] = [];

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT, CHAIN);
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 4 });
  await migrateToLatest(db);
  usdc = (await deployPaymentAssets(anvil, buyer.address)).stablecoin;
}, 60_000);

afterAll(async () => {
  if (rows.length) await db('payments').whereIn('id', rows).delete();
  await db?.destroy();
  await anvil?.stop();
});

const setting = () => ({
  id: CHAIN,
  name: 'anvil',
  rpcUrls: [anvil.rpcUrl],
  confirmations: 2,
  native: { symbol: 'ETH', decimals: 18 },
  tokens: [{ address: usdc, symbol: 'USDC', decimals: 6 }],
});

function sender(privateKey: Hex, overrides: Partial<RefundSenderDeps> = {}) {
  return new RefundSender({
    db,
    chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: CHAIN }),
    setting: setting(),
    privateKey,
    dailyLimits: new Map(),
    autoApprove: new Map(),
    log,
    ...overrides,
  });
}

async function mined(hash: Hex) {
  const receipt = await anvil.client.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe('success');
  return receipt;
}

/** A real payment by the buyer to the merchant, recorded as the watcher records one no quote names: due back in full to its sender. */
async function paidAndDue(amount: bigint, token: Hex | null = null): Promise<number> {
  const wallet = anvil.wallet(KEYS.buyer);
  const hash = token
    ? await wallet.writeContract({
        address: token,
        abi: erc20Abi,
        functionName: 'transfer',
        args: [deposits.merchant, amount],
        account: buyer,
        chain: anvil.chain,
      })
    : await wallet.sendTransaction({ account: buyer, chain: anvil.chain, to: deposits.merchant, value: amount });
  const receipt = await mined(hash);
  const outcome = await applyCredit(db, {
    kind: 'merchant',
    chainId: CHAIN,
    address: deposits.merchant,
    token: token?.toLowerCase() as Hex | null,
    transfer: { txHash: hash, logIndex: token ? (receipt.logs[0]?.logIndex ?? 0) : null, from: buyer.address.toLowerCase() as Hex, amount: amount.toString() },
    blockNumber: receipt.blockNumber.toString(),
    blockTime: new Date().toISOString(),
  });
  const id = outcome.paymentIds[0] as number;
  rows.push(id);
  return id;
}

/** A refund wallet of its own, funded with `wei` (and `units` of the stablecoin). */
async function refundWallet(wei: bigint, units = 0n): Promise<Hex> {
  const key = generatePrivateKey();
  const to = privateKeyToAddress(key);
  if (wei > 0n)
    await mined(await anvil.wallet(KEYS.deployer).sendTransaction({ account: privateKeyToAccount(KEYS.deployer), chain: anvil.chain, to, value: wei }));
  if (units > 0n)
    await mined(
      await anvil
        .wallet(KEYS.buyer)
        .writeContract({ address: usdc, abi: erc20Abi, functionName: 'transfer', args: [to, units], account: buyer, chain: anvil.chain }),
    );
  return key;
}

const sendState = async (paymentId: number) => db('refund_sends').where({ payment_id: paymentId }).orderBy('id', 'desc').first();
const metric = async (name: string, labels: Record<string, string>) =>
  (await register.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
const buyerBalance = () => anvil.client.getBalance({ address: buyer.address });

describe('the refund wallet', () => {
  it('sends an approved refund on chain, follows it to confirmation, records it, and reconciliation finds it matching', async () => {
    const paymentId = await paidAndDue(parseEther('0.3'));
    const { send } = await approveRefund(db, { paymentId, actor: '0xadmin' });
    expect(send).toMatchObject({ state: 'approved', approvedBy: '0xadmin', recipient: buyer.address.toLowerCase(), amount: parseEther('0.3').toString() });
    const refunds = sender(await refundWallet(parseEther('1')));
    const before = await buyerBalance();
    const round = await refunds.sendOnce();
    expect(round?.sent).toHaveLength(1);
    const txHash = round?.sent[0]?.txHash as Hex;
    expect(await sendState(paymentId)).toMatchObject({ state: 'sending', tx_hash: txHash.toLowerCase() });
    // One confirmation (automine) of the two: still sending, nothing recorded.
    expect((await refunds.sendOnce())?.confirmed).toEqual([]);
    expect((await findPayment(db, paymentId))?.refundDue).toBe(parseEther('0.3').toString());
    await anvil.test.mine({ blocks: 1 });
    expect((await refunds.sendOnce())?.confirmed).toEqual([expect.objectContaining({ paymentId, txHash })]);
    expect(await buyerBalance()).toBe(before + parseEther('0.3'));
    expect(await findPayment(db, paymentId)).toMatchObject({
      status: 'refunded',
      refundDue: '0',
      refundTxHash: txHash.toLowerCase(),
      refundTo: buyer.address.toLowerCase(),
      refundedBy: 'refund-wallet',
    });
    expect(await sendState(paymentId)).toMatchObject({ state: 'sent' });
    const reconciled = await reconcilePayments({
      db,
      chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: CHAIN }),
      chainId: CHAIN,
      deposits,
      confirmations: 1,
      fromBlock: 0n,
      repair: false,
    });
    expect(reconciled.differences).toEqual([]);
    expect(await metric('reelboard_refunds_sent_total', { chain: String(CHAIN), asset: 'ETH' })).toBeGreaterThanOrEqual(1);
  });

  it('leaves the row due when the wallet is empty: nothing sent, nothing marked, a failure counted', async () => {
    const paymentId = await paidAndDue(1_500_000n, usdc);
    await approveRefund(db, { paymentId, actor: 'cli:ops' });
    const failuresBefore = await metric('reelboard_refund_send_failures_total', { chain: String(CHAIN), reason: 'insufficient_funds' });
    const empty = sender(generatePrivateKey());
    const round = await empty.sendOnce();
    expect(round?.sent).toEqual([]);
    expect(round?.failed).toEqual([expect.objectContaining({ paymentId, reason: 'insufficient_funds' })]);
    expect(await metric('reelboard_refund_send_failures_total', { chain: String(CHAIN), reason: 'insufficient_funds' })).toBe(failuresBefore + 1);
    expect(await metric('reelboard_refund_wallet_balance', { chain: String(CHAIN), asset: 'USDC' })).toBe(0);
    expect(await sendState(paymentId)).toMatchObject({ state: 'approved', tx_hash: null, failures: 1, last_error: expect.stringContaining('holds 0') });
    expect(await findPayment(db, paymentId)).toMatchObject({ status: 'unmatched', refundDue: '1500000', refundTxHash: null });
    expect(await anvil.client.getTransactionCount({ address: empty.address })).toBe(0);
    // Funded, the wallet pays it on the next round.
    const key = await refundWallet(parseEther('1'), 2_000_000n);
    const funded = sender(key);
    expect((await funded.sendOnce())?.sent).toEqual([expect.objectContaining({ paymentId })]);
    await anvil.test.mine({ blocks: 1 });
    expect((await funded.sendOnce())?.confirmed).toEqual([expect.objectContaining({ paymentId })]);
    expect(await findPayment(db, paymentId)).toMatchObject({ status: 'refunded', refundDue: '0' });
  });

  it('survives a crash between recording a send and broadcasting it: the restarted sender pays once, with the recorded transaction', async () => {
    const amount = parseEther('0.2');
    const paymentId = await paidAndDue(amount);
    await approveRefund(db, { paymentId, actor: '0xadmin' });
    const key = await refundWallet(parseEther('1'));
    const crashing = sender(key, {
      beforeBroadcast: async () => {
        throw new Error('the process died here');
      },
    });
    await expect(crashing.sendOnce()).rejects.toThrow('the process died here');
    const recorded = await sendState(paymentId);
    expect(recorded).toMatchObject({ state: 'sending', nonce: '0' });
    expect(await anvil.client.getTransactionCount({ address: crashing.address, blockTag: 'pending' })).toBe(0);
    const before = await buyerBalance();
    // A new process, a new nonce manager: it finds the row sending and broadcasts the recorded bytes.
    const restarted = sender(key);
    expect((await restarted.sendOnce())?.sent).toEqual([expect.objectContaining({ paymentId, txHash: recorded.tx_hash })]);
    await anvil.test.mine({ blocks: 1 });
    expect((await restarted.sendOnce())?.confirmed).toEqual([expect.objectContaining({ paymentId, txHash: recorded.tx_hash })]);
    // More rounds (and another restart) send nothing more.
    await restarted.sendOnce();
    await sender(key).sendOnce();
    expect(await buyerBalance()).toBe(before + amount);
    expect(await anvil.client.getTransactionCount({ address: restarted.address })).toBe(1);
    expect(await findPayment(db, paymentId)).toMatchObject({ status: 'refunded', refundTxHash: recorded.tx_hash });
  });

  it('holds a refund that would pass the daily limit of its asset, and sends the ones within it', async () => {
    const first = await paidAndDue(3_000_000n, usdc);
    const second = await paidAndDue(2_500_000n, usdc);
    await approveRefund(db, { paymentId: first, actor: '0xadmin' });
    await approveRefund(db, { paymentId: second, actor: '0xadmin' });
    // 5 USDC a day: the first (3) goes, the second (2.5 more) waits.
    const key = await refundWallet(parseEther('1'), 10_000_000n);
    const limited = sender(key, { dailyLimits: new Map([[usdc.toLowerCase(), 5_000_000n]]) });
    const round = await limited.sendOnce();
    expect(round?.sent).toEqual([expect.objectContaining({ paymentId: first })]);
    expect(round?.waiting).toEqual([expect.objectContaining({ paymentId: second, reason: expect.stringContaining('daily limit') })]);
    expect(await metric('reelboard_refunds_held_by_limit', { chain: String(CHAIN), asset: 'USDC' })).toBe(1);
    await anvil.test.mine({ blocks: 1 });
    await limited.sendOnce();
    expect(await findPayment(db, first)).toMatchObject({ status: 'refunded' });
    expect(await findPayment(db, second)).toMatchObject({ status: 'unmatched', refundDue: '2500000' });
    expect(await sendState(second)).toMatchObject({ state: 'approved', tx_hash: null, last_error: expect.stringContaining('daily limit') });
    const held = await anvil.client.readContract({ address: usdc, abi: erc20Abi, functionName: 'balanceOf', args: [limited.address] });
    expect(held).toBe(7_000_000n);
    // A day later the limit has room again.
    await db('refund_sends')
      .where({ payment_id: first })
      .update({ sent_at: db.raw("now() - interval '25 hours'") });
    expect((await limited.sendOnce())?.sent).toEqual([expect.objectContaining({ paymentId: second })]);
  });

  it('approves by policy only small overpayment and late refunds; others wait for an admin', async () => {
    const small = await paidAndDue(1_000n);
    const big = await paidAndDue(10_000n);
    await db('payments').whereIn('id', [small, big]).update({ status: 'overpaid' });
    const unmatched = await paidAndDue(500n);
    const policy = sender(await refundWallet(parseEther('1')), { autoApprove: new Map([['native', 5_000n]]) });
    const round = await policy.sendOnce();
    expect(round?.approved).toBe(1);
    expect(await sendState(small)).toMatchObject({ approved_by: 'policy:REFUND_AUTO_APPROVE_MAX' });
    expect(await sendState(big)).toBeUndefined();
    expect(await sendState(unmatched)).toBeUndefined();
  });

  it("with the chain's `finalized` policy, records a refund only once the node's finalized block holds it", async () => {
    const paymentId = await paidAndDue(parseEther('0.01'));
    await approveRefund(db, { paymentId, actor: '0xadmin' });
    const finalized = sender(await refundWallet(parseEther('1')), { setting: { ...setting(), confirmationPolicy: 'finalized' } });
    expect((await finalized.sendOnce())?.sent).toEqual([expect.objectContaining({ paymentId })]);
    // Two blocks on top is enough for a depth of 2, not for anvil's finalized block (64 behind the head).
    await anvil.test.mine({ blocks: 2 });
    expect((await finalized.sendOnce())?.confirmed).not.toContainEqual(expect.objectContaining({ paymentId }));
    expect(await sendState(paymentId)).toMatchObject({ state: 'sending' });
    await anvil.test.mine({ blocks: 64 });
    // (The policy test's refund, sending since, is followed and recorded too: a sender follows every row of its chain.)
    expect((await finalized.sendOnce())?.confirmed).toContainEqual(expect.objectContaining({ paymentId }));
    expect(await findPayment(db, paymentId)).toMatchObject({ status: 'refunded' });
  });
});
