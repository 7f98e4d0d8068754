// The reorg drill: an upload paid and saved as a listing (approved, public), then a reorg deeper
// than the confirmations takes its payment off the chain. The credit must become `reversed`, the
// listing be held from the public (not deleted), the owner's status say so, and reconciliation find
// nothing unexplained. The suite runs it once (test/faults/reorg.test.ts); scripts/drill-reorg.ts
// runs it as a report.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createPublicClient, type Hex, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { type Knex, moderateListing } from '@reelboard/db';
import { repoRoot } from '@reelboard/testkit/infra-env';
import type { Stack } from '@reelboard/testkit/stack';
import { outcomeOf, payUpload, postUpload } from './support.js';

export interface ReorgDrillOptions {
  stack: Stack;
  db: Knex;
  /** The video the upload sends (short: the drill is about the ledger, not encoding). */
  video: string;
  /** Each step, with its time from the start. */
  log: (line: string) => void;
  /** How long the ledger may take to show the reversal after the reorg. */
  timeoutMs?: number;
}

export interface ReorgDrillResult {
  uploadId: string;
  txHash: Hex;
  /** The block the payment was mined in, and the reorg's depth (blocks replaced, from the snapshot's next one up). */
  paidBlock: bigint;
  depth: number;
  confirmations: number;
  /** The public read of the listing before and after the reorg (HTTP status). */
  publicBefore: number;
  publicAfter: number;
  /** The ledger rows of the upload after the reorg, and the listing's hold. */
  rows: { status: string; amount: string; refund_due: string; reversed_from_block: string | null; reversed_to_block: string | null }[];
  heldReason: string | null;
  /** The listing row still exists (held, not deleted). */
  listingKept: boolean;
  /** The upload's latest status event, as its owner reads it. */
  lastStatus: string | undefined;
  /** Seconds from the reorg to the reversal in the ledger. */
  secondsToReversal: number;
  reconcile: { code: number; stdout: string };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runReorgDrill({ stack, db, video, log, timeoutMs = 60_000 }: ReorgDrillOptions): Promise<ReorgDrillResult> {
  const started = Date.now();
  const note = (line: string) => log(`t+${((Date.now() - started) / 1000).toFixed(1)}s ${line}`);
  const rpcUrl = stack.env.RPC_URL ?? '';
  const chain = createPublicClient({ transport: http(rpcUrl) });
  const confirmations = Number(stack.env.CONFIRMATIONS ?? '2');

  const upload = await postUpload(stack, video, 'Reorg drill');
  const snapshot = await chain.request({ method: 'evm_snapshot' as never });
  const snapshotBlock = await chain.getBlockNumber();
  // No hint: the deposit passes find the payment, as for a closed tab.
  const txHash = await payUpload(stack, upload, false);
  const paidBlock = (await chain.waitForTransactionReceipt({ hash: txHash })).blockNumber;
  note(`upload ${upload.uploadId} paid by ${txHash} in block ${paidBlock}`);
  const outcome = await outcomeOf(stack, upload);
  upload.stream.close();
  if (outcome.event !== 'profile.saved') throw new Error(`the drill's upload ended ${outcome.event}, not profile.saved: ${outcome.reason ?? ''}`);
  await moderateListing(db, { listingId: upload.uploadId, actor: 'drill', action: 'approve', listingDays: 30 });
  const publicRead = async () => (await fetch(`${stack.gatewayUrl}/v1/listings/${upload.uploadId}`)).status;
  const publicBefore = await publicRead();
  note(`listing saved and approved; public read answers ${publicBefore}`);

  const head = await chain.getBlockNumber();
  const depth = Number(head - snapshotBlock);
  if (Number(head - paidBlock) + 1 <= confirmations)
    throw new Error(`the payment has ${Number(head - paidBlock) + 1} blocks on it, not more than the ${confirmations} confirmations`);
  // anvil ignores anvil_reorg and anvil_rollback while it mines on an interval (as this stack's does):
  // the chain goes back to the snapshot taken before the payment, and the new branch spends the
  // payer's nonce on a transfer to itself (a double spend), so the payment cannot be mined again.
  const payment = await chain.getTransaction({ hash: txHash });
  const reorgAt = Date.now();
  await chain.request({ method: 'evm_revert' as never, params: [snapshot] as never });
  const payer = privateKeyToAccount(upload.account.key);
  const fees = await chain.estimateFeesPerGas();
  const replacement = await payer.signTransaction({
    chainId: Number(stack.env.CHAIN_ID ?? 31337),
    type: 'eip1559',
    to: payer.address,
    value: 0n,
    nonce: payment.nonce,
    gas: 21_000n,
    maxFeePerGas: (payment.maxFeePerGas ?? fees.maxFeePerGas) * 3n,
    maxPriorityFeePerGas: (payment.maxPriorityFeePerGas ?? fees.maxPriorityFeePerGas) * 3n,
  });
  await chain.waitForTransactionReceipt({ hash: await chain.sendRawTransaction({ serializedTransaction: replacement }) });
  note(
    `reorg: blocks ${snapshotBlock + 1n}..${head} replaced (depth ${depth}, the payment's block ${paidBlock}, confirmations ${confirmations}); the deposit address now holds ${await chain.getBalance({ address: upload.payment.to })}`,
  );

  let rows: ReorgDrillResult['rows'] = [];
  let held: { payment_held_reason: string | null } | undefined;
  while (Date.now() - reorgAt < timeoutMs) {
    rows = await db('payments')
      .where({ upload_id: upload.uploadId })
      .orderBy('id')
      .select('status', 'amount', 'refund_due', 'reversed_from_block', 'reversed_to_block');
    held = await db('listings').where({ id: upload.uploadId }).first('payment_held_reason');
    if (rows.some((row) => row.status === 'reversed') && held?.payment_held_reason) break;
    await sleep(500);
  }
  const secondsToReversal = (Date.now() - reorgAt) / 1000;
  note(`ledger rows ${JSON.stringify(rows)}; hold: ${held?.payment_held_reason ?? 'none'} (${secondsToReversal.toFixed(1)} s after the reorg)`);
  const publicAfter = await publicRead();
  const status = await fetch(`${stack.gatewayUrl}/v1/uploads/${upload.uploadId}`, { headers: { authorization: `Bearer ${upload.token}` } });
  const lastStatus = status.ok ? ((await status.json()) as { status: { event: string } | null }).status?.event : undefined;
  note(`public read answers ${publicAfter}; the owner's latest status: ${lastStatus}`);

  const reconcile = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/payments.ts', 'reconcile', '--settle-seconds', '0'], {
    cwd: repoRoot,
    env: { ...process.env, ...stack.env },
    timeout: 180_000,
  }).then(
    (out) => ({ code: 0, stdout: out.stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
  note(`pnpm payments reconcile: exit ${reconcile.code}, ${reconcile.stdout.trim().split('\n').at(-1)}`);
  return {
    uploadId: upload.uploadId,
    txHash,
    paidBlock,
    depth,
    confirmations,
    publicBefore,
    publicAfter,
    rows,
    heldReason: held?.payment_held_reason ?? null,
    listingKept: held !== undefined,
    lastStatus,
    secondsToReversal,
    reconcile,
  };
}
