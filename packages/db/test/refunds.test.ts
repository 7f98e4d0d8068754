import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClient, createWalletClient, type Hex, http, type PublicClient } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { chainFor, createChainClient, refundChainReader } from '@reelboard/chain';
import {
  applyCredit,
  connectDatabase,
  findPayment,
  type Knex,
  migrateToLatest,
  paymentHistory,
  type QuoteRecord,
  type RefundChainReader,
  RefundConflictError,
  RefundVerificationError,
  recordQuote,
  refundAddressMessage,
  refundPayment,
} from '@reelboard/db';
import { depositCredit, quoteInput, randomAddress, randomTxHash, transfer } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { compileTestContracts } from '@reelboard/testkit/test-contracts';

// The refund wallet of these tests: a key of their own, funded by anvil_setBalance (no other test shares its nonces).
const refunder = privateKeyToAccount(generatePrivateKey());
const infra = infraEnv();
const CHAIN_ID = Number(infra.CHAIN_ID);
const chainConfig = { rpcUrl: infra.RPC_URL ?? '', chainId: CHAIN_ID };
const chainDef = chainFor(chainConfig);
const wallet = createWalletClient({ account: refunder, chain: chainDef, transport: http(infra.RPC_URL) });
const testClient = createTestClient({ chain: chainDef, mode: 'anvil', transport: http(infra.RPC_URL) });
let client: PublicClient;
let chain: RefundChainReader;
let db: Knex;
let token: Hex;
let reverter: Hex;
const quoteIds: string[] = [];
const unmatchedHashes: string[] = [];
const DUE = 10_000n;

/** A quote owned by a fresh key (so the owner can sign), credited late: all of it due back. */
async function owedRow(overrides: Partial<QuoteRecord> = {}) {
  const ownerKey = generatePrivateKey();
  const owner = privateKeyToAccount(ownerKey);
  const q = quoteInput({ owner: owner.address, amount: DUE.toString(), ...overrides });
  await recordQuote(db, q);
  quoteIds.push(q.quoteId);
  const [id] = (await applyCredit(db, depositCredit(q, { totalReceived: DUE.toString(), status: 'late' }))).paymentIds;
  return { id: id as number, owner, q };
}

/** Sends a real signed transaction from the refund wallet and waits for its receipt. */
async function send(args: { to: Hex; value?: bigint; data?: Hex; gas?: bigint }): Promise<Hex> {
  const hash = await wallet.sendTransaction(args);
  await client.waitForTransactionReceipt({ hash });
  return hash;
}

/** Mines blocks on top, so a transaction reaches the confirmations the refund needs. */
const confirm = () => testClient.mine({ blocks: 1 });

const deps = () => ({ db, chain, confirmations: 2 });
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => 'recorded',
    (error: unknown) => error,
  );

beforeAll(async () => {
  db = connectDatabase(infra.TEST_DATABASE_URL ?? '', { min: 0, max: 4 });
  await migrateToLatest(db);
  client = createChainClient(chainConfig);
  await testClient.setBalance({ address: refunder.address, value: 10n ** 21n });
  chain = refundChainReader(client, CHAIN_ID);
  const contracts = compileTestContracts();
  const deploy = async (name: 'TestToken' | 'AlwaysReverts', args: unknown[]) => {
    const hash = await wallet.deployContract({ abi: contracts[name].abi, bytecode: contracts[name].bytecode, args });
    return (await client.waitForTransactionReceipt({ hash })).contractAddress as Hex;
  };
  token = await deploy('TestToken', [refunder.address, 10n ** 24n]);
  reverter = await deploy('AlwaysReverts', []);
}, 60_000);

afterAll(async () => {
  if (quoteIds.length) await db('payments').whereIn('quote_id', quoteIds).delete();
  if (unmatchedHashes.length) await db('payments').whereIn('tx_hash', unmatchedHashes).delete();
  if (quoteIds.length) await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  await db?.destroy();
});

describe('refundPayment: a refund is recorded only as the chain shows it', () => {
  it('records a confirmed native refund to the owner once; before its confirmations it is refused', async () => {
    const { id, owner } = await owedRow();
    const tx = await send({ to: owner.address, value: DUE });
    const early = await refusal(refundPayment(deps(), { paymentId: id, txHash: tx, actor: 'ops' }));
    expect(early).toBeInstanceOf(RefundVerificationError);
    expect(early).toMatchObject({ code: 'refund_tx_unconfirmed', details: { confirmations: 1, required: 2 } });
    expect(await findPayment(db, id)).toMatchObject({ status: 'late', refundDue: DUE.toString() });

    await confirm();
    const done = await refundPayment(deps(), { paymentId: id, txHash: tx, actor: 'ops' });
    expect(done).toMatchObject({
      refunded: DUE.toString(),
      repeated: false,
      payment: { status: 'refunded', refundDue: '0', refundTxHash: tx, refundTo: owner.address.toLowerCase() },
    });
    const [event] = await db('payment_events').where({ payment_id: id });
    expect(event).toMatchObject({ recipient: owner.address.toLowerCase(), recipient_signature: null, tx_hash: tx });
    // The same call again changes nothing.
    expect(await refundPayment(deps(), { paymentId: id, txHash: tx, actor: 'ops' })).toMatchObject({ repeated: true });
    expect(await paymentHistory(db, id)).toHaveLength(1);
  });

  it('refuses a hash that already refunded another row: one transaction refunds one payment', async () => {
    const first = await owedRow();
    const second = await owedRow();
    // One transaction paying both owners' due to the first owner twice over still refunds only one row.
    const tx = await send({ to: first.owner.address, value: DUE * 2n });
    await confirm();
    await refundPayment(deps(), { paymentId: first.id, txHash: tx, actor: 'ops' });
    // Even named as a proven recipient of the second row, the hash is spent.
    const signature = await second.owner.signMessage({
      message: refundAddressMessage({ paymentId: second.id, chainId: CHAIN_ID, address: first.owner.address }),
    });
    const reused = await refusal(refundPayment(deps(), { paymentId: second.id, txHash: tx, actor: 'ops', to: first.owner.address, signature }));
    expect(reused).toBeInstanceOf(RefundConflictError);
    expect(reused).toMatchObject({ code: 'refund_tx_used', message: expect.stringContaining(`refunded payment ${first.id}`) });
    expect(await findPayment(db, second.id)).toMatchObject({ refundDue: DUE.toString(), refundTxHash: null });
  });

  it('refuses a transaction that is unknown, reverted, short, of another asset or to someone else', async () => {
    const { id, owner } = await owedRow();
    const code = async (txHash: string, extra: { to?: string; signature?: string } = {}) =>
      ((await refusal(refundPayment(deps(), { paymentId: id, txHash, actor: 'ops', ...extra }))) as RefundVerificationError).code;

    expect(await code(randomTxHash())).toBe('refund_tx_not_found');
    const reverted = await send({ to: reverter, value: DUE, gas: 100_000n });
    const short = await send({ to: owner.address, value: DUE - 1n });
    const stranger = randomAddress();
    const elsewhere = await send({ to: stranger, value: DUE });
    const tokens = await send({ to: token, data: transferData(owner.address, DUE) });
    await confirm();
    await confirm();
    expect(await code(reverted)).toBe('refund_tx_reverted');
    expect(await code(short)).toBe('refund_amount_short');
    expect(await code(elsewhere)).toBe('refund_wrong_recipient');
    expect(await code(tokens)).toBe('refund_wrong_asset');
    // Naming the stranger is not enough: the payer must sign it, and a signature by anyone else proves nothing.
    expect(await code(elsewhere, { to: stranger })).toBe('refund_recipient_unproven');
    const notThePayer = privateKeyToAccount(generatePrivateKey());
    const forged = await notThePayer.signMessage({ message: refundAddressMessage({ paymentId: id, chainId: CHAIN_ID, address: stranger }) });
    expect(await code(elsewhere, { to: stranger, signature: forged })).toBe('refund_recipient_unproven');
    // A signature for another payment does not carry over.
    const otherPayment = await owner.signMessage({ message: refundAddressMessage({ paymentId: id + 1, chainId: CHAIN_ID, address: stranger }) });
    expect(await code(elsewhere, { to: stranger, signature: otherPayment })).toBe('refund_recipient_unproven');
    expect(await findPayment(db, id)).toMatchObject({ status: 'late', refundDue: DUE.toString() });
    expect(await paymentHistory(db, id)).toEqual([]);

    // The owner's signature naming the stranger makes that refund count.
    const signature = await owner.signMessage({ message: refundAddressMessage({ paymentId: id, chainId: CHAIN_ID, address: stranger }) });
    const done = await refundPayment(deps(), { paymentId: id, txHash: elsewhere, actor: 'ops', to: stranger, signature });
    expect(done.payment).toMatchObject({ status: 'refunded', refundTo: stranger.toLowerCase(), refundTxHash: elsewhere });
    expect(await db('payment_events').where({ payment_id: id }).first()).toMatchObject({ recipient: stranger.toLowerCase(), recipient_signature: signature });
  });

  it("verifies a token refund by the token's Transfer log, and refunds an unmatched transfer to its sender", async () => {
    const { id, owner } = await owedRow({ token });
    const native = await send({ to: owner.address, value: DUE });
    const otherToken = await send({ to: token, data: transferData(randomAddress(), DUE) });
    const tokens = await send({ to: token, data: transferData(owner.address, DUE) });
    await confirm();
    expect(await refusal(refundPayment(deps(), { paymentId: id, txHash: native, actor: 'ops' }))).toMatchObject({ code: 'refund_wrong_asset' });
    expect(await refusal(refundPayment(deps(), { paymentId: id, txHash: otherToken, actor: 'ops' }))).toMatchObject({ code: 'refund_wrong_recipient' });
    expect(await refundPayment(deps(), { paymentId: id, txHash: tokens, actor: 'ops' })).toMatchObject({
      refunded: DUE.toString(),
      payment: { refundTo: owner.address.toLowerCase() },
    });

    // An unmatched transfer has no owner: its named sender gets it back.
    const sent = transfer('321');
    unmatchedHashes.push(sent.txHash);
    const [unmatched] = (
      await applyCredit(db, {
        kind: 'merchant',
        chainId: CHAIN_ID,
        address: randomAddress(),
        token: null,
        transfer: sent,
        blockNumber: '9',
        blockTime: new Date().toISOString(),
      })
    ).paymentIds;
    const back = await send({ to: sent.from, value: 321n });
    await confirm();
    expect(await refundPayment(deps(), { paymentId: unmatched as number, txHash: back, actor: 'ops' })).toMatchObject({
      payment: { refundTo: sent.from.toLowerCase() },
    });
  });

  it('refuses a row of another chain than the one it reads', async () => {
    const { id } = await owedRow({ chainId: 999_001 });
    expect(await refusal(refundPayment(deps(), { paymentId: id, txHash: randomTxHash(), actor: 'ops' }))).toMatchObject({ code: 'refund_wrong_chain' });
  });
});

/** ERC-20 `transfer(to, value)` calldata. */
function transferData(to: string, value: bigint): Hex {
  return `0xa9059cbb${to.slice(2).toLowerCase().padStart(64, '0')}${value.toString(16).padStart(64, '0')}`;
}
