import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicClient, createTestClient, createWalletClient, type Hex, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { chainFor } from '@reelboard/chain';
import type { UploadReceived } from '@reelboard/contracts';
import { applyCredit, connectDatabase, type Knex, migrateToLatest, paymentHistory, recordQuote } from '@reelboard/db';
import { StatusStore, Uploads } from '@reelboard/lifecycle';
import { depositCredit, quoteInput, randomTxHash } from '@reelboard/testkit/db-fixtures';
import { infraEnv, repoRoot } from '@reelboard/testkit/infra-env';

const run = promisify(execFile);
const infra = infraEnv();
const prefix = `payments-cli-${randomBytes(4).toString('hex')}`;
const redis = connectRedis(infra.REDIS_URL ?? '', 'payments-cli-test');
let db: Knex;
const quoteIds: string[] = [];

// The refund wallet of this file: a key of its own, funded by anvil_setBalance (no other test shares its nonces).
const refunder = privateKeyToAccount(generatePrivateKey());
const chainDef = chainFor({ rpcUrl: infra.RPC_URL ?? '', chainId: Number(infra.CHAIN_ID) });
const wallet = createWalletClient({ account: refunder, chain: chainDef, transport: http(infra.RPC_URL) });
const reader = createPublicClient({ chain: chainDef, transport: http(infra.RPC_URL), pollingInterval: 100 });

/** Pays `value` wei to `to` by a real signed transaction, confirmed (a block mined on top). */
async function refundTx(to: string, value: bigint): Promise<Hex> {
  const hash = await wallet.sendTransaction({ to: to as Hex, value });
  await reader.waitForTransactionReceipt({ hash });
  await createTestClient({ chain: chainDef, mode: 'anvil', transport: http(infra.RPC_URL) }).mine({ blocks: 1 });
  return hash;
}

/** `pnpm payments ...` as an operator runs it, against the test database. */
async function payments(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return paymentsWith({}, ...args);
}

async function paymentsWith(extraEnv: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts/payments.ts'), ...args], {
      cwd: repoRoot,
      env: {
        ...process.env,
        DATABASE_URL: infra.TEST_DATABASE_URL,
        REDIS_URL: infra.REDIS_URL,
        REDIS_PREFIX: prefix,
        RPC_URL: infra.RPC_URL,
        CHAIN_ID: infra.CHAIN_ID,
        ...extraEnv,
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  db = connectDatabase(infra.TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
  await createTestClient({ chain: chainDef, mode: 'anvil', transport: http(infra.RPC_URL) }).setBalance({ address: refunder.address, value: 10n ** 21n });
});

afterAll(async () => {
  if (quoteIds.length) {
    await db('payments').whereIn('quote_id', quoteIds).delete();
    await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  }
  await db?.destroy();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('pnpm payments', () => {
  it('lists what is due back and records a refund, audited, telling the owner; once', async () => {
    const q = quoteInput({ amount: '10000' });
    quoteIds.push(q.quoteId);
    await recordQuote(db, q);
    const [id] = (await applyCredit(db, depositCredit(q, { totalReceived: '12345', status: 'late' }))).paymentIds;
    // The upload expired, then the money arrived: it owes a refund.
    const uploads = new Uploads(redis, prefix, new StatusStore(redis, prefix));
    await uploads.register(
      { uploadId: q.uploadId, owner: q.owner, quote: { expiresAt: q.expiresAt }, receivedAt: new Date().toISOString() } as unknown as UploadReceived,
      'api-gateway',
    );
    await uploads.transition(q.uploadId, 'expire', { stage: 'payment-watcher' });
    await uploads.transition(q.uploadId, 'oweRefund', { stage: 'payment-watcher' });

    const listed = await payments('list', '--status', 'refund_due', '--limit', '5');
    expect(listed.code).toBe(0);
    const [header, ...lines] = listed.stdout.trim().split('\n');
    expect(header).toMatch(/^id\s+recorded\s+status\s+credited as\s+amount\s+refund due/);
    expect(lines[0]).toMatch(new RegExp(`^${id}\\s.*\\slate\\s+late\\s+12345\\s+12345\\s+native\\s+${q.uploadId}`));

    // A transaction the chain does not show paying it back is refused, saying why; nothing is recorded.
    const unknown = await payments('refund', String(id), '--tx', randomTxHash());
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('refund not recorded (refund_tx_not_found)') });
    expect(await paymentHistory(db, id as number)).toEqual([]);

    const tx = await refundTx(q.owner, 12345n);
    const refunded = await payments('refund', String(id), '--tx', tx, '--note', 'sent back by hand', '--actor', 'ops-anna');
    expect(refunded).toMatchObject({ code: 0, stdout: `payment ${id}: refunded 12345 base units to ${q.owner.toLowerCase()} in ${tx} (by ops-anna)\n` });
    expect(await paymentHistory(db, id as number)).toMatchObject([{ actor: 'ops-anna', txHash: tx, amount: '12345', note: 'sent back by hand' }]);
    expect((await new StatusStore(redis, prefix).history(q.uploadId)).filter((e) => e.event === 'refund.sent')).toMatchObject([
      { event: 'refund.sent', stage: 'admin', state: 'refunded' },
    ]);

    const again = await payments('refund', String(id), '--tx', tx);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already refunded');
    expect((await new StatusStore(redis, prefix).history(q.uploadId)).filter((e) => e.event === 'refund.sent')).toHaveLength(1);

    const other = await payments('refund', String(id), '--tx', randomTxHash());
    expect(other).toMatchObject({ code: 1, stderr: expect.stringContaining(`already refunded by ${tx}`) });
  });

  // Each call is a process start (seconds on a busy machine): a few representative refusals.
  it('refuses bad calls with the usage (exit 2) and an unknown payment (exit 1)', async () => {
    expect(await payments('refund', '12', '--tx', '0x12')).toMatchObject({ code: 2, stderr: expect.stringContaining('--tx must be') });
    expect(await payments('sweep-everything')).toMatchObject({ code: 2, stderr: expect.stringContaining('pnpm payments refund <paymentId>') });
    expect(await payments('reconcile', '--also', 'the-old-merchant')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--also must be MERCHANT or MERCHANT:TOKEN'),
    });
    expect(await payments('refund', '999999999999', '--tx', randomTxHash())).toMatchObject({ code: 1, stderr: 'no payment 999999999999\n' });
  });

  it('refunds: lists a row due, approves it (audited), and the refund wallet sends it, then records it once confirmed', async () => {
    const q = quoteInput({ amount: '10000' });
    quoteIds.push(q.quoteId);
    await recordQuote(db, q);
    const [id] = (await applyCredit(db, depositCredit(q, { totalReceived: '25000', status: 'late' }))).paymentIds;
    const refundKey = generatePrivateKey();
    await createTestClient({ chain: chainDef, mode: 'anvil', transport: http(infra.RPC_URL) }).setBalance({
      address: privateKeyToAccount(refundKey).address,
      value: 10n ** 20n,
    });
    const owner = q.owner.toLowerCase();
    const due = await payments('refunds');
    expect(due.code).toBe(0);
    expect(due.stdout).toMatch(new RegExp(`^due\\s+${id}\\s+-\\s+\\S+\\s+0\\.000000000000025 ETH\\s+${owner}`, 'm'));
    expect(await payments('refunds', 'approve', String(id), '--actor', 'ops-anna')).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`of 25000 base units to ${owner} approved by ops-anna`),
    });
    const key = { REFUND_PRIVATE_KEY: refundKey };
    expect(await payments('refunds', 'send')).toMatchObject({ code: 78, stderr: expect.stringContaining('REFUND_PRIVATE_KEY: is required to send refunds') });
    const sent = await paymentsWith(key, 'refunds', 'send');
    expect(sent).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`sent refund \\d+ \\(payment ${id}\\) in 0x[0-9a-f]{64}`)) });
    await createTestClient({ chain: chainDef, mode: 'anvil', transport: http(infra.RPC_URL) }).mine({ blocks: 1 });
    expect(await paymentsWith(key, 'refunds', 'send')).toMatchObject({ code: 0, stdout: expect.stringContaining(`(payment ${id}): 0x`) });
    expect(await reader.getBalance({ address: owner as Hex })).toBe(25000n);
    expect(await paymentHistory(db, id as number)).toMatchObject([{ actor: 'refund-wallet', amount: '25000' }]);
    expect((await payments('refunds')).stdout).toMatch(new RegExp(`^sent\\s+${id}\\s.*ops-anna\\s+0x[0-9a-f]{64}`, 'm'));
  });
});
