import type { StageContext } from '@reelboard/bus';
import { z } from '@reelboard/config';
import { addressSchema, paymentSchema, quoteSchema, type UploadFailed } from '@reelboard/contracts';
import { type Knex, recordQuote, recordUnfulfilled } from '@reelboard/db';

/** What a paid stage input tells about its quote (the failure's `upload` is that input). */
const paidUploadSchema = z.object({ owner: addressSchema, quote: quoteSchema, payment: paymentSchema });

/**
 * An upload some stage gave up on. The ledger's credits for its quote that paid it (found by upload
 * id, whatever the failed stage's payload carried) become `unfulfilled`, due back, with the stage and
 * reason, so an operator can retry or refund it: a confirmed payment is never lost. A credit that
 * reaches the ledger after this (its job is on another queue) is recorded unfulfilled too: the quote
 * is marked failed, and recorded first from the payload if the gateway could not record it.
 */
export async function handleUploadFailed(db: Knex, failure: UploadFailed, context: StageContext): Promise<void> {
  const paid = paidUploadSchema.safeParse(failure.upload);
  if (paid.success) {
    const { owner, quote, payment } = paid.data;
    await recordQuote(db, {
      quoteId: failure.uploadId,
      uploadId: failure.uploadId,
      owner,
      chainId: payment.chainId,
      depositAddress: payment.address,
      token: payment.token,
      amount: quote.amount,
      createdAt: quote.createdAt,
      expiresAt: quote.expiresAt,
    });
  }
  const changed = await recordUnfulfilled(db, failure.uploadId, { stage: failure.stage, reason: failure.reason });
  if (changed === 0) {
    if (paid.success)
      context.log.warn('paid upload failed before its credit reached the ledger; the credit will be recorded unfulfilled', {
        stage: failure.stage,
        reason: failure.reason,
      });
    else context.log.info('failed upload has no paid credit in the ledger; nothing to record', { stage: failure.stage, reason: failure.reason });
    return;
  }
  context.log.warn('paid upload recorded as unfulfilled', { stage: failure.stage, reason: failure.reason, payments: changed });
}
