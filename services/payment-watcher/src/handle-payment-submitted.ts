import type { PublicClient } from 'viem';
import { PermanentError, RetryLaterError, type Bus, type StageContext } from '@reelboard/bus';
import type { PaymentSubmitted } from '@reelboard/contracts';
import type { PaymentLedger } from './payment-ledger.js';
import { verifyPayment } from './verify-payment.js';

export interface PaymentSubmittedDeps {
  bus: Bus;
  chain: PublicClient;
  ledger: PaymentLedger;
  confirmations: number;
  pollIntervalMs: number;
}

/**
 * Checks a transaction the client says pays for its upload. A refused one is reported with its
 * reason and the upload stays payable; one that needs more confirmations is looked at again.
 */
export async function handlePaymentSubmitted(deps: PaymentSubmittedDeps, { uploadId, txHash }: PaymentSubmitted, context: StageContext): Promise<void> {
  const { bus, chain, ledger } = deps;
  const upload = await bus.status.getUpload(uploadId);
  if (!upload) throw new PermanentError(`upload ${uploadId} is unknown`, 'unknown_upload');
  const paidBy = await ledger.paidBy(uploadId);
  if (paidBy === txHash) {
    context.log.info('payment already confirmed', { txHash });
    return;
  }

  const verdict = await verifyPayment(chain, { upload, txHash, confirmations: deps.confirmations });
  if (verdict.outcome === 'pending') {
    await context.status('progress', 'awaiting_payment', { message: `payment ${txHash}: ${verdict.reason}` });
    throw new RetryLaterError(deps.pollIntervalMs, verdict.reason);
  }
  if (verdict.outcome === 'rejected') {
    context.log.warn('payment rejected', { txHash, code: verdict.code, reason: verdict.reason });
    await context.status('payment.rejected', 'awaiting_payment', { reason: verdict.reason, message: verdict.code });
    return;
  }
  const holder = await ledger.reserveTx(verdict.payment.chainId, txHash, uploadId);
  if (holder) {
    await context.status('payment.rejected', 'awaiting_payment', { reason: 'transaction already paid for another upload', message: 'tx_reused' });
    return;
  }
  if (!(await ledger.markPaid(uploadId, txHash))) {
    const claim = await ledger.paidBy(uploadId);
    if (claim === 'expired') {
      // Paid after the upload expired: never dropped, recorded for a refund.
      context.log.warn('payment arrived after expiry', { txHash });
      await bus.publish('upload.failed', {
        uploadId,
        stage: 'payment-watcher',
        reason: 'paid after the upload expired',
        upload: { ...upload, payment: { ...verdict.payment, status: 'late' } },
      });
      return;
    }
    await context.status('payment.rejected', 'processing', { reason: 'upload is already paid by another transaction', message: 'already_paid' });
    return;
  }
  context.log.info('payment confirmed', { txHash, amount: verdict.payment.amount, block: verdict.payment.blockNumber, status: verdict.payment.status });
  await context.emit('payment.confirmed', { ...upload, payment: verdict.payment });
}
