import type { StageContext } from '@reelboard/bus';
import type { PaymentCredited } from '@reelboard/contracts';
import { applyCredit, type Knex } from '@reelboard/db';

/**
 * A credit the payment watcher saw at the confirmation threshold, written to the Postgres ledger
 * before any media work. The ledger records only what it does not hold yet, so a retried or repeated
 * observation changes nothing.
 */
export async function handlePaymentCredited(db: Knex, credit: PaymentCredited, context: StageContext): Promise<void> {
  const outcome = await applyCredit(db, credit);
  const where =
    credit.kind === 'merchant'
      ? { kind: credit.kind, txHash: credit.transfer.txHash, logIndex: credit.transfer.logIndex }
      : { kind: credit.kind, address: credit.address, ...(credit.kind === 'deposit' ? { status: credit.status, totalReceived: credit.totalReceived, toBlock: credit.toBlock } : {}) };
  if (outcome.recorded === 0) {
    context.log.info('credit already in the ledger; nothing more to record', where);
    return;
  }
  const fields = { ...where, rows: outcome.recorded, amount: outcome.amount, refundDue: outcome.refundDue, quoteState: outcome.quoteState };
  if (outcome.refundDue !== '0') context.log.warn('credit recorded with a refund due', fields);
  else context.log.info('credit recorded', fields);
}
