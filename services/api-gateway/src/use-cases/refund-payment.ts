import type { Knex, RefundChainReader, RefundPaymentInput, RefundPaymentResult } from '@reelboard/db';
import { refundPayment as recordVerifiedRefund } from '@reelboard/db';
import { announceRefund, type Uploads } from '@reelboard/lifecycle';

// Kept apart from the HTTP binding (routes/admin-payments.ts) so the operators' `payments refund`
// command runs the same use-case without the web framework.
export type RefundOutcome = RefundPaymentResult;

export interface RefundDeps {
  db: Knex;
  /** Reads the refund transaction (and a payer's signature) from the chain. */
  chain: RefundChainReader;
  /** Confirmations a refund transaction needs before it counts. */
  confirmations: number;
  uploads: Pick<Uploads, 'transition' | 'status'>;
}

/**
 * Records a refund in the ledger once the chain shows it paid back what is due (the use-case in
 * @reelboard/db verifies it; nothing is recorded otherwise) and tells the upload's owner on its status
 * stream. The upload of a saved listing stays `saved` (only an overpayment's excess went back); any
 * other upload's money is back, so it ends `refunded`. A repeated call records and tells nothing again.
 */
export async function refundPayment(deps: RefundDeps, refund: RefundPaymentInput): Promise<RefundOutcome> {
  const { uploads } = deps;
  const outcome = await recordVerifiedRefund(deps, refund);
  await announceRefund(uploads, outcome, 'admin');
  return outcome;
}
