import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFunctionData, erc20Abi, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { type DepositSettings, depositAddressOf, sweepDeposits } from '@reelboard/chain';
import type { PaymentCredited, UploadReceived } from '@reelboard/contracts';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { compileTestContracts } from '@reelboard/testkit/test-contracts';
import { DepositWatcher, type DepositWatcherDeps } from '../src/deposit-watcher.js';
import { handlePaymentSubmitted } from '../src/handle-payment-submitted.js';
import { handleUploadExpire } from '../src/handle-upload-expire.js';
import { handleUploadReceived } from '../src/handle-upload-received.js';
import { makeUpload, PRICE, recordingContext, runOnce, type WatcherRig, watcherRig } from './support/harness.js';

const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 101;
const buyer = privateKeyToAccount(KEYS.buyer);
const stranger = privateKeyToAccount(KEYS.stranger);
const contracts = compileTestContracts();

let anvil: Anvil;
let staging: string;
let forwarder: Hex;
let executor: Hex;
let token: Hex;

/** One payment setup (native coin, or the ERC-20) with its own Redis prefix, lifecycle and watcher. */
type Rig = WatcherRig;
const rigs: Rig[] = [];

async function rig(name: string, deposits: DepositSettings): Promise<Rig> {
  const made = await watcherRig(name, anvil.rpcUrl, deposits);
  rigs.push(made);
  return made;
}

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  staging = await mkdtemp(join(tmpdir(), 'pw-deposits-'));
  const deploy = async (name: keyof typeof contracts, args: unknown[] = []) => {
    const { abi, bytecode } = contracts[name];
    const hash = await anvil.wallet(KEYS.deployer).deployContract({ abi, bytecode, args, account: privateKeyToAccount(KEYS.deployer), chain: anvil.chain });
    return ((await anvil.client.waitForTransactionReceipt({ hash })).contractAddress as Hex).toLowerCase() as Hex;
  };
  forwarder = await deploy('Forwarder');
  executor = await deploy('BatchExecutor');
  token = await deploy('TestToken', [buyer.address, 10n ** 24n]);
});

afterAll(async () => {
  for (const r of rigs) await r.close();
  await anvil?.stop();
  if (staging) await rm(staging, { recursive: true, force: true });
});

/** An upload the gateway accepted (quote to its deposit address) and the watcher now watches. */
async function receive(r: Rig, quote: Partial<UploadReceived['quote']> = {}): Promise<UploadReceived> {
  const base = makeUpload(buyer.address, { token: r.deposits.token, ...quote });
  const upload = { ...base, quote: { ...base.quote, to: depositAddressOf(r.deposits, base.uploadId) } };
  await r.uploads.register(upload, 'test');
  await handleUploadReceived({ bus: r.bus, watchList: r.watchList, lateWatchMs: 3_600_000 }, upload, recordingContext(r.bus, r.env.log).context);
  return upload;
}

async function send(key: Hex, to: Hex, value: bigint, data?: Hex): Promise<Hex> {
  const hash = await anvil.wallet(key).sendTransaction({ to, value, data, account: privateKeyToAccount(key), chain: anvil.chain });
  const receipt = await anvil.client.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe('success');
  return hash;
}

/** Mines the confirming block(s) and runs one pass. */
async function confirmAndScan(r: Rig, blocks = 1): Promise<void> {
  await anvil.test.mine({ blocks });
  await r.watcher.scanOnce();
}

/**
 * The deadline counts as read once a block stamped after it is confirmed: waits until the chain's
 * clock (whole seconds) is past the deadline, then mines two blocks.
 */
async function passTheDeadline(r: Rig, upload: UploadReceived): Promise<void> {
  const deadline = Date.parse(upload.quote.expiresAt);
  const wait = deadline + 1_100 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  await confirmAndScan(r, 2);
  // What the expiry then decides rests on this: say so plainly if the pass did not get there.
  const cursor = await r.watchList.cursor();
  const head = await anvil.client.getBlock();
  expect(
    cursor?.time,
    `the pass read up to block ${cursor?.block} (${cursor ? new Date(cursor.time).toISOString() : 'none'}); head ${head.number} at ${new Date(Number(head.timestamp) * 1000).toISOString()}; deadline ${upload.quote.expiresAt}`,
  ).toBeGreaterThan(deadline);
}

type DepositCredit = Extract<PaymentCredited, { kind: 'deposit' }>;
/** The deposit credits sent to the ledger for an upload, by total. */
const credits = async (r: Rig, uploadId: string): Promise<DepositCredit[]> =>
  ((await r.bus.queue('payment.credited').getJobs(['waiting', 'delayed', 'completed', 'active'])) as { data: PaymentCredited }[])
    .map((job) => job.data)
    .filter((c): c is DepositCredit => c.kind === 'deposit' && c.uploadId === uploadId)
    .sort((a, b) => (BigInt(a.totalReceived) < BigInt(b.totalReceived) ? -1 : 1));

const confirmedJob = (r: Rig, uploadId: string) => r.bus.queue('payment.confirmed').getJob(`${uploadId}.payment.confirmed`);

/** The upload ended paid, its media work is queued once, and the ledger got one `paid` credit. */
async function expectPaid(r: Rig, upload: UploadReceived, amount = PRICE): Promise<void> {
  expect(await r.uploads.state(upload.uploadId)).toBe('paid');
  const job = await confirmedJob(r, upload.uploadId);
  expect(job?.data.payment).toMatchObject({ address: upload.quote.to, amount: amount.toString(), status: amount === PRICE ? 'paid' : 'overpaid' });
  expect(job?.data.owner).toBe(buyer.address.toLowerCase());
  const recorded = await credits(r, upload.uploadId);
  expect(recorded.at(-1)).toMatchObject({ kind: 'deposit', totalReceived: amount.toString(), status: amount === PRICE ? 'paid' : 'overpaid' });
}

describe('native coin: whatever reaches the deposit address pays the upload', () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig('pw-dep-native', { merchant: MERCHANT, token: null });
  });

  it('an EOA transfer, once confirmed, makes the upload paid; the transfer is attributed', async () => {
    const upload = await receive(r);
    const txHash = await send(KEYS.buyer, upload.quote.to, PRICE);
    // One block is not enough confirmations.
    await r.watcher.scanOnce();
    expect(await r.uploads.state(upload.uploadId)).toBe('awaiting_payment');
    await confirmAndScan(r);
    await expectPaid(r, upload);
    const [credit] = await credits(r, upload.uploadId);
    expect(credit).toMatchObject({ transfers: [{ txHash, from: buyer.address.toLowerCase(), amount: PRICE.toString() }] });
    expect(r.events.filter((e) => e.uploadId === upload.uploadId).map((e) => [e.event, e.state])).toEqual([
      ['upload.received', 'awaiting_payment'],
      ['payment.confirmed', 'paid'],
    ]);
  });

  it('a contract wallet paying by an internal call (no top-level transfer to the address)', async () => {
    const upload = await receive(r);
    await send(KEYS.stranger, forwarder, PRICE, encodeFunctionData({ abi: contracts.Forwarder.abi, functionName: 'pay', args: [upload.quote.to] }));
    await confirmAndScan(r);
    await expectPaid(r, upload);
    expect((await credits(r, upload.uploadId))[0]?.transfers).toEqual([]);
  });

  it('an EIP-7702-delegated account paying inside a batch of calls', async () => {
    const upload = await receive(r);
    const wallet = anvil.wallet(KEYS.stranger);
    const authorization = await wallet.signAuthorization({ account: stranger, contractAddress: executor, executor: 'self' });
    const data = encodeFunctionData({
      abi: contracts.BatchExecutor.abi,
      functionName: 'execute',
      args: [
        [
          { to: upload.quote.to, value: PRICE / 4n, data: '0x' },
          { to: upload.quote.to, value: (PRICE * 3n) / 4n, data: '0x' },
        ],
      ],
    });
    const hash = await wallet.sendTransaction({
      account: stranger,
      chain: anvil.chain,
      authorizationList: [authorization],
      to: stranger.address,
      value: PRICE,
      data,
    });
    expect((await anvil.client.waitForTransactionReceipt({ hash })).status).toBe('success');
    await confirmAndScan(r);
    await expectPaid(r, upload);
  });

  it('a wallet other than the signed-in one pays; the upload stays its owner’s', async () => {
    const upload = await receive(r);
    await send(KEYS.stranger, upload.quote.to, PRICE);
    await confirmAndScan(r);
    await expectPaid(r, upload);
  });

  it('two partial payments add up; the owner is told what is still missing', async () => {
    const upload = await receive(r);
    await send(KEYS.buyer, upload.quote.to, PRICE / 2n);
    await confirmAndScan(r);
    expect(await r.uploads.state(upload.uploadId)).toBe('awaiting_payment');
    expect(r.events.find((e) => e.uploadId === upload.uploadId && e.event === 'payment.received')).toMatchObject({
      code: 'partial',
      state: 'awaiting_payment',
    });
    await send(KEYS.stranger, upload.quote.to, PRICE / 2n);
    await confirmAndScan(r);
    await expectPaid(r, upload);
    expect((await credits(r, upload.uploadId)).map((c) => c.status)).toEqual(['partial', 'paid']);
  });

  it('what a sweep moved to the merchant still counts: the total is balance plus swept', async () => {
    const upload = await receive(r);
    await send(KEYS.buyer, upload.quote.to, PRICE / 2n);
    await confirmAndScan(r);
    const swept = await sweepDeposits(anvil.wallet(KEYS.deployer) as never, anvil.client, r.deposits, [upload.uploadId]);
    expect(swept.sweeps[0]?.native).toBe(PRICE / 2n);
    await send(KEYS.buyer, upload.quote.to, PRICE / 2n);
    await confirmAndScan(r);
    await expectPaid(r, upload);
  });

  it('paid twice: the second payment is recorded overpaid (due back) and the upload is not touched', async () => {
    const upload = await receive(r);
    await send(KEYS.buyer, upload.quote.to, PRICE);
    await confirmAndScan(r);
    await send(KEYS.buyer, upload.quote.to, PRICE);
    await confirmAndScan(r);
    expect(await r.uploads.state(upload.uploadId)).toBe('paid');
    expect((await credits(r, upload.uploadId)).map((c) => [c.status, c.totalReceived])).toEqual([
      ['paid', PRICE.toString()],
      ['overpaid', (PRICE * 2n).toString()],
    ]);
    expect((await confirmedJob(r, upload.uploadId))?.data.payment.amount).toBe(PRICE.toString());
  });

  it('a transfer to the plain merchant address is recorded unmatched', async () => {
    const txHash = await send(KEYS.stranger, MERCHANT, 12345n);
    await confirmAndScan(r);
    const jobs = (await r.bus.queue('payment.credited').getJobs(['waiting', 'completed'])) as { data: PaymentCredited }[];
    expect(jobs.map((j) => j.data).find((c) => c.kind === 'merchant' && c.transfer.txHash === txHash)).toMatchObject({
      transfer: { amount: '12345', from: stranger.address.toLowerCase() },
    });
  });

  it('underpaid, then expired: the upload ends refund_due and its partial credit is closed for refund', async () => {
    const upload = await receive(r, { expiresAt: new Date(Date.now() + 4_000).toISOString() });
    await send(KEYS.buyer, upload.quote.to, PRICE / 3n);
    await confirmAndScan(r);
    await passTheDeadline(r, upload);
    const expire = () =>
      handleUploadExpire(
        { bus: r.bus, uploads: r.uploads, watchList: r.watchList, chainId: 31337, stagingDir: staging, pollIntervalMs: 100 },
        { uploadId: upload.uploadId },
        recordingContext(r.bus, r.env.log).context,
      );
    expect(await runOnce(expire)).toBe('done');
    expect(await r.uploads.state(upload.uploadId)).toBe('refund_due');
    const closed = (await r.bus.queue('payment.credited').getJob(`${upload.uploadId}.closed.payment.credited`))?.data;
    expect(closed).toMatchObject({ kind: 'closed', address: upload.quote.to, outcome: 'expired' });
  });

  it('a payment after the quote expired is late: recorded for refund, and the expired upload now owes it', async () => {
    const upload = await receive(r, { expiresAt: new Date(Date.now() + 1_000).toISOString() });
    await passTheDeadline(r, upload);
    const expire = () =>
      handleUploadExpire(
        { bus: r.bus, uploads: r.uploads, watchList: r.watchList, chainId: 31337, stagingDir: staging, pollIntervalMs: 100 },
        { uploadId: upload.uploadId },
        recordingContext(r.bus, r.env.log).context,
      );
    expect(await runOnce(expire)).toBe('done');
    expect(await r.uploads.state(upload.uploadId)).toBe('expired');
    await send(KEYS.buyer, upload.quote.to, PRICE);
    await confirmAndScan(r);
    expect((await credits(r, upload.uploadId)).map((c) => c.status)).toEqual(['late']);
    expect(await r.uploads.state(upload.uploadId)).toBe('refund_due');
    expect(await confirmedJob(r, upload.uploadId)).toBeUndefined();
  });

  it('an expiry waits until the passes have read the chain up to the deadline', async () => {
    // A deadline after every block mined so far (the chain's clock can run ahead of the wall's).
    const chainNow = Number((await anvil.client.getBlock()).timestamp) * 1000;
    const upload = await receive(r, { expiresAt: new Date(Math.max(Date.now(), chainNow) + 1_000).toISOString() });
    await new Promise((resolve) => setTimeout(resolve, Date.parse(upload.quote.expiresAt) + 100 - Date.now()));
    // Past the deadline by the wall clock, but no pass has read a block stamped after it: a payment mined in time may be unsettled.
    const expire = () =>
      handleUploadExpire(
        { bus: r.bus, uploads: r.uploads, watchList: r.watchList, chainId: 31337, stagingDir: staging, pollIntervalMs: 100 },
        { uploadId: upload.uploadId },
        recordingContext(r.bus, r.env.log).context,
      );
    expect(await runOnce(expire)).toBe('retry');
    await passTheDeadline(r, upload);
    expect(await runOnce(expire)).toBe('done');
    expect(await r.uploads.state(upload.uploadId)).toBe('expired');
  });

  it('a crash between "paid" and queuing the media work: the next pass queues it (once)', async () => {
    const upload = await receive(r);
    await send(KEYS.buyer, upload.quote.to, PRICE);
    await anvil.test.mine({ blocks: 1 });
    // As if a watcher made the upload paid and died before publishing payment.confirmed.
    const height = await r.watcher.confirmedHeight();
    const [total] = await r.watcher.totalsAt(
      [
        {
          uploadId: upload.uploadId,
          owner: upload.owner,
          address: upload.quote.to,
          token: null,
          amount: upload.quote.amount,
          createdAt: upload.quote.createdAt,
          expiresAt: upload.quote.expiresAt,
        },
      ],
      height,
    );
    await r.uploads.pay(
      upload.uploadId,
      {
        chainId: 31337,
        address: upload.quote.to,
        token: null,
        amount: String(total),
        blockNumber: String(height),
        blockTime: new Date().toISOString(),
        status: 'paid',
        txHashes: [],
      },
      'test',
    );
    expect(await confirmedJob(r, upload.uploadId)).toBeUndefined();
    await r.watcher.scanOnce();
    await expectPaid(r, upload);
  });

  it('two settlers of one address racing (a pass and a hint): the one reading while the other pays judges it paid, never late', async () => {
    const upload = await receive(r);
    await send(KEYS.buyer, upload.quote.to, PRICE);
    await anvil.test.mine({ blocks: 1 });
    const quote = {
      uploadId: upload.uploadId,
      owner: upload.owner,
      address: upload.quote.to,
      token: null,
      amount: upload.quote.amount,
      createdAt: upload.quote.createdAt,
      expiresAt: upload.quote.expiresAt,
    };
    const height = await r.watcher.confirmedHeight();
    const [total = 0n] = await r.watcher.totalsAt([quote], height);
    // The other settler's `pay` lands right after this settler's first read of the upload, whatever it reads.
    let raced = false;
    const racing = new Proxy(r.uploads, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (!raced && ['payment', 'state', 'paymentAndState'].includes(String(property))) {
            raced = true;
            await target.pay(
              upload.uploadId,
              {
                chainId: 31337,
                address: upload.quote.to,
                token: null,
                amount: String(total),
                blockNumber: String(height),
                blockTime: new Date().toISOString(),
                status: 'paid',
                txHashes: [],
              },
              'test',
            );
          }
          return result;
        };
      },
    });
    const settler = new DepositWatcher({ ...(r.watcher as unknown as { deps: DepositWatcherDeps }).deps, uploads: racing });
    const status = await settler.settle(quote, total, { fromBlock: height, toBlock: height, blockTime: Date.now(), transfers: [] });
    expect(raced).toBe(true);
    expect(status).toBe('paid');
    expect((await credits(r, upload.uploadId)).map((c) => c.status)).toEqual(['paid']);
  });

  describe('a client’s tx hash is a fast-path hint', () => {
    const deps = () => ({ uploads: r.uploads, chain: anvil.client, watcher: r.watcher, confirmations: 2, pollIntervalMs: 100 });

    it('a confirmed hash settles the upload at once, without waiting for a pass', async () => {
      const upload = await receive(r);
      const txHash = await send(KEYS.buyer, upload.quote.to, PRICE);
      const recorder = recordingContext(r.bus, r.env.log);
      expect(await runOnce(() => handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash, round: 1 }, recorder.context))).toBe('retry');
      expect(recorder.statuses.at(-1)).toMatchObject({ event: 'progress', message: expect.stringContaining('1 of 2 confirmations') });
      await anvil.test.mine({ blocks: 1 });
      expect(await runOnce(() => handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash, round: 1 }, recorder.context))).toBe('done');
      await expectPaid(r, upload);
      expect((await credits(r, upload.uploadId))[0]?.transfers).toEqual([
        expect.objectContaining({ txHash, from: buyer.address.toLowerCase(), amount: PRICE.toString() }),
      ]);
    });

    it('is confirmed as the block passes confirm: with CONFIRMATION_POLICY finalized, a hash two blocks deep but above the finalized block waits', async () => {
      const upload = await receive(r);
      const txHash = await send(KEYS.buyer, upload.quote.to, PRICE);
      await anvil.test.mine({ blocks: 2 });
      const finalizing = new DepositWatcher({ ...(r.watcher as unknown as { deps: DepositWatcherDeps }).deps, confirmationPolicy: 'finalized' });
      expect(await finalizing.confirmedHeight()).toBeLessThan((await anvil.client.getTransactionReceipt({ hash: txHash })).blockNumber);
      const recorder = recordingContext(r.bus, r.env.log);
      expect(
        await runOnce(() => handlePaymentSubmitted({ ...deps(), watcher: finalizing }, { uploadId: upload.uploadId, txHash, round: 1 }, recorder.context)),
      ).toBe('retry');
      expect(recorder.statuses.at(-1)).toMatchObject({ event: 'progress', message: expect.stringContaining('the chain counts blocks up to') });
      expect(await r.uploads.state(upload.uploadId)).toBe('awaiting_payment');
      // The same hash under the depth policy (2 confirmations) is confirmed.
      expect(await runOnce(() => handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash, round: 1 }, recorder.context))).toBe('done');
      await expectPaid(r, upload);
    });

    it('a hash names its sender only where its own transfer is the whole gain: 1 wei hinted beside a contract wallet’s payment names nobody', async () => {
      const upload = await receive(r);
      // A contract wallet pays by an internal call, and someone sends 1 wei in the same block.
      await anvil.test.setAutomine(false);
      try {
        await anvil.wallet(KEYS.stranger).sendTransaction({
          account: stranger,
          chain: anvil.chain,
          to: forwarder,
          value: PRICE,
          data: encodeFunctionData({ abi: contracts.Forwarder.abi, functionName: 'pay', args: [upload.quote.to] }),
        });
        const dust = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: upload.quote.to, value: 1n });
        await anvil.test.mine({ blocks: 2 });
        expect((await anvil.client.waitForTransactionReceipt({ hash: dust })).status).toBe('success');
        // The one who sent the dust hints it: the whole block's gain must not become theirs.
        const recorder = recordingContext(r.bus, r.env.log);
        expect(await runOnce(() => handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash: dust, round: 1 }, recorder.context))).toBe('done');
      } finally {
        await anvil.test.setAutomine(true);
      }
      await expectPaid(r, upload, PRICE + 1n);
      expect((await credits(r, upload.uploadId)).at(-1)).toMatchObject({ totalReceived: (PRICE + 1n).toString(), transfers: [] });
    });

    it('a hash that paid something else is refused with its reason; the upload stays payable', async () => {
      const upload = await receive(r);
      const txHash = await send(KEYS.buyer, MERCHANT, PRICE);
      await anvil.test.mine({ blocks: 1 });
      const recorder = recordingContext(r.bus, r.env.log);
      await runOnce(() => handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash, round: 1 }, recorder.context));
      expect(recorder.statuses.at(-1)).toMatchObject({ event: 'payment.rejected', code: 'no_payment', reason: expect.stringContaining(upload.quote.to) });
      expect(await r.uploads.state(upload.uploadId)).toBe('awaiting_payment');
    });

    it('a hash never seen is refused at the deadline, and the expiry waits for it to be decided first', async () => {
      const chainNow = Number((await anvil.client.getBlock()).timestamp) * 1000;
      const upload = await receive(r, { expiresAt: new Date(Math.max(Date.now(), chainNow) + 1_000).toISOString() });
      const unseen = `0x${'5e'.repeat(32)}` as Hex;
      await r.uploads.followHint(upload.uploadId, unseen, 3);
      const recorder = recordingContext(r.bus, r.env.log);
      // Before the deadline a hash the node does not know may still appear: looked at again later.
      expect(await runOnce(() => handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash: unseen, round: 1 }, recorder.context))).toBe('retry');
      await passTheDeadline(r, upload);
      const expire = () =>
        handleUploadExpire(
          { bus: r.bus, uploads: r.uploads, watchList: r.watchList, chainId: 31337, stagingDir: staging, pollIntervalMs: 100 },
          { uploadId: upload.uploadId },
          recordingContext(r.bus, r.env.log).context,
        );
      // The passes are past the deadline, but a hash is still being checked: the owner hears of it first.
      expect(await runOnce(expire)).toBe('retry');
      expect(await runOnce(() => handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash: unseen, round: 1 }, recorder.context))).toBe('done');
      expect(recorder.statuses.at(-1)).toMatchObject({ event: 'payment.rejected', code: 'not_found' });
      expect(await r.uploads.followedHints(upload.uploadId)).toBe(0);
      expect(await runOnce(expire)).toBe('done');
      expect(await r.uploads.state(upload.uploadId)).toBe('expired');
    });

    it('a reverted transaction is refused as reverted', async () => {
      const upload = await receive(r);
      const hash = await anvil.wallet(KEYS.buyer).sendTransaction({
        account: buyer,
        chain: anvil.chain,
        to: forwarder,
        data: encodeFunctionData({ abi: contracts.Forwarder.abi, functionName: 'payToken', args: [token, upload.quote.to, 1n] }),
        gas: 100_000n,
      });
      await anvil.client.waitForTransactionReceipt({ hash });
      await anvil.test.mine({ blocks: 1 });
      const recorder = recordingContext(r.bus, r.env.log);
      await runOnce(() => handlePaymentSubmitted(deps(), { uploadId: upload.uploadId, txHash: hash, round: 1 }, recorder.context));
      expect(recorder.statuses.at(-1)).toMatchObject({ event: 'payment.rejected', code: 'reverted' });
    });
  });
});

describe('ERC-20: the token balance of the deposit address pays the upload', () => {
  let r: Rig;
  beforeAll(async () => {
    r = await rig('pw-dep-token', { merchant: MERCHANT, token });
  });

  it('paid from a contract holding the token; a look-alike transfer to the address counts for nothing', async () => {
    const upload = await receive(r, { amount: '700' });
    await send(KEYS.buyer, token, 0n, encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [forwarder, 1_000n] }));
    await send(
      KEYS.stranger,
      forwarder,
      0n,
      encodeFunctionData({ abi: contracts.Forwarder.abi, functionName: 'payToken', args: [token, upload.quote.to, 700n] }),
    );
    await confirmAndScan(r);
    expect(await r.uploads.state(upload.uploadId)).toBe('paid');
    expect((await confirmedJob(r, upload.uploadId))?.data.payment).toMatchObject({ token, amount: '700', status: 'paid' });
  });

  it('an ERC-20 underpayment stays partial', async () => {
    const upload = await receive(r, { amount: '700' });
    await send(KEYS.buyer, token, 0n, encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [upload.quote.to, 300n] }));
    await confirmAndScan(r);
    expect(await r.uploads.state(upload.uploadId)).toBe('awaiting_payment');
    expect((await credits(r, upload.uploadId)).map((c) => c.status)).toEqual(['partial']);
  });
});
