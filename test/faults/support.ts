import { readFileSync } from 'node:fs';
import { createPublicClient, type Hex, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { type StatusEvent, terminalEvents } from '@reelboard/contracts';
import type { Knex } from '@reelboard/db';
import { type EventFollower, followEvents, pay, postListing, signIn } from '@reelboard/testkit/client';
import { ANVIL_ACCOUNTS, type Stack } from '@reelboard/testkit/stack';

/** An upload the test posted and (optionally) paid. */
export interface TrackedUpload {
  uploadId: string;
  token: string;
  stream: EventFollower;
  txHash?: Hex;
}

/** A wallet that signs in and pays. */
export interface Payer {
  address: string;
  key: Hex;
}

/** A posted upload with its quote and the wallet that pays it. */
export type PostedUpload = TrackedUpload & { payment: { to: Hex; amount: string }; account: Payer };

const devWallet = (key: Hex): Payer => ({ key, address: privateKeyToAccount(key).address });

/**
 * Funded anvil dev wallets (default mnemonic, accounts 4-8). Any wallet can pay any upload (the
 * quote's deposit address decides); separate wallets only keep concurrent payers' nonces apart.
 */
export const DEV_WALLETS = {
  four: devWallet('0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a'),
  five: devWallet('0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba'),
  six: devWallet('0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e'),
  seven: devWallet('0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356'),
  eight: devWallet('0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97'),
} as const;

/** Waits until a transaction is mined (not confirmed): after this, a node restart cannot lose it. */
export async function waitMined(rpcUrl: string, txHash: Hex): Promise<void> {
  await createPublicClient({ transport: http(rpcUrl), pollingInterval: 100 }).waitForTransactionReceipt({ hash: txHash, timeout: 60_000 });
}

/** Resolves with the first `progress` event a given stage reports (other stages report progress too). */
export async function progressFrom(stream: EventFollower, stage: string, timeoutMs = 120_000): Promise<StatusEvent> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // A percent, not the lifecycle's "processing started": ffmpeg is running.
    const found = stream.events.find((e) => e.name === 'progress' && e.data.stage === stage && e.data.progress !== undefined);
    if (found) return found.data;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no progress from ${stage} within ${timeoutMs} ms; got ${stream.events.map((e) => `${e.name}/${e.data.stage}`).join(', ')}`);
}

/** Posts the form as the given wallet (the buyer by default); the stream follows its status. */
export async function postUpload(
  stack: Stack,
  video: string,
  title: string,
  { logo, account = ANVIL_ACCOUNTS.buyer }: { logo?: string; account?: Payer } = {},
): Promise<PostedUpload> {
  const { token } = await signIn(stack.gatewayUrl, account.key, Number(stack.env.CHAIN_ID));
  const res = await postListing(
    stack.gatewayUrl,
    token,
    { video, ...(logo ? { logo } : {}) },
    { title, hashtags: '#faults', latitude: '48.85', longitude: '2.35' },
  );
  if (res.status !== 202) throw new Error(`upload refused: ${res.status} ${await res.text()}`);
  const { uploadId, payment } = (await res.json()) as { uploadId: string; payment: { to: Hex; amount: string } };
  return { uploadId, token, payment, account, stream: followEvents(stack.gatewayUrl, uploadId, token, 240_000) };
}

/** Pays the quote's deposit address; with `submit` the tx hash is sent to the gateway as a hint, else the deposit passes find it. */
export async function payUpload(stack: Stack, upload: PostedUpload, submit = true): Promise<Hex> {
  const txHash = await pay(stack.env.RPC_URL ?? '', upload.account.key, upload.payment.to, BigInt(upload.payment.amount));
  upload.txHash = txHash;
  if (submit) {
    const res = await fetch(`${stack.gatewayUrl}/v1/uploads/${upload.uploadId}/payment`, {
      method: 'POST',
      headers: { authorization: `Bearer ${upload.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ txHash }),
    });
    // 202 while the hash is followed; 200 when the deposit watcher already found the payment.
    if (res.status !== 202 && res.status !== 200) throw new Error(`payment refused: ${res.status} ${await res.text()}`);
  }
  return txHash;
}

/**
 * Polls the upload's latest status until it ends. Polling rather than the event stream: while
 * Redis restarts, pub/sub messages can be missed, but the latest status is kept in Redis.
 */
export async function outcomeOf(stack: Stack, upload: TrackedUpload, timeoutMs = 240_000): Promise<StatusEvent> {
  const deadline = Date.now() + timeoutMs;
  let last: StatusEvent | null = null;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${stack.gatewayUrl}/v1/uploads/${upload.uploadId}`, {
        headers: { authorization: `Bearer ${upload.token}` },
        signal: AbortSignal.timeout(5_000),
      });
      if (res.ok) {
        last = ((await res.json()) as { status: StatusEvent | null }).status;
        if (last && terminalEvents.has(last.event)) return last;
      }
    } catch {
      // The gateway or Redis is restarting: ask again.
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`upload ${upload.uploadId} did not end within ${timeoutMs} ms; last status ${JSON.stringify(last)}`);
}

/** The process ids of a process's descendants (ffmpeg under a transcoder). */
export function descendantsOf(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendantsOf(child)]);
}

/** A counter's value in a service's Prometheus text (0 when absent). */
export async function metricValue(port: number, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/**
 * The invariant of the whole issue: every upload whose payment was confirmed ended as a listing
 * with a paid payment, or as a payment recorded `unfulfilled` (for retry or refund).
 */
export async function unaccountedPayments(db: Knex, uploadIds: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const uploadId of uploadIds) {
    const listing = await db('listings').where({ id: uploadId }).first();
    const payment = await db('payments').where({ upload_id: uploadId }).first();
    const fulfilled = listing && payment && payment.listing_id === uploadId && payment.status !== 'unfulfilled';
    const recorded = payment && payment.status === 'unfulfilled';
    if (!fulfilled && !recorded) missing.push(uploadId);
  }
  return missing;
}
