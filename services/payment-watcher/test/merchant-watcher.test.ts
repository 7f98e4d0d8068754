import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFunctionData, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { Bus } from '@reelboard/bus';
import type { UploadReceived } from '@reelboard/contracts';
import { handlePaymentSubmitted } from '../src/handle-payment-submitted.js';
import { handleUploadExpire } from '../src/handle-upload-expire.js';
import { handleUploadReceived } from '../src/handle-upload-received.js';
import { EXPIRED_CLAIM, PaymentLedger } from '../src/payment-ledger.js';
import { ScanLock } from '../src/scan-lock.js';
import { MerchantWatcher } from '../src/watch-merchant.js';
import { KEYS, MERCHANT, startAnvil, type Anvil } from './support/anvil.js';
import { compileTestContracts } from './support/contracts.js';
import { makeUpload, PRICE, recordingContext, runOnce, testBus } from './support/harness.js';

const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 102;
const buyer = privateKeyToAccount(KEYS.buyer).address.toLowerCase() as Hex;

let anvil: Anvil;
let env: ReturnType<typeof testBus>;
let bus: Bus;
let ledger: PaymentLedger;
let token: Hex;
let staging: string;
const contracts = compileTestContracts();

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  env = testBus('pw-watcher');
  bus = env.bus;
  ledger = new PaymentLedger(env.redis, env.prefix);
  staging = await mkdtemp(join(tmpdir(), 'pw-watcher-'));
  const deployer = privateKeyToAccount(KEYS.deployer);
  const hash = await anvil.wallet(KEYS.deployer).deployContract({ ...contracts.TestToken, args: [buyer, 10n ** 24n], account: deployer, chain: anvil.chain });
  token = ((await anvil.client.waitForTransactionReceipt({ hash })).contractAddress as Hex).toLowerCase() as Hex;
});

afterAll(async () => {
  await bus?.close(1_000);
  await env?.redis.quit();
  await anvil?.stop();
  if (staging) await rm(staging, { recursive: true, force: true });
});

function watcher(lockKey = `${env.prefix}:payment:scan-lock`): MerchantWatcher {
  return new MerchantWatcher({
    bus,
    chain: anvil.client,
    ledger,
    lock: new ScanLock(env.redis, lockKey, 5_000),
    log: env.log,
    chainId: 31337,
    merchant: MERCHANT,
    token,
    overlapBlocks: 2,
    startBehind: 0,
    maxBlocksPerPass: 200,
  });
}

/** An upload received by the payment-watcher: registered, listed under its owner, expiry scheduled. */
async function receive(upload: UploadReceived): Promise<UploadReceived> {
  await bus.status.registerUpload(upload);
  await handleUploadReceived({ bus, ledger }, upload, recordingContext(bus, env.log).context);
  return upload;
}

async function send(key: Hex, to: Hex, value: bigint, data?: Hex): Promise<Hex> {
  const hash = await anvil.wallet(key).sendTransaction({ to, value, data, account: privateKeyToAccount(key), chain: anvil.chain });
  await anvil.client.waitForTransactionReceipt({ hash });
  return hash;
}

const submittedJob = (uploadId: string, txHash: Hex) => bus.queue('payment.submitted').getJob(`${uploadId}.${txHash.toLowerCase()}`);

describe('the merchant watcher', () => {
  const scanner = () => watcher();
  let main: MerchantWatcher;

  beforeAll(async () => {
    main = scanner();
    // The first pass sets the cursor at the head: later passes see only new blocks.
    await main.scanOnce();
  });

  it('finds a native payment whose hash was never submitted and hands it to verification', async () => {
    const upload = await receive(makeUpload(buyer));
    const txHash = await send(KEYS.buyer, MERCHANT, PRICE);
    expect(await main.scanOnce()).toBeGreaterThan(0);
    expect(await submittedJob(upload.uploadId, txHash)).toBeDefined();
    expect(await ledger.isInFlight(upload.uploadId, txHash)).toBe(true);

    // Verified like a submitted hash, the upload proceeds without the client.
    const recorder = recordingContext(bus, env.log);
    const deps = { bus, chain: anvil.client, ledger, chainId: 31337, confirmations: 1, pollIntervalMs: 100, unseenGraceMs: 60_000 };
    await runOnce(() => handlePaymentSubmitted(deps, { uploadId: upload.uploadId, txHash }, recorder.context));
    expect(recorder.emitted.map((e) => e.channel)).toEqual(['payment.confirmed']);
  });

  it('finds an ERC-20 payment by the token Transfer log to the merchant', async () => {
    const upload = await receive(makeUpload(buyer, { token, amount: '700' }));
    const data = encodeFunctionData({ abi: contracts.TestToken.abi, functionName: 'transfer', args: [MERCHANT, 700n] });
    const txHash = await send(KEYS.buyer, token, 0n, data);
    await main.scanOnce();
    expect(await submittedJob(upload.uploadId, txHash)).toBeDefined();
  });

  it('matches by amount: of two open uploads, the payment goes to the one whose price it covers', async () => {
    const dear = await receive(makeUpload(buyer, { amount: (PRICE * 10n).toString() }));
    const cheap = await receive(makeUpload(buyer));
    const txHash = await send(KEYS.buyer, MERCHANT, PRICE);
    await main.scanOnce();
    expect(await submittedJob(cheap.uploadId, txHash)).toBeDefined();
    expect(await submittedJob(dear.uploadId, txHash)).toBeUndefined();
  });

  it('a second watcher does not scan while the first holds the lock, and takes over when it is released', async () => {
    const other = scanner();
    await send(KEYS.buyer, MERCHANT, 1n);
    expect(await other.scanOnce()).toBe(0);
    await main.stop();
    expect(await other.scanOnce()).toBeGreaterThan(0);
    main = other;
  });

  it('resumes from the cursor kept in Redis after a restart, finding what was paid while it was down', async () => {
    await main.stop();
    const upload = await receive(makeUpload(buyer));
    const txHash = await send(KEYS.buyer, MERCHANT, PRICE);
    await anvil.test.mine({ blocks: 5 });
    const before = await ledger.scanCursor();
    main = scanner();
    await main.scanOnce();
    expect(await submittedJob(upload.uploadId, txHash)).toBeDefined();
    const after = await ledger.scanCursor();
    expect(after?.block).toBe(await anvil.client.getBlockNumber());
    expect(after && before && after.block > before.block).toBe(true);
  });

  afterAll(async () => {
    await main.stop();
  });
});

describe('expiry', () => {
  const expireDeps = () => ({ bus, ledger, stagingDir: staging, pollIntervalMs: 100, maxDelayMs: 60_000 });

  async function expiredUpload(): Promise<UploadReceived> {
    const now = Date.now();
    const upload = await receive(makeUpload(buyer, { createdAt: new Date(now - 60_000).toISOString(), expiresAt: new Date(now - 1_000).toISOString() }));
    await mkdir(join(staging, upload.uploadId), { recursive: true });
    await writeFile(join(staging, upload.uploadId, 'source'), 'x');
    return upload;
  }

  it('waits while a payment for the upload is in flight, then expires it and removes its files', async () => {
    await ledger.saveScanCursor(await anvil.client.getBlockNumber(), Date.now());
    const upload = await expiredUpload();
    await ledger.addInFlight(upload.uploadId, `0x${'ab'.repeat(32)}`);
    const waiting = recordingContext(bus, env.log);
    expect(await runOnce(() => handleUploadExpire(expireDeps(), { uploadId: upload.uploadId }, waiting.context))).toBe('retry');
    expect(existsSync(join(staging, upload.uploadId))).toBe(true);

    await ledger.removeInFlight(upload.uploadId, `0x${'ab'.repeat(32)}`);
    const done = recordingContext(bus, env.log);
    expect(await runOnce(() => handleUploadExpire(expireDeps(), { uploadId: upload.uploadId }, done.context))).toBe('done');
    expect(done.statuses.map((s) => s.event)).toEqual(['expired']);
    expect(existsSync(join(staging, upload.uploadId))).toBe(false);
    expect(await ledger.paidBy(upload.uploadId)).toBe(EXPIRED_CLAIM);
  });

  it('waits until the block scan has read the chain as it stood at the deadline', async () => {
    const upload = await expiredUpload();
    await ledger.saveScanCursor(await anvil.client.getBlockNumber(), Date.parse(upload.quote.expiresAt) - 10_000);
    expect(await runOnce(() => handleUploadExpire(expireDeps(), { uploadId: upload.uploadId }, recordingContext(bus, env.log).context))).toBe('retry');
    await ledger.saveScanCursor(await anvil.client.getBlockNumber(), Date.now());
    expect(await runOnce(() => handleUploadExpire(expireDeps(), { uploadId: upload.uploadId }, recordingContext(bus, env.log).context))).toBe('done');
  });

  it('a paid upload does not expire', async () => {
    await ledger.saveScanCursor(await anvil.client.getBlockNumber(), Date.now());
    const upload = await expiredUpload();
    await ledger.markPaid(upload.uploadId, `0x${'cd'.repeat(32)}`);
    const recorder = recordingContext(bus, env.log);
    await handleUploadExpire(expireDeps(), { uploadId: upload.uploadId }, recorder.context);
    expect(recorder.statuses).toEqual([]);
    expect(existsSync(join(staging, upload.uploadId))).toBe(true);
  });
});
