/**
 * The ledger drills of issue 23, long versions beside chaos-payments.ts (the suite runs short versions in
 * services/payment-watcher/test/ledger-truth.test.ts). The real payment-watcher and profile-writer run
 * on private Redis, Postgres and anvil (1 s blocks); quotes are issued as the gateway issues them (the
 * ledger's quote row, the lifecycle record, `upload.received`) and paid by real signed transactions.
 *
 *   1. redis-loss: quotes open, half of them part-paid and in the ledger; Redis loses everything
 *      (FLUSHALL); money then arrives for every quote. Every address's money must be in the ledger,
 *      all of it due back once the quotes end (no upload is left to pay), every quote closed.
 *   2. rpc-down: the watcher's node (behind a TCP proxy) goes away, a quote is paid in time, and the node
 *      stays away past the quote's deadline. The upload must not expire while the watcher cannot read
 *      the chain (the scan lag rises instead), and must end paid once it can.
 * After each, `pnpm payments reconcile` must find nothing. Exit 0 when all holds, 1 with what did not.
 *
 *   node --import tsx scripts/drill-payments-ledger.ts [--quotes 10] [--outage-seconds 25]
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { createPublicClient, createWalletClient, defineChain, type Hex, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { depositAddressOf } from '@reelboard/chain';
import type { UploadReceived } from '@reelboard/contracts';
import { connectDatabase, recordQuote } from '@reelboard/db';
import { createBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { startPrivateInfra } from '@reelboard/testkit/private-infra';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';

const { values } = parseArgs({ options: { quotes: { type: 'string', default: '10' }, 'outage-seconds': { type: 'string', default: '25' } } });
const quoteCount = Number(values.quotes);
const outageSeconds = Number(values['outage-seconds']);
if (!Number.isInteger(quoteCount) || quoteCount < 2) throw new Error('--quotes must be an integer of at least 2');
if (!Number.isFinite(outageSeconds) || outageSeconds < 12) throw new Error('--outage-seconds must be at least 12 (longer than the quote it outlasts)');

const PRICE = 10_000_000_000_000_000n;
const PREFIX = 'drill';
const basePort = Number(process.env.TEST_BASE_PORT ?? 31080) + 60;
const merchant = privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex;
const deposits = { merchant, token: null };
const problems: string[] = [];
const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** The watcher's node, as it sees it: a TCP proxy to anvil that can be cut (every open connection too). */
function rpcProxy(port: number, upstreamPort: number) {
  let up = true;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    if (!up) return client.destroy();
    const upstream = connect(upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    listen: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    cut() {
      up = false;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      up = true;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const work = await mkdtemp(join(tmpdir(), 'reelboard-ledger-drill-'));
const infra = await startPrivateInfra(basePort);
const anvilPort = Number(new URL(infra.env.RPC_URL ?? '').port);
const proxy = rpcProxy(basePort + 10, anvilPort);
await proxy.listen();
const env = {
  ...process.env,
  ...infra.env,
  RPC_URL: proxy.url,
  REDIS_PREFIX: PREFIX,
  MERCHANT_ADDRESS: merchant,
  CONFIRMATIONS: '2',
  POLL_INTERVAL_MS: '500',
  STAGING_DIR: work,
  LOG_LEVEL: 'warn',
};
const children: ChildProcess[] = [];
const internalPorts = { 'payment-watcher': basePort + 11, 'profile-writer': basePort + 12 };
for (const [name, port] of Object.entries(internalPorts)) {
  const child = spawn(process.execPath, ['--import', 'tsx', join('services', name, 'src', 'main.ts')], {
    cwd: repoRoot,
    env: { ...env, INTERNAL_PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => code !== 0 && code !== null && say(`${name} exited with ${code ?? signal}`));
  children.push(child);
}

const redis = connectRedis(infra.env.REDIS_URL ?? '', 'drill');
const log = createLogger('drill', 'error');
const bus = createBus(redis, PREFIX, 'drill', log);
const uploads = new Uploads(redis, PREFIX, bus.status);
const db = connectDatabase(infra.env.DATABASE_URL ?? '', { min: 0, max: 2 });
const chain = defineChain({
  id: 31337,
  name: 'anvil',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [infra.env.RPC_URL ?? ''] } },
});
const buyer = privateKeyToAccount(ANVIL_ACCOUNTS.buyer.key);
const wallet = createWalletClient({ account: buyer, chain, transport: http(infra.env.RPC_URL) });
let nonce: number | undefined;

async function pay(to: Hex, value: bigint): Promise<void> {
  // Sent back to back without waiting for each to be mined: the nonces are counted here.
  nonce ??= await createPublicClient({ chain, transport: http(infra.env.RPC_URL) }).getTransactionCount({ address: buyer.address });
  await wallet.sendTransaction({ to, value, nonce: nonce++ });
}

/** Issues a quote as the gateway does. */
async function issue(ttlMs: number): Promise<UploadReceived> {
  const uploadId = randomUUID();
  const now = Date.now();
  const upload: UploadReceived = {
    uploadId,
    owner: buyer.address.toLowerCase() as Hex,
    form: { title: 'drill', description: '', hashtags: [], latitude: 0, longitude: 0 },
    quote: {
      chainId: 31337,
      to: depositAddressOf(deposits, uploadId),
      amount: PRICE.toString(),
      token: null,
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + ttlMs).toISOString(),
    },
    staged: { source: `${uploadId}/source`, sourceBytes: 1 },
    receivedAt: new Date(now).toISOString(),
  };
  await recordQuote(db, {
    quoteId: uploadId,
    uploadId,
    owner: upload.owner,
    chainId: 31337,
    depositAddress: upload.quote.to,
    token: null,
    amount: upload.quote.amount,
    createdAt: upload.quote.createdAt,
    expiresAt: upload.quote.expiresAt,
  });
  await uploads.register(upload, 'drill');
  await bus.publish('upload.received', upload);
  return upload;
}

const quoteRow = (quoteId: string) =>
  db('payment_quotes')
    .where({ quote_id: quoteId })
    .first(
      'state',
      db.raw('credited_total::text AS credited'),
      db.raw('(SELECT coalesce(sum(amount), 0)::text FROM payments p WHERE p.quote_id = payment_quotes.quote_id) AS rows'),
      db.raw('(SELECT coalesce(sum(refund_due), 0)::text FROM payments p WHERE p.quote_id = payment_quotes.quote_id) AS due'),
    ) as Promise<{ state: string; credited: string; rows: string; due: string } | undefined>;

async function reconcile(label: string): Promise<void> {
  const result = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'scripts/payments.ts', 'reconcile', '--from-block', '0', '--settle-seconds', '30'],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        DATABASE_URL: infra.env.DATABASE_URL,
        RPC_URL: infra.env.RPC_URL,
        CHAIN_ID: '31337',
        MERCHANT_ADDRESS: merchant,
        CONFIRMATIONS: '2',
      },
    },
  ).then(
    (out) => ({ code: 0, stdout: out.stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
  say(`${label}: pnpm payments reconcile exit ${result.code}: ${result.stdout.trim().split('\n').at(-1)}`);
  if (result.code !== 0) problems.push(`${label}: reconcile found differences:\n${result.stdout}`);
}

async function redisLoss(): Promise<void> {
  say(`redis-loss: ${quoteCount} quotes open for 45 s, half part-paid`);
  const quotes = await Promise.all(Array.from({ length: quoteCount }, () => issue(45_000)));
  const partPaid = quotes.slice(0, Math.floor(quoteCount / 2));
  for (const q of partPaid) await pay(q.quote.to, PRICE / 3n);
  await until(
    'the part payments in the ledger',
    async () => ((await Promise.all(partPaid.map((q) => quoteRow(q.uploadId)))).every((row) => row?.credited === (PRICE / 3n).toString()) ? true : undefined),
    60_000,
  );
  await redis.flushall();
  say('redis-loss: Redis flushed (FLUSHALL); money arrives for every quote');
  for (const q of quotes) await pay(q.quote.to, partPaid.includes(q) ? PRICE - PRICE / 3n : PRICE);
  await until(
    'every quote closed, all its money in the ledger',
    async () => {
      const rows = await Promise.all(quotes.map((q) => quoteRow(q.uploadId)));
      return rows.every((row) => row?.state === 'expired' && row.credited === PRICE.toString()) ? rows : undefined;
    },
    120_000,
  ).catch((error: Error) => problems.push(`redis-loss: ${error.message}`));
  for (const q of quotes) {
    const row = await quoteRow(q.uploadId);
    // No upload survived the loss, so nothing it received may count as paid: all of it is due back.
    if (!row || row.rows !== PRICE.toString() || row.due !== PRICE.toString() || row.state !== 'expired') {
      problems.push(`redis-loss: quote ${q.uploadId} ${JSON.stringify(row)}: expected ${PRICE} received and due back, the quote expired`);
    }
  }
  say(`redis-loss: ${quotes.length} quotes checked`);
  await reconcile('redis-loss');
}

async function rpcDown(): Promise<void> {
  const metrics = `http://127.0.0.1:${internalPorts['payment-watcher']}/metrics`;
  say(`rpc-down: the watcher's node cut for ${outageSeconds} s; a 10 s quote is paid in time meanwhile`);
  proxy.cut();
  const upload = await issue(10_000);
  await pay(upload.quote.to, PRICE);
  await sleep(outageSeconds * 1000);
  const state = await uploads.state(upload.uploadId);
  const lag = Number(/^reelboard_payment_scan_lag_seconds(?:\{[^}]*\})? (\S+)$/m.exec(await (await fetch(metrics)).text())?.[1] ?? 'NaN');
  say(`rpc-down: ${outageSeconds} s later the upload is ${state}; scan lag ${lag} s`);
  if (state !== 'awaiting_payment') problems.push(`rpc-down: the upload was ${state} while the watcher could not read the chain (expected awaiting_payment)`);
  if (!(lag >= outageSeconds - 5)) problems.push(`rpc-down: the scan lag metric read ${lag} s after a ${outageSeconds} s outage`);
  proxy.restore();
  const paid = await until(
    'the upload paid once the node is back',
    async () => ((await uploads.state(upload.uploadId)) === 'paid' ? true : undefined),
    60_000,
  ).catch((error: Error) => {
    problems.push(`rpc-down: ${error.message}`);
    return false;
  });
  if (paid) say('rpc-down: the node is back; the in-time payment made the upload paid');
  await until('the paid credit in the ledger', async () => ((await quoteRow(upload.uploadId))?.state === 'paid' ? true : undefined), 30_000).catch(
    (error: Error) => problems.push(`rpc-down: ${error.message}`),
  );
  await reconcile('rpc-down');
}

try {
  await until(
    'the payment-watcher and profile-writer ready',
    async () => {
      const answers = await Promise.all(Object.values(internalPorts).map((port) => fetch(`http://127.0.0.1:${port}/readyz`).then((res) => res.ok)));
      return answers.every(Boolean) ? true : undefined;
    },
    180_000,
  );
  await redisLoss();
  await rpcDown();
} catch (error) {
  problems.push(`the drill stopped: ${error instanceof Error ? error.stack : String(error)}`);
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)));
  await bus.close(1_000).catch(() => undefined);
  await redis.quit().catch(() => undefined);
  await db.destroy();
  await proxy.close();
  await infra.close();
  await rm(work, { recursive: true, force: true });
}
for (const problem of problems) process.stderr.write(`FAILED ${problem}\n`);
say(
  problems.length === 0
    ? 'ledger drills: every credit booked right, no expiry before the watcher caught up, reconciliation clean'
    : `ledger drills: ${problems.length} problem(s)`,
);
process.exitCode = problems.length === 0 ? 0 : 1;
