import type { Hash, PublicClient } from 'viem';
import { PermanentError, RetryLaterError, type Bus, type StageContext } from '@reelboard/bus';
import { findReplacement } from '@reelboard/chain';
import type { Payment, PaymentSubmitted, UploadReceived } from '@reelboard/contracts';
import { EXPIRED_CLAIM, type PaymentLedger } from './payment-ledger.js';
import { countVerdict } from './metrics.js';
import { verifyPayment, type VerifyPaymentReturnType } from './verify-payment.js';

export interface PaymentSubmittedDeps {
  bus: Bus;
  chain: PublicClient;
  ledger: PaymentLedger;
  chainId: number;
  confirmations: number;
  pollIntervalMs: number;
  /** How long after its quote expired a transaction the node has never seen is still waited for. */
  unseenGraceMs: number;
}

type Pending = Extract<VerifyPaymentReturnType, { outcome: 'pending' }>;

/**
 * Checks a transaction that is said to pay for an upload (sent by the client, or found by the
 * block scan). A refused one is reported with its reason and the upload stays payable; one that
 * needs more confirmations is looked at again; an underpaid or late one is recorded for refund.
 */
export async function handlePaymentSubmitted(deps: PaymentSubmittedDeps, { uploadId, txHash }: PaymentSubmitted, context: StageContext): Promise<void> {
  const { bus, chain, ledger } = deps;
  const upload = await bus.status.getUpload(uploadId);
  if (!upload) throw new PermanentError(`upload ${uploadId} is unknown`, 'unknown_upload');
  if ((await ledger.paidBy(uploadId)) === txHash) {
    context.log.info('payment already confirmed', { txHash });
    return;
  }
  await ledger.addInFlight(uploadId, txHash);
  const verdict = await verifyPayment(chain, { upload, txHash, chainId: deps.chainId, confirmations: deps.confirmations });
  countVerdict(verdict);
  if (verdict.outcome === 'pending') return waitOrGiveUp(deps, upload, txHash, verdict, context);
  await ledger.removeInFlight(uploadId, txHash);
  if (verdict.outcome === 'rejected') {
    context.log.warn('payment rejected', { txHash, code: verdict.code, reason: verdict.reason });
    await context.status('payment.rejected', 'awaiting_payment', { reason: verdict.reason, message: verdict.code });
    return;
  }
  await settle(deps, upload, verdict.payment, context);
}

/** Not decidable yet: look again later, follow a replacement, or give up on a transaction that never appeared. */
async function waitOrGiveUp(deps: PaymentSubmittedDeps, upload: UploadReceived, txHash: Hash, verdict: Pending, context: StageContext): Promise<void> {
  const { ledger, chain } = deps;
  if (verdict.seen) {
    const head = await chain.getBlockNumber({ cacheTime: 0 });
    await ledger.rememberSeen(txHash, { ...verdict.seen, seenAtBlock: head.toString() });
  }
  if (verdict.code === 'not_seen') {
    // A transaction we saw in the mempool and that is gone now was replaced: judge what was mined instead.
    const seen = await ledger.seen(txHash);
    const replacement = seen && (await findReplacement(chain, { from: seen.from, nonce: seen.nonce, fromBlock: BigInt(seen.seenAtBlock) }));
    if (replacement) {
      context.log.info('transaction was replaced; following its replacement', { txHash, replacement });
      await ledger.removeInFlight(upload.uploadId, txHash);
      await ledger.addInFlight(upload.uploadId, replacement);
      await context.status('progress', 'awaiting_payment', { message: `payment ${txHash} was replaced by ${replacement}` });
      await deps.bus.publish('payment.submitted', { uploadId: upload.uploadId, txHash: replacement });
      return;
    }
    if (!seen && Date.now() > Date.parse(upload.quote.expiresAt) + deps.unseenGraceMs) {
      await ledger.removeInFlight(upload.uploadId, txHash);
      await context.status('payment.rejected', 'awaiting_payment', { reason: `transaction ${txHash} was never seen on chain`, message: 'not_found' });
      return;
    }
  }
  await context.status('progress', 'awaiting_payment', { message: `payment ${txHash}: ${verdict.reason}` });
  throw new RetryLaterError(deps.pollIntervalMs, verdict.reason);
}

/** A confirmed transfer: reserve it, then fulfil the upload or record it for refund. */
async function settle(deps: PaymentSubmittedDeps, upload: UploadReceived, payment: Payment, context: StageContext): Promise<void> {
  const { bus, ledger } = deps;
  const { uploadId } = upload;
  const holder = await ledger.reserveTx(payment.chainId, payment.txHash, uploadId, payment.logIndex);
  if (holder) {
    await context.status('payment.rejected', 'awaiting_payment', { reason: 'transaction already paid for another upload', message: 'tx_reused' });
    return;
  }
  const record = (reason: string, status = payment.status) =>
    bus.publish('payment.recorded', { uploadId, owner: upload.owner, payment: { ...payment, status }, reason });

  if (payment.status === 'partial') {
    await record(`underpaid: ${payment.amount} of ${upload.quote.amount}`);
    context.log.warn('underpayment recorded', { txHash: payment.txHash, amount: payment.amount });
    await context.status('payment.rejected', 'awaiting_payment', {
      reason: `transaction pays ${payment.amount}; the quote asks ${upload.quote.amount} (recorded as partial for refund; the upload stays payable)`,
      message: 'underpaid',
    });
    return;
  }
  if (payment.status === 'late') {
    // Mined after the quote expired: never dropped, recorded for a refund.
    await ledger.markPaid(uploadId, EXPIRED_CLAIM);
    await record('paid after the quote expired');
    context.log.warn('late payment recorded', { txHash: payment.txHash });
    await context.status('payment.rejected', 'expired', { reason: 'paid after the quote expired; recorded for refund', message: 'late' });
    return;
  }
  if (!(await ledger.markPaid(uploadId, payment.txHash))) {
    const claim = await ledger.paidBy(uploadId);
    if (claim === EXPIRED_CLAIM) {
      // Paid in time, but the expiry ran anyway (the watcher was down past its grace): the staged
      // files are gone, so the listing cannot be made; keep the money on record for a refund.
      await bus.publish('upload.failed', { uploadId, stage: 'payment-watcher', reason: 'paid in time, but the upload had already expired', upload: { ...upload, payment } });
      context.log.warn('in-time payment for an upload already expired', { txHash: payment.txHash });
      return;
    }
    await record(`upload already paid by ${claim}`);
    await context.status('payment.rejected', 'processing', { reason: 'upload is already paid by another transaction; recorded for refund', message: 'already_paid' });
    return;
  }
  if (payment.status === 'overpaid') context.log.warn('overpayment accepted and flagged', { txHash: payment.txHash, amount: payment.amount, quoted: upload.quote.amount });
  context.log.info('payment confirmed', { txHash: payment.txHash, amount: payment.amount, block: payment.blockNumber, status: payment.status });
  await context.emit('payment.confirmed', { ...upload, payment });
}
