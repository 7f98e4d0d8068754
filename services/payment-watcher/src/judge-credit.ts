import type { CreditStatus, Payment, UploadState } from '@reelboard/contracts';
import type { WatchedQuote } from './watch-list.js';

export interface JudgeCreditParameters {
  quote: Pick<WatchedQuote, 'amount' | 'expiresAt'>;
  /** The upload's lifecycle state now (undefined if Redis no longer knows it: then nothing it receives pays it). */
  state: UploadState | undefined;
  /** The payment that made the upload paid, if one did. */
  payment: Pick<Payment, 'amount' | 'status'> | undefined;
  /** Everything the deposit address has received (balance plus swept) at the block judged. */
  total: bigint;
  /** That block's timestamp, ms. */
  blockTime: number;
  /**
   * A shortfall accepted as paid, in basis points of the quote (50: 0.5 %), as BTCPay's payment
   * tolerance: a wallet or an exchange that takes its fee from the amount still pays. 0 or unset: none.
   */
  toleranceBps?: number | undefined;
}

export type JudgeCreditReturnType = {
  status: CreditStatus;
  /** True when this total pays the upload: it must be (or already was) made paid and its work queued. */
  settles: boolean;
};

/**
 * How a deposit address's new total stands against its quote. A payment already settled is judged
 * the same way again (a retried pass replays its decision rather than calling it an overpayment);
 * money beyond it is an overpayment, money after the quote ended is late: both are due back. A total
 * short of the price by at most the tolerance pays it (`paid`); the ledger records the shortfall.
 */
export function judgeCredit({ quote, state, payment, total, blockTime, toleranceBps = 0 }: JudgeCreditParameters): JudgeCreditReturnType {
  if (payment) {
    if (total <= BigInt(payment.amount)) return { status: payment.status, settles: state === 'paid' };
    return { status: 'overpaid', settles: false };
  }
  // An upload Redis no longer knows (its data was lost) can never be made paid nor get a listing:
  // whatever reaches its address is due back, never counted as paying an open quote.
  const open = state === 'awaiting_payment' && blockTime <= Date.parse(quote.expiresAt);
  if (!open) return { status: 'late', settles: false };
  const price = BigInt(quote.amount);
  // The least amount that pays: the price less the tolerance, rounded so the shortfall never exceeds it.
  const least = price - (price * BigInt(toleranceBps)) / 10_000n;
  if (total < least) return { status: 'partial', settles: false };
  return { status: total <= price ? 'paid' : 'overpaid', settles: true };
}
