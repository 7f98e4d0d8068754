import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFunctionData, erc20Abi, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { type DepositSettings, depositAddressOf } from '@reelboard/chain';
import type { PaymentCredited, UploadReceived } from '@reelboard/contracts';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { type RpcProxy, startRpcProxy } from '@reelboard/testkit/rpc-proxy';
import { compileTestContracts } from '@reelboard/testkit/test-contracts';
import type { DepositWatcherDeps } from '../src/deposit-watcher.js';
import { handleUploadReceived } from '../src/handle-upload-received.js';
import { watchedQuoteOf } from '../src/watch-list.js';
import { makeUpload, PRICE, recordingContext, type WatcherRig, watcherRig } from './support/harness.js';

// What a pass reads follows activity: balances of open quotes every OPEN ms of block time, of
// expired ones every EXPIRED ms, of an address a block pays at once. The chain's clock is moved
// forward (evm_increaseTime) to pass the intervals, so this file has an anvil of its own.
const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 163;
const OPEN = 10_000;
const EXPIRED = 3_600_000;
const buyer = privateKeyToAccount(KEYS.buyer);
const contracts = compileTestContracts();

let anvil: Anvil;
let proxy: RpcProxy;
let forwarder: Hex;
let token: Hex;
const rigs: WatcherRig[] = [];

async function rig(
  name: string,
  deposits: DepositSettings,
  cadence: Pick<DepositWatcherDeps, 'openReadIntervalMs' | 'expiredReadIntervalMs'>,
  rpcUrl = anvil.rpcUrl,
) {
  const made = await watcherRig(name, rpcUrl, deposits, cadence);
  rigs.push(made);
  return made;
}

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  proxy = await startRpcProxy(anvil.rpcUrl, 'activity-cost');
  const deploy = async (name: keyof typeof contracts, args: unknown[] = []) => {
    const { abi, bytecode } = contracts[name];
    const hash = await anvil.wallet(KEYS.deployer).deployContract({ abi, bytecode, args, account: privateKeyToAccount(KEYS.deployer), chain: anvil.chain });
    return ((await anvil.client.waitForTransactionReceipt({ hash })).contractAddress as Hex).toLowerCase() as Hex;
  };
  forwarder = await deploy('Forwarder');
  token = await deploy('TestToken', [buyer.address, 10n ** 24n]);
});

afterAll(async () => {
  for (const r of rigs) await r.close();
  await proxy?.close();
  await anvil?.stop();
});

/** The chain's clock (ms): the intervals are block time, and the clock runs ahead of the wall's here. */
const chainNow = async () => Number((await anvil.client.getBlock()).timestamp) * 1000;

/** An upload whose quote ends `expiresIn` ms of chain time from now (negative: already expired), watched. */
async function receive(r: WatcherRig, expiresIn: number, quote: Partial<UploadReceived['quote']> = {}): Promise<UploadReceived> {
  const now = await chainNow();
  const base = makeUpload(buyer.address, {
    token: r.deposits.token,
    createdAt: new Date(Math.min(now, now + expiresIn) - 60_000).toISOString(),
    expiresAt: new Date(now + expiresIn).toISOString(),
    ...quote,
  });
  const upload = { ...base, quote: { ...base.quote, to: depositAddressOf(r.deposits, base.uploadId) } };
  await r.uploads.register(upload, 'test');
  await handleUploadReceived({ bus: r.bus, watchList: r.watchList, lateWatchMs: 2 * EXPIRED }, upload, recordingContext(r.bus, r.env.log).context);
  return upload;
}

/** Sends a transaction; returns its block's time (ms). */
async function send(key: Hex, to: Hex, value: bigint, data?: Hex): Promise<number> {
  const hash = await anvil.wallet(key).sendTransaction({ to, value, data, account: privateKeyToAccount(key), chain: anvil.chain });
  const receipt = await anvil.client.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe('success');
  return Number((await anvil.client.getBlock({ blockNumber: receipt.blockNumber })).timestamp) * 1000;
}

/** A contract wallet paying the address by an internal call: no transaction, receipt or log of the block names it. */
const payInternally = (to: Hex, value = PRICE) =>
  send(KEYS.stranger, forwarder, value, encodeFunctionData({ abi: contracts.Forwarder.abi, functionName: 'pay', args: [to] }));

/** Moves the chain's clock `seconds` on, mines so that a block stamped then is confirmed (2 confirmations) and runs one pass. */
async function laterScan(r: WatcherRig, seconds = 0): Promise<void> {
  if (seconds > 0) await anvil.test.increaseTime({ seconds });
  await anvil.test.mine({ blocks: seconds > 0 ? 2 : 1 });
  await r.watcher.scanOnce();
}

type DepositCredit = Extract<PaymentCredited, { kind: 'deposit' }>;
const credits = async (r: WatcherRig, uploadId: string): Promise<DepositCredit[]> =>
  ((await r.bus.queue('payment.credited').getJobs(['waiting', 'delayed', 'completed', 'active'])) as { data: PaymentCredited }[])
    .map((job) => job.data)
    .filter((c): c is DepositCredit => c.kind === 'deposit' && c.uploadId === uploadId);

describe('a pass reads the balances of open quotes often, of expired ones rarely, of paid addresses at once', () => {
  it('an internal transfer to an open quote is credited within the open-quote interval', async () => {
    const r = await rig('pw-cost-open', { merchant: MERCHANT, token: null }, { openReadIntervalMs: OPEN, expiredReadIntervalMs: EXPIRED });
    const upload = await receive(r, 15 * 60_000);
    const paidAt = await payInternally(upload.quote.to);
    await laterScan(r);
    // Nothing in the block names the address, and the open quotes were read less than OPEN ago.
    expect(await credits(r, upload.uploadId)).toEqual([]);
    await laterScan(r, OPEN / 1000);
    expect(await r.uploads.state(upload.uploadId)).toBe('paid');
    const [credit] = await credits(r, upload.uploadId);
    expect(credit).toMatchObject({ status: 'paid', totalReceived: PRICE.toString() });
    expect(Date.parse(credit?.blockTime ?? '') - paidAt).toBeLessThanOrEqual(15_000);
  });

  it('an internal transfer to an expired quote is credited within the expired-quote interval, as late', async () => {
    const r = await rig('pw-cost-expired', { merchant: MERCHANT, token: null }, { openReadIntervalMs: OPEN, expiredReadIntervalMs: EXPIRED });
    const upload = await receive(r, -60_000);
    const paidAt = await payInternally(upload.quote.to);
    await laterScan(r);
    // Expired quotes are read once an interval each, at a point of it set by their address
    // (test/expired-spread.test.ts: a slice per pass), so the money is found within the interval.
    await laterScan(r, 600);
    await laterScan(r, EXPIRED / 1000 - 600);
    const [credit] = await credits(r, upload.uploadId);
    expect(credit).toMatchObject({ status: 'late', totalReceived: PRICE.toString() });
    expect(Date.parse(credit?.blockTime ?? '') - paidAt).toBeLessThanOrEqual(EXPIRED + 15_000);
  });

  it('a quote whose deadline the blocks pass is judged at its last in-time block, though its interval was not due', async () => {
    const r = await rig('pw-cost-deadline', { merchant: MERCHANT, token: null }, { openReadIntervalMs: 60_000, expiredReadIntervalMs: EXPIRED });
    const upload = await receive(r, 6_000);
    await payInternally(upload.quote.to);
    await anvil.test.increaseTime({ seconds: 8 });
    await anvil.test.mine({ blocks: 2 });
    await r.watcher.scanOnce();
    expect(await r.uploads.state(upload.uploadId)).toBe('paid');
    expect((await credits(r, upload.uploadId)).map((c) => c.status)).toEqual(['paid']);
  });

  it('a deadline between the cursor’s block and the next: the cursor’s block is read again for it, so in-time money stays in time', async () => {
    const r = await rig('pw-cost-cursor', { merchant: MERCHANT, token: null }, { openReadIntervalMs: 60_000, expiredReadIntervalMs: EXPIRED });
    const paidAt = (await chainNow()) + 10_000;
    const upload = await receive(r, 0, { expiresAt: new Date(paidAt + 500).toISOString() });
    await anvil.test.setNextBlockTimestamp({ timestamp: BigInt(paidAt / 1000) });
    await payInternally(upload.quote.to);
    // The next block is a second later: the deadline falls between the two.
    await anvil.test.setNextBlockTimestamp({ timestamp: BigInt(paidAt / 1000 + 1) });
    await laterScan(r);
    // The pass stopped on the payment's block without reading the open quote (its interval not due).
    expect((await r.watchList.cursor())?.time).toBe(paidAt);
    expect(await credits(r, upload.uploadId)).toEqual([]);
    await anvil.test.mine({ blocks: 2 });
    await r.watcher.scanOnce();
    expect((await credits(r, upload.uploadId)).map((c) => c.status)).toEqual(['paid']);
    expect(await r.uploads.state(upload.uploadId)).toBe('paid');
  });

  it('top-level and token payments are credited on the block that confirms them, open or expired, whatever the intervals', async () => {
    const cadence = { openReadIntervalMs: 3_600_000, expiredReadIntervalMs: 24 * 3_600_000 };
    const native = await rig('pw-cost-top', { merchant: MERCHANT, token: null }, cadence);
    const open = await receive(native, 15 * 60_000);
    const expired = await receive(native, -60_000);
    await send(KEYS.buyer, open.quote.to, PRICE);
    await send(KEYS.buyer, expired.quote.to, PRICE);
    await laterScan(native);
    expect(await native.uploads.state(open.uploadId)).toBe('paid');
    expect((await credits(native, expired.uploadId)).map((c) => c.status)).toEqual(['late']);

    const erc20 = await rig('pw-cost-token', { merchant: MERCHANT, token }, cadence);
    const tokenQuote = await receive(erc20, 15 * 60_000, { amount: '700' });
    await send(KEYS.buyer, token, 0n, encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [forwarder, 700n] }));
    // From a contract: the token's Transfer log names the address, the transaction does not.
    await send(
      KEYS.stranger,
      forwarder,
      0n,
      encodeFunctionData({ abi: contracts.Forwarder.abi, functionName: 'payToken', args: [token, tokenQuote.quote.to, 700n] }),
    );
    await laterScan(erc20);
    expect(await erc20.uploads.state(tokenQuote.uploadId)).toBe('paid');
  });

  it('calls per idle block stay constant as the quotes watched grow (JSON-RPC calls counted at the node)', async () => {
    const r = await rig('pw-cost-calls', { merchant: MERCHANT, token: null }, { openReadIntervalMs: OPEN, expiredReadIntervalMs: EXPIRED }, proxy.url);
    /** Calls of each of three idle passes, right after the open quotes were read (their interval not due again). */
    const idlePasses = async (): Promise<number[]> => {
      await laterScan(r, OPEN / 1000 + 1);
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        proxy.calls = {};
        await laterScan(r);
        counts.push(Object.values(proxy.calls).reduce((a, b) => a + b, 0));
        expect(proxy.calls.eth_getBalance ?? 0, JSON.stringify(proxy.calls)).toBe(0);
      }
      return counts;
    };
    const grow = async (count: number) => {
      const now = await chainNow();
      for (let i = 0; i < count; i++) {
        const upload = makeUpload(buyer.address, { expiresAt: new Date(now + (i % 2 === 0 ? 15 * 60_000 : -3_600_000)).toISOString() });
        const quote = watchedQuoteOf({ ...upload, quote: { ...upload.quote, to: depositAddressOf(r.deposits, upload.uploadId) } });
        await r.watchList.watch(quote, Date.now() + 7 * 24 * 3_600_000);
      }
    };
    await grow(10);
    const few = await idlePasses();
    await grow(400);
    const many = await idlePasses();
    expect(many).toEqual(few);
    expect(Math.max(...many)).toBeLessThanOrEqual(5);
  });
});
