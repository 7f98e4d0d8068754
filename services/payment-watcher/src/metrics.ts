import { Counter } from 'prom-client';
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

export function countCredit(status: CreditStatus): void {
  credits.inc({ status });
}

export function countHint(outcome: string): void {
  hints.inc({ outcome });
}
