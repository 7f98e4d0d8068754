import type { Knex } from 'knex';

/** A payment as it is stored. */
export interface PaymentRecord {
  uploadId: string;
  chainId: number;
  txHash: string;
  /** null for a native transfer. */
  logIndex: number | null;
  from: string;
  to: string;
  token: string | null;
  /** Base units as a decimal string. */
  amount: string;
  blockNumber: string;
  blockTime: string;
  status: 'paid' | 'overpaid' | 'partial' | 'late' | 'unfulfilled';
}

export function paymentRow(payment: PaymentRecord, listingId: string | null) {
  return {
    upload_id: payment.uploadId,
    listing_id: listingId,
    chain_id: payment.chainId,
    tx_hash: payment.txHash.toLowerCase(),
    log_index: payment.logIndex ?? -1,
    from_address: payment.from.toLowerCase(),
    to_address: payment.to.toLowerCase(),
    token_address: payment.token?.toLowerCase() ?? null,
    amount: payment.amount,
    block_number: payment.blockNumber,
    block_time: payment.blockTime,
    status: payment.status,
  };
}

/**
 * Writes a payment, keyed by the transfer (chain, tx hash, log index): the same transfer is one
 * row however often it is written. A retry, or an `unfulfilled` record being fulfilled, updates it.
 */
export async function upsertPayment(db: Knex, payment: PaymentRecord, listingId: string | null): Promise<void> {
  await db('payments')
    .insert(paymentRow(payment, listingId))
    .onConflict(['chain_id', 'tx_hash', 'log_index'])
    .merge({ listing_id: listingId, status: payment.status, failure_reason: null, failed_stage: null, updated_at: db.fn.now() });
}

/**
 * Records a paid upload that failed for good, so an operator can retry or refund it: a confirmed
 * payment is never lost. A listing already saved for it is left alone.
 */
export async function recordUnfulfilledPayment(db: Knex, payment: PaymentRecord, failure: { stage: string; reason: string }): Promise<void> {
  await db('payments')
    .insert({ ...paymentRow({ ...payment, status: 'unfulfilled' }, null), failure_reason: failure.reason, failed_stage: failure.stage })
    .onConflict(['chain_id', 'tx_hash', 'log_index'])
    .merge({ status: db.raw(`CASE WHEN payments.listing_id IS NULL THEN 'unfulfilled'::payment_status ELSE payments.status END`), failure_reason: failure.reason, failed_stage: failure.stage, updated_at: db.fn.now() });
}

/**
 * Records a payment that does not fulfil its upload (underpaid, late, or a second payment) with
 * the reason, so an operator can refund it. A row already tied to a listing is left alone.
 */
export async function recordRefundablePayment(db: Knex, payment: PaymentRecord, reason: string): Promise<void> {
  await db('payments')
    .insert({ ...paymentRow(payment, null), failure_reason: reason })
    .onConflict(['chain_id', 'tx_hash', 'log_index'])
    .merge({ status: db.raw(`CASE WHEN payments.listing_id IS NULL THEN EXCLUDED.status ELSE payments.status END`), failure_reason: reason, updated_at: db.fn.now() });
}
