import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFunctionData, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { Bus } from '@reelboard/bus';
import type { PaymentConfirmed, PaymentRecorded, UploadReceived } from '@reelboard/contracts';
import { handlePaymentSubmitted } from '../src/handle-payment-submitted.js';
import { EXPIRED_CLAIM, PaymentLedger } from '../src/payment-ledger.js';
import { KEYS, MERCHANT, startAnvil, type Anvil } from './support/anvil.js';
import { compileTestContracts } from './support/contracts.js';
import { makeUpload, PRICE, recordingContext, runOnce, testBus } from './support/harness.js';

const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 101;
const buyer = privateKeyToAccount(KEYS.buyer).address.toLowerCase() as Hex;
const stranger = privateKeyToAccount(KEYS.stranger).address.toLowerCase() as Hex;

let anvil: Anvil;
let env: ReturnType<typeof testBus>;
let bus: Bus;
let ledger: PaymentLedger;
const contracts = compileTestContracts();
let token: Hex;
let lookAlike: Hex;
let alwaysReverts: Hex;

async function deploy(name: keyof typeof contracts, args: unknown[] = []): Promise<Hex> {
  const { abi, bytecode } = contracts[name];
  const hash = await anvil.wallet(KEYS.deployer).deployContract({ abi, bytecode, args, account: privateKeyToAccount(KEYS.deployer), chain: anvil.chain });
  const receipt = await anvil.client.waitForTransactionReceipt({ hash });
  return (receipt.contractAddress as Hex).toLowerCase() as Hex;
}

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  env = testBus('pw-submitted');
  bus = env.bus;
  ledger = new PaymentLedger(env.redis, env.prefix);
  token = await deploy('TestToken', [buyer, 10n ** 24n]);
  lookAlike = await deploy('LookAlikeToken');
  alwaysReverts = await deploy('AlwaysReverts');
});

afterAll(async () => {
  await bus?.close(1_000);
  await env?.redis.quit();
  await anvil?.stop();
});

/** Sends native coin from `key`; waits for it to be mined when automine is on. */
async function payNative(key: Hex, to: Hex, value: bigint, extra: { gas?: bigint } = {}): Promise<Hex> {
  const hash = await anvil.wallet(key).sendTransaction({ to, value, account: privateKeyToAccount(key), chain: anvil.chain, ...extra });
  await anvil.client.waitForTransactionReceipt({ hash });
  return hash;
}

/** Calls `transfer(to, value)` on an ERC-20-shaped contract from `key`. */
async function payToken(key: Hex, contract: Hex, to: Hex, value: bigint): Promise<Hex> {
  const data = encodeFunctionData({ abi: contracts.TestToken.abi, functionName: 'transfer', args: [to, value] });
  const hash = await anvil.wallet(key).sendTransaction({ to: contract, data, account: privateKeyToAccount(key), chain: anvil.chain });
  await anvil.client.waitForTransactionReceipt({ hash });
  return hash;
}

async function register(upload: UploadReceived): Promise<UploadReceived> {
  await bus.status.registerUpload(upload);
  return upload;
}

/** Runs the payment.submitted handler once for `txHash`, as the bus would, recording what it reports. */
async function submit(upload: UploadReceived, txHash: Hex, confirmations = 1) {
  const recorder = recordingContext(bus, env.log);
  const deps = { bus, chain: anvil.client, ledger, chainId: 31337, confirmations, pollIntervalMs: 100, unseenGraceMs: 60_000 };
  const run = await runOnce(() => handlePaymentSubmitted(deps, { uploadId: upload.uploadId, txHash }, recorder.context));
  const confirmed = recorder.emitted.find((e) => e.channel === 'payment.confirmed')?.payload as PaymentConfirmed | undefined;
  const rejected = recorder.statuses.find((s) => s.event === 'payment.rejected');
  return { run, confirmed, rejected, statuses: recorder.statuses };
}

/** The refund record queued for profile-writer for this transfer, if any. */
async function recordedFor(upload: UploadReceived, txHash: Hex, logIndex: number | null = null): Promise<PaymentRecorded | undefined> {
  const job = await bus.queue('payment.recorded').getJob(`${upload.uploadId}.${txHash.toLowerCase()}.${logIndex ?? 'native'}.payment.recorded`);
  return job?.data as PaymentRecorded | undefined;
}

describe('happy paths', () => {
  it('confirms a native payment from the owner to the merchant and hands the upload on', async () => {
    const upload = await register(makeUpload(buyer));
    const txHash = await payNative(KEYS.buyer, MERCHANT, PRICE);
    const { run, confirmed, rejected } = await submit(upload, txHash);
    expect(rejected).toBeUndefined();
    expect(run).toBe('done');
    expect(confirmed?.payment).toMatchObject({ txHash: txHash.toLowerCase(), from: buyer, to: MERCHANT, token: null, logIndex: null, amount: PRICE.toString(), status: 'paid' });
    expect(await ledger.paidBy(upload.uploadId)).toBe(txHash.toLowerCase());
    expect(await bus.queue('payment.confirmed').getJob(`${upload.uploadId}.payment.confirmed`)).toBeDefined();
  });

  it('confirms an ERC-20 payment by the configured token Transfer log', async () => {
    const upload = await register(makeUpload(buyer, { token, amount: '5000' }));
    const txHash = await payToken(KEYS.buyer, token, MERCHANT, 5000n);
    const { confirmed, rejected } = await submit(upload, txHash);
    expect(rejected).toBeUndefined();
    expect(confirmed?.payment).toMatchObject({ token, amount: '5000', status: 'paid', to: MERCHANT });
    expect(confirmed?.payment.logIndex).toEqual(expect.any(Number));
  });

  it('accepts an overpayment and flags it', async () => {
    const upload = await register(makeUpload(buyer));
    const txHash = await payNative(KEYS.buyer, MERCHANT, PRICE * 2n);
    const { confirmed } = await submit(upload, txHash);
    expect(confirmed?.payment).toMatchObject({ status: 'overpaid', amount: (PRICE * 2n).toString() });
  });
});

describe('each check refuses on its own', () => {
  it('wrong sender: paid by another wallet', async () => {
    const upload = await register(makeUpload(buyer));
    const { rejected, confirmed } = await submit(upload, await payNative(KEYS.stranger, MERCHANT, PRICE));
    expect(confirmed).toBeUndefined();
    expect(rejected).toMatchObject({ message: 'wrong_sender', state: 'awaiting_payment' });
    expect(rejected?.reason).toContain(stranger);
  });

  it('wrong chain: the quote is for another chain than the one verified', async () => {
    const upload = await register(makeUpload(buyer, { chainId: 1 }));
    const { rejected, confirmed } = await submit(upload, await payNative(KEYS.buyer, MERCHANT, PRICE));
    expect(confirmed).toBeUndefined();
    expect(rejected?.message).toBe('wrong_chain');
  });

  it('reverted: the payment to a contract that always reverts', async () => {
    // The merchant here is a contract that refuses every payment: only the receipt's status fails.
    const upload = await register(makeUpload(buyer, { to: alwaysReverts }));
    const { rejected, confirmed } = await submit(upload, await payNative(KEYS.buyer, alwaysReverts, PRICE, { gas: 100_000n }));
    expect(confirmed).toBeUndefined();
    expect(rejected?.message).toBe('reverted');
  });

  it('wrong recipient: full price to someone who is not the merchant', async () => {
    const upload = await register(makeUpload(buyer));
    const { rejected } = await submit(upload, await payNative(KEYS.buyer, stranger, PRICE));
    expect(rejected?.message).toBe('wrong_recipient');
  });

  it('underpayment: recorded as partial for refund, and the upload stays payable', async () => {
    const upload = await register(makeUpload(buyer));
    const partial = await payNative(KEYS.buyer, MERCHANT, PRICE / 2n);
    const first = await submit(upload, partial);
    expect(first.confirmed).toBeUndefined();
    expect(first.rejected).toMatchObject({ message: 'underpaid', state: 'awaiting_payment' });
    expect((await recordedFor(upload, partial))?.payment).toMatchObject({ status: 'partial', amount: (PRICE / 2n).toString() });
    expect(await ledger.paidBy(upload.uploadId)).toBeUndefined();

    const full = await submit(upload, await payNative(KEYS.buyer, MERCHANT, PRICE));
    expect(full.confirmed?.payment.status).toBe('paid');
  });

  it('fake token: a look-alike contract emitting Transfer to the merchant does not pay', async () => {
    const upload = await register(makeUpload(buyer, { token, amount: '5000' }));
    const { rejected, confirmed } = await submit(upload, await payToken(KEYS.buyer, lookAlike, MERCHANT, 5000n));
    expect(confirmed).toBeUndefined();
    expect(rejected?.message).toBe('wrong_token');
  });

  it('old transaction: mined before the quote was made', async () => {
    const txHash = await payNative(KEYS.buyer, MERCHANT, PRICE);
    const receipt = await anvil.client.getTransactionReceipt({ hash: txHash });
    const block = await anvil.client.getBlock({ blockNumber: receipt.blockNumber });
    const createdAt = new Date((Number(block.timestamp) + 2) * 1000).toISOString();
    const upload = await register(makeUpload(buyer, { createdAt }));
    const { rejected, confirmed } = await submit(upload, txHash);
    expect(confirmed).toBeUndefined();
    expect(rejected?.message).toBe('predates_quote');
  });

  it('expiry: a payment mined after the quote expired is recorded paid-late for refund', async () => {
    const now = Date.now();
    const upload = await register(makeUpload(buyer, { createdAt: new Date(now - 60_000).toISOString(), expiresAt: new Date(now - 5_000).toISOString() }));
    const txHash = await payNative(KEYS.buyer, MERCHANT, PRICE);
    const { rejected, confirmed } = await submit(upload, txHash);
    expect(confirmed).toBeUndefined();
    expect(rejected).toMatchObject({ message: 'late', state: 'expired' });
    expect((await recordedFor(upload, txHash))?.payment.status).toBe('late');
    expect(await ledger.paidBy(upload.uploadId)).toBe(EXPIRED_CLAIM);
  });

  it('confirmations: too few waits, and enough after more blocks are mined confirms', async () => {
    const upload = await register(makeUpload(buyer));
    const txHash = await payNative(KEYS.buyer, MERCHANT, PRICE);
    const early = await submit(upload, txHash, 3);
    expect(early.run).toBe('retry');
    expect(early.confirmed).toBeUndefined();
    expect(early.statuses.at(-1)?.message).toContain('1 of 3 confirmations');
    expect(await ledger.inFlightCount(upload.uploadId)).toBe(1);

    await anvil.test.mine({ blocks: 2 });
    const later = await submit(upload, txHash, 3);
    expect(later.run).toBe('done');
    expect(later.confirmed?.payment.txHash).toBe(txHash.toLowerCase());
    expect(await ledger.inFlightCount(upload.uploadId)).toBe(0);
  });

  it('replaced transaction: judged by what was mined (a cancel pays nothing, a speed-up pays)', async () => {
    const wallet = anvil.wallet(KEYS.buyer);
    const account = privateKeyToAccount(KEYS.buyer);
    await anvil.test.setAutomine(false);
    try {
      for (const replacement of ['cancel', 'speed-up'] as const) {
        const upload = await register(makeUpload(buyer));
        const nonce = await anvil.client.getTransactionCount({ address: account.address, blockTag: 'pending' });
        const slow = await wallet.sendTransaction({ account, chain: anvil.chain, to: MERCHANT, value: PRICE, nonce, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n });
        expect((await submit(upload, slow)).run).toBe('retry');

        const to = replacement === 'cancel' ? account.address : MERCHANT;
        const value = replacement === 'cancel' ? 0n : PRICE;
        const fast = await wallet.sendTransaction({ account, chain: anvil.chain, to, value, nonce, maxFeePerGas: 9_000_000_000n, maxPriorityFeePerGas: 3_000_000_000n });
        await anvil.test.mine({ blocks: 1 });

        const followed = await submit(upload, slow);
        expect(followed.confirmed).toBeUndefined();
        expect(followed.statuses.at(-1)?.message).toContain(`replaced by ${fast.toLowerCase()}`);
        expect(await bus.queue('payment.submitted').getJob(`${upload.uploadId}.${fast.toLowerCase()}`)).toBeDefined();

        const judged = await submit(upload, fast);
        if (replacement === 'cancel') {
          expect(judged.confirmed).toBeUndefined();
          expect(judged.rejected?.message).toBe('wrong_recipient');
        } else {
          expect(judged.confirmed?.payment.txHash).toBe(fast.toLowerCase());
        }
      }
    } finally {
      await anvil.test.setAutomine(true);
    }
  });

  it('the same hash for two uploads: the second is refused', async () => {
    const first = await register(makeUpload(buyer));
    const second = await register(makeUpload(buyer));
    const txHash = await payNative(KEYS.buyer, MERCHANT, PRICE);
    expect((await submit(first, txHash)).confirmed).toBeDefined();
    const again = await submit(second, txHash);
    expect(again.confirmed).toBeUndefined();
    expect(again.rejected?.message).toBe('tx_reused');
    expect(await ledger.paidBy(second.uploadId)).toBeUndefined();
  });
});

describe('the expiry race', () => {
  it('a payment mined in time for an upload the expiry already claimed is kept for refund, not lost', async () => {
    const upload = await register(makeUpload(buyer));
    const txHash = await payNative(KEYS.buyer, MERCHANT, PRICE);
    await ledger.markPaid(upload.uploadId, EXPIRED_CLAIM);
    const { confirmed } = await submit(upload, txHash);
    expect(confirmed).toBeUndefined();
    const failed = await bus.queue('upload.failed').getJob(`${upload.uploadId}.upload.failed`);
    expect(failed?.data).toMatchObject({ stage: 'payment-watcher', upload: { payment: { txHash: txHash.toLowerCase(), status: 'paid' } } });
  });
});

// Last in the file: anvil_reorg rewrites the chain's recent history (the buyer's nonces and block
// times with it), which would disturb any payment test that ran after it on the same chain.
describe('reorgs', () => {
  it('reorg: a payment removed by anvil_reorg is never confirmed', async () => {
    const upload = await register(makeUpload(buyer));
    const txHash = await payNative(KEYS.buyer, MERCHANT, PRICE);
    expect((await submit(upload, txHash, 2)).run).toBe('retry');

    await anvil.test.request({ method: 'anvil_reorg', params: [1, []] } as never);
    await anvil.test.mine({ blocks: 3 });
    const after = await submit(upload, txHash, 2);
    expect(after.confirmed).toBeUndefined();
    expect(after.run).toBe('retry');
    expect(await ledger.paidBy(upload.uploadId)).toBeUndefined();
  });
});
