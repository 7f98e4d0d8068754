import type { StageContext } from '@reelboard/bus';
import { paymentSchema, type UploadFailed } from '@reelboard/contracts';
import { recordUnfulfilledPayment, type Knex } from '@reelboard/db';

/**
 * An upload some stage gave up on. If it was paid, the payment is recorded as unfulfilled with
 * the stage and reason, so an operator can retry or refund it: a confirmed payment is never lost.
 */
export async function handleUploadFailed(db: Knex, failure: UploadFailed, context: StageContext): Promise<void> {
  const payment = paymentSchema.safeParse(failure.upload.payment);
  if (!payment.success) {
    context.log.info('failed upload was not paid; nothing to record', { stage: failure.stage, reason: failure.reason });
    return;
  }
  await recordUnfulfilledPayment(db, { ...payment.data, uploadId: failure.uploadId }, { stage: failure.stage, reason: failure.reason });
  context.log.warn('paid upload recorded as unfulfilled', { stage: failure.stage, reason: failure.reason, txHash: payment.data.txHash });
}
