import type { RefundPaymentResult } from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';

/**
 * Tells the upload's owner that the refund wallet paid their money back, as the admin route does for a
 * refund recorded by hand: an upload that owed the money ends `refunded`; a saved listing whose
 * overpayment's excess went back only hears `refund.sent`.
 */
export async function announceRefund(uploads: Pick<Uploads, 'transition' | 'status'>, outcome: RefundPaymentResult): Promise<void> {
  const { payment } = outcome;
  if (outcome.repeated || !payment.uploadId) return;
  const details = {
    stage: 'refund-wallet',
    message: `refunded ${outcome.refunded} base units of payment ${payment.id} to ${payment.refundTo} in ${payment.refundTxHash}`,
  };
  const moved = payment.listingId ? false : (await uploads.transition(payment.uploadId, 'refund', details)).moved;
  if (!moved) await uploads.status.publish({ uploadId: payment.uploadId, event: 'refund.sent', ...details });
}
