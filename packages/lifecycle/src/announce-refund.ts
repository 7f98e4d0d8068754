import type { Uploads } from './uploads.js';

/** What a recorded refund says of itself (@reelboard/db's RefundPaymentResult, in the fields read here). */
export interface RecordedRefund {
  repeated: boolean;
  refunded: string;
  payment: { id: number | string; uploadId: string | null; listingId: string | null; refundTo: string | null; refundTxHash: string | null };
}

/**
 * Tells the upload's owner that their money went back, whoever sent it (an admin who recorded it by
 * hand, or the refund wallet): an upload that owed it (refund_due, or failed after payment) ends
 * `refunded`; a saved listing whose overpayment's excess went back only hears `refund.sent`. A
 * repeated record tells nothing again.
 */
export async function announceRefund(uploads: Pick<Uploads, 'transition' | 'status'>, outcome: RecordedRefund, stage: string): Promise<void> {
  const { payment } = outcome;
  if (outcome.repeated || !payment.uploadId) return;
  const details = {
    stage,
    message: `refunded ${outcome.refunded} base units of payment ${payment.id} to ${payment.refundTo} in ${payment.refundTxHash}`,
  };
  const moved = payment.listingId ? false : (await uploads.transition(payment.uploadId, 'refund', details)).moved;
  if (!moved) await uploads.status.publish({ uploadId: payment.uploadId, event: 'refund.sent', ...details });
}
