import type { StageContext } from '@reelboard/bus';
import type { PaymentCredited } from '@reelboard/contracts';
import { applyCredit, type Knex, renewalOutcome } from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';

/**
 * A credit the payment watcher saw at the confirmation threshold, written to the Postgres ledger
 * before any media work. The ledger records only what it does not hold yet, so a retried or repeated
 * observation changes nothing. A credit that covers a renewal's quote renews its listing in the same
 * transaction; then the renewal ends `saved` (`listing.renewed`, also told on the listing's stream),
 * or `failed` when the listing was removed meanwhile (its payment is due back). A reversal (a reorg
 * took the money back) marks the rows `reversed` and holds the listing from the public.
 */
export async function handlePaymentCredited(deps: { db: Knex; uploads?: Uploads | undefined }, credit: PaymentCredited, context: StageContext): Promise<void> {
  const { db, uploads } = deps;
  const outcome = await applyCredit(db, credit);
  const where =
    credit.kind === 'merchant' || credit.kind === 'merchant_reversed'
      ? { kind: credit.kind, txHash: credit.transfer.txHash, logIndex: credit.transfer.logIndex }
      : {
          kind: credit.kind,
          address: credit.address,
          ...(credit.kind === 'deposit' ? { status: credit.status, totalReceived: credit.totalReceived, toBlock: credit.toBlock } : {}),
          ...(credit.kind === 'reversed'
            ? { totalReceived: credit.totalReceived, creditedBefore: credit.creditedBefore, fromBlock: credit.fromBlock, toBlock: credit.toBlock }
            : {}),
        };
  // Read from the ledger, not from this call's outcome: a retry after a crash finishes the renewal too.
  if (credit.kind === 'deposit' && uploads) await finishRenewal(db, uploads, credit.uploadId, context);
  if (outcome.recorded === 0) {
    context.log.info('credit already in the ledger; nothing more to record', where);
    return;
  }
  const fields = { ...where, rows: outcome.recorded, amount: outcome.amount, refundDue: outcome.refundDue, quoteState: outcome.quoteState };
  if (outcome.reversal) {
    const { listingId, held } = outcome.reversal;
    context.log.error('credit reversed by a reorg; listing held from the public', { ...fields, listingId, held });
    // The watcher told the upload's stream; a listing followed under another id (a renewal's) hears it too.
    if (held && listingId && credit.kind === 'reversed' && listingId !== credit.uploadId && uploads) {
      await uploads.status.publish({
        uploadId: listingId,
        event: 'payment.reversed',
        stage: 'profile-writer',
        code: 'reorg',
        reason: `a reorg took back the payment of quote ${credit.uploadId}; the listing is held until the money is on chain again`,
      });
    }
    return;
  }
  if (outcome.refundDue !== '0') context.log.warn('credit recorded with a refund due', fields);
  else context.log.info('credit recorded', fields);
}

async function finishRenewal(db: Knex, uploads: Uploads, quoteId: string, context: StageContext): Promise<void> {
  const renewal = await renewalOutcome(db, quoteId);
  if (renewal?.purpose !== 'renewal' || !renewal.listingId) return;
  if (renewal.renewed) {
    const message = `runs until ${renewal.renewed.expiresAt}`;
    const moved = await uploads.transition(quoteId, 'renew', { stage: 'profile-writer', message });
    if (moved.moved) {
      // The owner follows the listing by its own id (the upload that made it): tell it there too.
      await uploads.status.publish({ uploadId: renewal.listingId, event: 'listing.renewed', stage: 'profile-writer', state: 'saved', message });
      context.log.info('listing renewed', { listingId: renewal.listingId, expiresAt: renewal.renewed.expiresAt });
    }
  } else if (renewal.refused) {
    const moved = await uploads.transition(quoteId, 'fail', { stage: 'profile-writer', reason: renewal.refused });
    if (moved.moved)
      context.log.warn('renewal paid for a listing that is gone; recorded for refund', { listingId: renewal.listingId, reason: renewal.refused });
  }
}
