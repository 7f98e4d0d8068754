import { Counter } from 'prom-client';
import type { VerifyPaymentReturnType } from './verify-payment.js';

const verifications = new Counter({
  name: 'reelboard_payment_verifications_total',
  help: 'Verdicts on submitted or found payments: outcome confirmed/rejected/pending, with the payment status or the reason code',
  labelNames: ['outcome', 'reason'] as const,
});

/** Counts one verdict by outcome and reason (rejection code, pending code, or the confirmed payment's status). */
export function countVerdict(verdict: VerifyPaymentReturnType): void {
  verifications.inc({ outcome: verdict.outcome, reason: verdict.outcome === 'confirmed' ? verdict.payment.status : verdict.code });
}
