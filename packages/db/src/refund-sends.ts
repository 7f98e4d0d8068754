import type { Knex } from 'knex';
import { findPayment, PaymentNotFoundError, type PaymentView, RefundConflictError, RefundVerificationError } from './payments.js';

/** Where a refund the refund wallet pays stands (migration 019). */
export type RefundSendState = 'approved' | 'sending' | 'sent' | 'failed' | 'cancelled';
export const refundSendStates: readonly RefundSendState[] = ['approved', 'sending', 'sent', 'failed', 'cancelled'];

/** One refund the refund wallet pays, as operators see it. */
export interface RefundSendView {
  id: number;
  paymentId: number;
  chainId: number;
  /** The asset: the ERC-20's address, or null for the chain's native coin. */
  token: string | null;
  recipient: string;
  /** Base units of the asset. */
  amount: string;
  state: RefundSendState;
  /** An admin's wallet, `admin-token`, `cli:<user>`, or `policy:REFUND_AUTO_APPROVE_MAX`. */
  approvedBy: string;
  approvedAt: string;
  from: string | null;
  nonce: number | null;
  txHash: string | null;
  sentAt: string | null;
  confirmedAt: string | null;
  failures: number;
  lastError: string | null;
}

interface SendRow {
  id: string;
  payment_id: string;
  chain_id: number;
  token_address: string | null;
  recipient: string;
  amount: string;
  state: RefundSendState;
  approved_by: string;
  approved_at: Date;
  from_address: string | null;
  nonce: string | null;
  tx_hash: string | null;
  raw_tx: string | null;
  sent_at: Date | null;
  confirmed_at: Date | null;
  failures: number;
  last_error: string | null;
}

function toView(row: SendRow): RefundSendView {
  return {
    id: Number(row.id),
    paymentId: Number(row.payment_id),
    chainId: row.chain_id,
    token: row.token_address,
    recipient: row.recipient,
    amount: row.amount,
    state: row.state,
    approvedBy: row.approved_by,
    approvedAt: row.approved_at.toISOString(),
    from: row.from_address,
    nonce: row.nonce === null ? null : Number(row.nonce),
    txHash: row.tx_hash,
    sentAt: row.sent_at?.toISOString() ?? null,
    confirmedAt: row.confirmed_at?.toISOString() ?? null,
    failures: row.failures,
    lastError: row.last_error,
  };
}

/** An open send with the signed bytes the sender broadcasts (and broadcasts again after a crash). */
export interface OpenRefundSend extends RefundSendView {
  rawTx: string | null;
}

const OPEN: RefundSendState[] = ['approved', 'sending'];

/**
 * Who a refund the wallet sends pays without further proof: the quote's owner, else the row's named
 * sender (issue 23's rules). A refund to another address is recorded by hand with the payer's signature.
 */
export function refundRecipientOf(payment: Pick<PaymentView, 'id' | 'owner' | 'from'>): string {
  const recipient = payment.owner ?? payment.from;
  if (!recipient)
    throw new RefundVerificationError(
      'refund_recipient_unproven',
      `payment ${payment.id} has no owner and no sender; the refund wallet cannot send it (record a refund sent by hand with the payer's signature)`,
    );
  return recipient.toLowerCase();
}

export interface ApproveRefundInput {
  paymentId: number;
  /** Who approves: an admin's wallet, `admin-token`, `cli:<user>`. */
  actor: string;
}

/**
 * Approves the refund wallet to pay back what a ledger row has due, to its owner (or its sender).
 * Audited in the row (`approved_by`, `approved_at`). Approving a row already approved (or being sent)
 * answers that send with `repeated: true`; a row with nothing due is a RefundConflictError.
 */
export async function approveRefund(db: Knex, input: ApproveRefundInput): Promise<{ send: RefundSendView; repeated: boolean }> {
  return db.transaction(async (trx) => {
    const locked = await trx('payments').where({ id: input.paymentId }).forUpdate().first('id');
    if (!locked) throw new PaymentNotFoundError(input.paymentId);
    const payment = (await findPayment(trx, input.paymentId)) as PaymentView;
    const open: SendRow | undefined = await trx('refund_sends').where({ payment_id: input.paymentId }).whereIn('state', OPEN).first();
    if (open && (open.state === 'sending' || BigInt(payment.refundDue) > 0n)) return { send: toView(open), repeated: true };
    if (BigInt(payment.refundDue) === 0n) {
      // Refunded by hand since it was approved: the wallet would only cancel it on its next round.
      if (open)
        await trx('refund_sends')
          .where({ id: open.id, state: 'approved' })
          .update({ state: 'cancelled', last_error: 'nothing due any more', updated_at: trx.fn.now() });
      throw new RefundConflictError('not_refundable', payment.id, `payment ${payment.id} (${payment.status}) has nothing due back`);
    }
    const [row]: SendRow[] = await trx('refund_sends')
      .insert({
        payment_id: payment.id,
        chain_id: payment.chainId,
        token_address: payment.token,
        recipient: refundRecipientOf(payment),
        amount: payment.refundDue,
        state: 'approved',
        approved_by: input.actor,
      })
      .returning('*');
    return { send: toView(row as SendRow), repeated: false };
  });
}

/** The auto-approval policy's actor, as `approved_by` records it. */
export const AUTO_APPROVER = 'policy:REFUND_AUTO_APPROVE_MAX';

/**
 * Approves, on one chain, the refunds of overpayments' excess and of late payments whose due is at
 * most the limit of their asset (`limits`: token address, or `native`, to base units); other assets
 * and other kinds of row (partial, unmatched, unfulfilled) wait for an admin. Returns the sends made.
 */
export async function autoApproveRefunds(db: Knex, chainId: number, limits: ReadonlyMap<string, bigint>): Promise<RefundSendView[]> {
  if (limits.size === 0) return [];
  const approved: RefundSendView[] = [];
  const candidates: { id: string; token_address: string | null; refund_due: string }[] = await db('payments as p')
    .where('p.chain_id', chainId)
    .where('p.refund_due', '>', 0)
    .whereIn('p.status', ['overpaid', 'late'])
    .whereNotExists((q) => q.select(db.raw('1')).from('refund_sends as r').whereRaw('r.payment_id = p.id').whereIn('r.state', OPEN))
    .orderBy('p.id')
    .limit(500)
    .select('p.id', 'p.token_address', 'p.refund_due');
  for (const row of candidates) {
    const limit = limits.get(row.token_address ?? 'native');
    if (limit === undefined || BigInt(row.refund_due) > limit) continue;
    try {
      const { send, repeated } = await approveRefund(db, { paymentId: Number(row.id), actor: AUTO_APPROVER });
      if (!repeated) approved.push(send);
    } catch (error) {
      // A row nobody can be refunded to without a signature stays for an admin.
      if (!(error instanceof RefundVerificationError) && !(error instanceof RefundConflictError)) throw error;
    }
  }
  return approved;
}

/** A chain's approved and sending refunds, oldest first (with the signed bytes of those sending). */
export async function openRefundSends(db: Knex, chainId: number): Promise<OpenRefundSend[]> {
  const rows: SendRow[] = await db('refund_sends').where({ chain_id: chainId }).whereIn('state', OPEN).orderBy('id');
  return rows.map((row) => ({ ...toView(row), rawTx: row.raw_tx }));
}

export interface RefundSendQuery {
  states?: readonly RefundSendState[] | undefined;
  limit: number;
}

/** Refund sends, newest first. */
export async function listRefundSends(db: Knex, query: RefundSendQuery): Promise<RefundSendView[]> {
  const rows: SendRow[] = await db('refund_sends')
    .modify((q) => {
      if (query.states?.length) q.whereIn('state', query.states);
    })
    .orderBy('id', 'desc')
    .limit(query.limit);
  return rows.map(toView);
}

/** Base units of `token` (null: native coin) the wallet sent or is sending on a chain in the last 24 hours. */
export async function refundsSentInLastDay(db: Knex, chainId: number, token: string | null): Promise<bigint> {
  const row: { total: string | null } | undefined = await db('refund_sends')
    .where({ chain_id: chainId })
    .whereIn('state', ['sending', 'sent'])
    .where('sent_at', '>', db.raw("now() - interval '24 hours'"))
    .modify((q) => (token === null ? q.whereNull('token_address') : q.where('token_address', token)))
    .first(db.raw('sum(amount) as total'));
  return BigInt(row?.total ?? 0);
}

export interface SigningRecord {
  id: number;
  from: string;
  nonce: number;
  txHash: string;
  rawTx: string;
  /** What the transaction pays (the row's due when it was signed). */
  amount: string;
}

/**
 * Records a signed refund transaction as `sending` before it is broadcast: after a crash the row says
 * which transaction (hash, nonce, bytes) may be on the network, so it is followed or broadcast again,
 * never signed a second time. False when the row is no longer approved (another sender took it).
 */
export async function recordRefundSending(db: Knex, record: SigningRecord): Promise<boolean> {
  const updated = await db('refund_sends').where({ id: record.id, state: 'approved' }).update({
    state: 'sending',
    from_address: record.from.toLowerCase(),
    nonce: record.nonce,
    tx_hash: record.txHash.toLowerCase(),
    raw_tx: record.rawTx,
    amount: record.amount,
    sent_at: db.fn.now(),
    updated_at: db.fn.now(),
  });
  return updated === 1;
}

/**
 * A send that paid nothing: back to `approved` (the wallet ran dry, the node refused it, its nonce went
 * to another transaction: the next round tries again) or `failed` (it reverted: an operator looks
 * first). The ledger row keeps its due either way.
 */
export async function recordRefundSendFailure(db: Knex, id: number, failure: { error: string; retry: boolean }): Promise<void> {
  await db('refund_sends')
    .where({ id })
    .whereIn('state', OPEN)
    .update({
      state: failure.retry ? 'approved' : 'failed',
      ...(failure.retry ? { from_address: null, nonce: null, tx_hash: null, raw_tx: null, sent_at: null } : {}),
      failures: db.raw('failures + 1'),
      last_error: failure.error.slice(0, 1000),
      updated_at: db.fn.now(),
    });
}

/** A send that waits (daily limit, gas cap) without having failed: why, for `pnpm payments refunds`. */
export async function recordRefundSendWaiting(db: Knex, id: number, reason: string): Promise<void> {
  await db('refund_sends')
    .where({ id, state: 'approved' })
    .update({ last_error: reason.slice(0, 1000), updated_at: db.fn.now() });
}

/** The refund transaction confirmed and the payments row recorded refunded by it. */
export async function recordRefundSent(db: Knex, id: number): Promise<void> {
  await db('refund_sends')
    .where({ id, state: 'sending' })
    .update({ state: 'sent', confirmed_at: db.fn.now(), last_error: null, raw_tx: null, updated_at: db.fn.now() });
}

/** An approved send with nothing due any more (refunded by hand meanwhile): closed unsent. */
export async function cancelRefundSend(db: Knex, id: number, reason: string): Promise<void> {
  await db('refund_sends')
    .where({ id, state: 'approved' })
    .update({ state: 'cancelled', last_error: reason.slice(0, 1000), updated_at: db.fn.now() });
}

/**
 * The chain and asset an upload (or a renewal, by its listing id) was last quoted in, from the ledger:
 * for a refund's notification days later, when the upload's record in Redis is gone.
 */
export async function quotePlaceOf(db: Knex, uploadId: string): Promise<{ chainId: number; token: string | null } | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uploadId)) return undefined;
  const row: { chain_id: number; token_address: string | null } | undefined = await db('payment_quotes')
    .where({ upload_id: uploadId })
    .orderBy('created_at', 'desc')
    .first('chain_id', 'token_address');
  return row ? { chainId: row.chain_id, token: row.token_address } : undefined;
}
