import type { StageContext } from '@reelboard/bus';
import type { PaymentRecorded } from '@reelboard/contracts';
import { recordRefundablePayment, type Knex } from '@reelboard/db';

/** A payment that does not fulfil its upload (partial, late, a second one): kept in Postgres for refund. */
export async function handlePaymentRecorded(db: Knex, { uploadId, payment, reason }: PaymentRecorded, context: StageContext): Promise<void> {
  await recordRefundablePayment(db, { ...payment, uploadId }, reason);
  context.log.warn('payment recorded for refund', { txHash: payment.txHash, status: payment.status, amount: payment.amount, reason });
}
