import { Router } from 'express';
import type { Uploads } from '@reelboard/lifecycle';
import {
  InvalidPaymentCursorError,
  listPayments,
  markRefunded,
  paymentFilters,
  PaymentNotFoundError,
  RefundConflictError,
  type Knex,
  type PaymentFilter,
  type PaymentView,
  type RefundRecord,
} from '@reelboard/db';
import type { Logger } from '@reelboard/logger';
import { HttpError } from './http-error.js';

export interface RefundOutcome {
  payment: PaymentView;
  /** Base units this refund paid back (of a repeated call: what the original one did). */
  refunded: string;
  /** The same refund was recorded before: nothing changed. */
  repeated: boolean;
}

/**
 * Records a refund in the ledger (audited) and tells the upload's owner on its status stream. The
 * upload of a saved listing stays `saved` (only an overpayment's excess went back); any other
 * upload's money is back, so it ends `refunded`. A repeated call records and tells nothing again.
 */
export async function refundPayment(db: Knex, uploads: Pick<Uploads, 'transition' | 'status'>, refund: RefundRecord): Promise<RefundOutcome> {
  const outcome = await markRefunded(db, refund);
  const { payment } = outcome;
  if (!outcome.repeated && payment.uploadId) {
    const details = { stage: 'admin', message: `refunded ${outcome.refunded} base units of payment ${payment.id} in ${payment.refundTxHash}` };
    // An upload that owed the money (refund_due, or failed after payment) ends refunded; a saved
    // listing whose overpayment went back only hears of it.
    const moved = payment.listingId ? false : (await uploads.transition(payment.uploadId, 'refund', details)).moved;
    if (!moved) await uploads.status.publish({ uploadId: payment.uploadId, event: 'refund.sent', ...details });
  }
  return outcome;
}

const TX_HASH = /^0x[0-9a-fA-F]{64}$/;
const PAYMENT_ID = /^[1-9]\d{0,17}$/;

export interface AdminPaymentRoutesDeps {
  db: Knex;
  uploads: Pick<Uploads, 'transition' | 'status'>;
  log: Logger;
}

/** The payment ledger for admins: what is due back, and recording a refund. Mounted behind requireAdmin. */
export function adminPaymentRoutes({ db, uploads, log }: AdminPaymentRoutesDeps): Router {
  const router = Router();

  router.get('/v1/admin/payments', async (req, res) => {
    const filter = req.query.status;
    if (filter !== undefined && !paymentFilters.includes(filter as PaymentFilter)) {
      throw new HttpError(400, 'invalid_query', `status must be one of ${paymentFilters.join(', ')}`, { field: 'status' });
    }
    const limit = req.query.limit === undefined ? 20 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new HttpError(400, 'invalid_query', 'limit must be an integer from 1 to 100', { field: 'limit' });
    if (req.query.cursor !== undefined && typeof req.query.cursor !== 'string') throw new HttpError(400, 'invalid_query', 'cursor must be given once', { field: 'cursor' });
    try {
      const page = await listPayments(db, { status: filter as PaymentFilter | undefined, limit, cursor: req.query.cursor });
      res.set('cache-control', 'no-store').json(page);
    } catch (error) {
      if (error instanceof InvalidPaymentCursorError) throw new HttpError(400, 'invalid_cursor', error.message, { field: 'cursor' });
      throw error;
    }
  });

  router.post('/v1/admin/payments/:id/refund', async (req, res) => {
    const id = String(req.params.id);
    if (!PAYMENT_ID.test(id)) throw new HttpError(404, 'payment_not_found', `no payment ${id}`);
    const body = (req.body ?? {}) as { txHash?: unknown; note?: unknown };
    if (typeof body.txHash !== 'string' || !TX_HASH.test(body.txHash)) {
      throw new HttpError(400, 'invalid_body', 'txHash is required: the 0x-prefixed 32-byte hash of the refund transaction', { field: 'txHash' });
    }
    if (body.note !== undefined && (typeof body.note !== 'string' || body.note.length > 500)) {
      throw new HttpError(400, 'invalid_body', 'note must be a string of at most 500 characters', { field: 'note' });
    }
    const actor = String(res.locals.actor);
    let outcome: RefundOutcome;
    try {
      outcome = await refundPayment(db, uploads, { paymentId: Number(id), txHash: body.txHash, actor, note: body.note?.trim() || undefined });
    } catch (error) {
      if (error instanceof PaymentNotFoundError) throw new HttpError(404, 'payment_not_found', error.message);
      if (error instanceof RefundConflictError) throw new HttpError(409, error.code, error.message, error.refundTxHash ? { refundTxHash: error.refundTxHash } : {});
      throw error;
    }
    if (!outcome.repeated) log.info('refund recorded', { paymentId: outcome.payment.id, uploadId: outcome.payment.uploadId, actor, txHash: outcome.payment.refundTxHash, amount: outcome.refunded });
    res.json(outcome);
  });
  return router;
}
