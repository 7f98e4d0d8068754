import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hex, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { applyCredit, approveRefund, connectDatabase, findPayment, type Knex, migrateToLatest } from '@reelboard/db';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { serviceCommand } from '@reelboard/testkit/stack';
import { redisUrl } from './support/harness.js';

const BASE = Number(process.env.TEST_BASE_PORT ?? 19080);
const ANVIL_PORT = BASE + 148;
const WATCHER_PORT = BASE + 149;
// A chain id of this file's own: the watcher's refund sender acts on every approved row of its chain in the shared test database.
const CHAIN = 31_398;
const serviceDir = new URL('..', import.meta.url).pathname;
const merchant = privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex;
const buyer = privateKeyToAccount(KEYS.buyer);

let anvil: Anvil;
let db: Knex;
let staging: string;
let child: ChildProcess | undefined;
const rows: number[] = [];

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT, CHAIN);
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
  staging = await mkdtemp(join(tmpdir(), 'pw-refunds-'));
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  if (rows.length) await db('payments').whereIn('id', rows).delete();
  await db?.destroy();
  await anvil?.stop();
  if (staging) await rm(staging, { recursive: true, force: true });
});

function startWatcher(overrides: Record<string, string>) {
  let output = '';
  child = spawn(process.execPath, serviceCommand('payment-watcher'), {
    cwd: serviceDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      REDIS_URL: redisUrl(),
      DATABASE_URL: infraEnv().TEST_DATABASE_URL ?? '',
      REDIS_PREFIX: `pw-refunds-${Date.now().toString(36)}`,
      RPC_URL: anvil.rpcUrl,
      CHAIN_ID: String(CHAIN),
      MERCHANT_ADDRESS: merchant,
      CONFIRMATIONS: '2',
      POLL_INTERVAL_MS: '200',
      INTERNAL_PORT: String(WATCHER_PORT),
      STAGING_DIR: staging,
      LOG_LEVEL: 'warn',
      ...overrides,
    },
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

describe('the payment-watcher process with a refund wallet', () => {
  it("refuses the merchant's key as the refund key, naming REFUND_PRIVATE_KEY", async () => {
    const key = generatePrivateKey();
    const { child: refused, output } = startWatcher({ MERCHANT_ADDRESS: privateKeyToAddress(key), REFUND_PRIVATE_KEY: key });
    expect(await new Promise<number | null>((resolve) => refused.once('exit', resolve))).toBe(78);
    expect(output()).toContain("REFUND_PRIVATE_KEY: is the merchant's key");
  });

  it('pays an approved refund on its own round and records it once confirmed', async () => {
    const amount = parseEther('0.05');
    const hash = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: merchant, value: amount });
    const receipt = await anvil.client.waitForTransactionReceipt({ hash });
    const [paymentId] = (
      await applyCredit(db, {
        kind: 'merchant',
        chainId: CHAIN,
        address: merchant,
        token: null,
        transfer: { txHash: hash, logIndex: null, from: buyer.address.toLowerCase() as Hex, amount: amount.toString() },
        blockNumber: receipt.blockNumber.toString(),
        blockTime: new Date().toISOString(),
      })
    ).paymentIds as [number];
    rows.push(paymentId);
    await approveRefund(db, { paymentId, actor: 'test-admin' });
    const refundKey = generatePrivateKey();
    await anvil.test.setBalance({ address: privateKeyToAddress(refundKey), value: parseEther('1') });
    const before = await anvil.client.getBalance({ address: buyer.address });
    const { output } = startWatcher({ REFUND_PRIVATE_KEY: refundKey, REFUND_INTERVAL_SECONDS: '1' });
    const deadline = Date.now() + 45_000;
    for (;;) {
      const payment = await findPayment(db, paymentId);
      if (payment?.status === 'refunded') break;
      if (Date.now() > deadline) throw new Error(`the refund was not recorded in time: ${output()}`);
      // Blocks on top of the refund, as the chain would make them.
      await anvil.test.mine({ blocks: 1 });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(await findPayment(db, paymentId)).toMatchObject({ refundedBy: 'refund-wallet', refundTo: buyer.address.toLowerCase(), refundDue: '0' });
    expect(await anvil.client.getBalance({ address: buyer.address })).toBe(before + amount);
    expect(await db('refund_sends').where({ payment_id: paymentId }).first('state', 'approved_by')).toEqual({ state: 'sent', approved_by: 'test-admin' });
  }, 90_000);
});
