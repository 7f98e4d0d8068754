import { Router } from 'express';
import { type Answer, api, type PaymentPage } from '@reelboard/api';
import {
  type Knex,
  listPayments,
  type RefundChainReader,
  type RefundPaymentInput,
  type RefundPaymentResult,
  refundPayment as recordVerifiedRefund,
} from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';
import type { Logger } from '@reelboard/logger';
import type { Bind } from './bind.js';

type RefundAnswer = Answer<'refundPayment', 200>;

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
  const { payment } = outcome;
  if (!outcome.repeated && payment.uploadId) {
    const details = {
      stage: 'admin',
      message: `refunded ${outcome.refunded} base units of payment ${payment.id} to ${payment.refundTo} in ${payment.refundTxHash}`,
    };
    // An upload that owed the money (refund_due, or failed after payment) ends refunded; a saved
    // listing whose overpayment went back only hears of it.
    const moved = payment.listingId ? false : (await uploads.transition(payment.uploadId, 'refund', details)).moved;
    if (!moved) await uploads.status.publish({ uploadId: payment.uploadId, event: 'refund.sent', ...details });
  }
  return outcome;
}

export interface AdminPaymentRoutesDeps extends RefundDeps {
  bind: Bind;
  log: Logger;
}

/** The payment ledger for admins: what is due back, and recording a refund. */
export function adminPaymentRoutes({ bind, log, ...deps }: AdminPaymentRoutesDeps): Router {
  const { db } = deps;
  const router = Router();

  bind(router, api.listPayments).to(async ({ query }) => {
    const page = await listPayments(db, { status: query.status, limit: query.limit, cursor: query.cursor });
    return { status: 200, headers: { 'cache-control': 'no-store' }, body: page as PaymentPage };
  });

  bind(router, api.refundPayment).to(async ({ params, body, caller }) => {
    const outcome: RefundOutcome = await refundPayment(deps, {
      paymentId: params.id,
      txHash: body.txHash,
      actor: caller.actor,
      note: body.note?.trim() || undefined,
      to: body.to,
      signature: body.signature,
    });
    if (!outcome.repeated)
      log.info('refund recorded', {
        paymentId: outcome.payment.id,
        uploadId: outcome.payment.uploadId,
        actor: caller.actor,
        txHash: outcome.payment.refundTxHash,
        to: outcome.payment.refundTo,
        amount: outcome.refunded,
      });
    return { status: 200, body: outcome as RefundAnswer };
  });

  return router;
}
