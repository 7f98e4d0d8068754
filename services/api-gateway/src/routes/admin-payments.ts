import { Router } from 'express';
import { type Answer, api, type PaymentPage } from '@reelboard/api';
import { approveRefund, listPayments } from '@reelboard/db';
import type { Logger } from '@reelboard/logger';
import { type RefundDeps, type RefundOutcome, refundPayment } from '../use-cases/refund-payment.js';
import type { Bind } from './bind.js';

type RefundAnswer = Answer<'refundPayment', 200>;

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

  bind(router, api.approveRefund).to(async ({ params, caller }) => {
    const approval = await approveRefund(db, { paymentId: params.id, actor: caller.actor });
    if (!approval.repeated)
      log.info('refund approved', {
        paymentId: params.id,
        refundSend: approval.send.id,
        actor: caller.actor,
        to: approval.send.recipient,
        amount: approval.send.amount,
      });
    return { status: 200, body: approval as Answer<'approveRefund', 200> };
  });

  return router;
}
