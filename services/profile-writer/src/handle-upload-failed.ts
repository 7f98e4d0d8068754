import type { StageContext } from '@reelboard/bus';
import type { UploadFailed } from '@reelboard/contracts';
import { recordUnfulfilled, type Knex } from '@reelboard/db';

/**
 * An upload some stage gave up on. The ledger's credits for its quote that paid it (found by upload
 * id, whatever the failed stage's payload carried) become `unfulfilled`, due back, with the stage and
 * reason, so an operator can retry or refund it: a confirmed payment is never lost. A credit that
 * reaches the ledger after this is recorded unfulfilled too.
 */
export async function handleUploadFailed(db: Knex, failure: UploadFailed, context: StageContext): Promise<void> {
  const changed = await recordUnfulfilled(db, failure.uploadId, { stage: failure.stage, reason: failure.reason });
  if (changed === 0) {
    context.log.info('failed upload has no paid credit in the ledger; nothing to record', { stage: failure.stage, reason: failure.reason });
    return;
  }
  context.log.warn('paid upload recorded as unfulfilled', { stage: failure.stage, reason: failure.reason, payments: changed });
}
