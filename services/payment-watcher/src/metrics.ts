import { Counter, Gauge } from 'prom-client';
import type { CreditStatus } from '@reelboard/contracts';

const credits = new Counter({
  name: 'reelboard_payment_credits_total',
  help: 'Credits settled at the confirmation threshold, by how they stand against their quote (partial, paid, overpaid, late, unmatched)',
  labelNames: ['status'] as const,
});

const hints = new Counter({
  name: 'reelboard_payment_hints_total',
  help: "Clients' transaction hashes checked, by outcome (credited, no_payment, reverted, not_found, pending)",
  labelNames: ['outcome'] as const,
});

export const rpcRequests = new Counter({
  name: 'reelboard_rpc_requests_total',
  help: 'HTTP requests to the RPC node (a JSON-RPC batch counts once)',
});

const stuckWork = new Counter({
  name: 'reelboard_stuck_work_total',
  help: 'Uploads and renewals the stuck-work sweep gave up on (failed, their payment recorded due back), by what they were stuck in (paid, processing, renewal)',
  labelNames: ['kind'] as const,
});

export function countStuckWork(kind: 'paid' | 'processing' | 'renewal'): void {
  stuckWork.inc({ kind });
}

const reversals = new Counter({
  name: 'reelboard_payment_reversals_total',
  help: 'Credits taken back by a reorg deeper than the confirmations (the ledger row is `reversed`, the listing held)',
});

const reorgs = new Counter({
  name: 'reelboard_payment_reorgs_total',
  help: 'Reorgs that replaced blocks the deposit passes had already read (deeper than the confirmations)',
});

export function countReversal(): void {
  reversals.inc();
}

export function countReorg(): void {
  reorgs.inc();
}

/**
 * How far behind the chain the deposit passes are: the confirmed head's time minus the time of the
 * last block a pass settled (while the node cannot be read, the wall clock stands for the head's time).
 * Expiries wait for the passes, so a growing lag means unpaid uploads are held, not expired.
 */
export const scanLag = new Gauge({
  name: 'reelboard_payment_scan_lag_seconds',
  help: "Seconds between the confirmed head's time and the last block the deposit passes settled (reported by the replica holding the scan lease)",
});

export function countCredit(status: CreditStatus): void {
  credits.inc({ status });
}

export function countHint(outcome: string): void {
  hints.inc({ outcome });
}
