import { Counter, Gauge } from 'prom-client';
import type { CreditStatus } from '@reelboard/contracts';
import type { Knex } from '@reelboard/db';

const credits = new Counter({
  name: 'reelboard_payment_credits_total',
  help: 'Credits settled at the confirmation threshold, by chain id and how they stand against their quote (partial, paid, overpaid, late, unmatched)',
  labelNames: ['chain', 'status'] as const,
});

const hints = new Counter({
  name: 'reelboard_payment_hints_total',
  help: "Clients' transaction hashes checked, by outcome (credited, no_payment, reverted, not_found, pending)",
  labelNames: ['outcome'] as const,
});

export const rpcRequests = new Counter({
  name: 'reelboard_rpc_requests_total',
  help: 'HTTP requests to the RPC node, by chain id (a JSON-RPC batch counts once)',
  labelNames: ['chain'] as const,
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
  help: 'Credits taken back by a reorg deeper than the confirmations (the ledger row is `reversed`, the listing held), by chain id',
  labelNames: ['chain'] as const,
});

const reorgs = new Counter({
  name: 'reelboard_payment_reorgs_total',
  help: 'Reorgs that replaced blocks the deposit passes had already read (deeper than the confirmations), by chain id',
  labelNames: ['chain'] as const,
});

export function countReversal(chainId: number): void {
  reversals.inc({ chain: String(chainId) });
}

export function countReorg(chainId: number): void {
  reorgs.inc({ chain: String(chainId) });
}

/**
 * How far behind the chain the deposit passes are: the confirmed head's time minus the time of the
 * last block a pass settled (while the node cannot be read, the wall clock stands for the head's time).
 * Expiries wait for the passes, so a growing lag means unpaid uploads are held, not expired.
 */
export const scanLag = new Gauge({
  name: 'reelboard_payment_scan_lag_seconds',
  help: "Seconds between the confirmed head's time and the last block the deposit passes settled, by chain id (reported by the replica holding that chain's scan lease)",
  labelNames: ['chain'] as const,
});

export function countCredit(chainId: number, status: CreditStatus): void {
  credits.inc({ chain: String(chainId), status });
}

export function countHint(outcome: string): void {
  hints.inc({ outcome });
}

let refundsDb: Knex | undefined;

/** Money due back, read from the ledger at scrape time: one cheap query on the partial index of rows with refund_due > 0. */
async function refundsDueByToken(): Promise<{ token: string; count: number; value: number }[]> {
  if (!refundsDb) return [];
  const rows: { token: string; count: string; value: string }[] = await refundsDb('payments')
    .where('refund_due', '>', 0)
    .groupByRaw("coalesce(token_address, 'native')")
    .select(refundsDb.raw("coalesce(token_address, 'native') as token"), refundsDb.raw('count(*) as count'), refundsDb.raw('sum(refund_due) as value'));
  return rows.map((row) => ({ token: row.token, count: Number(row.count), value: Number(row.value) }));
}

// A scrape that cannot read the ledger reports no series rather than failing the whole /metrics
// answer (the readiness check already names a Postgres outage). Both gauges of one scrape share a read.
let lastRead: { at: number; rows: Promise<{ token: string; count: number; value: number }[]> } | undefined;
function refundsDueRead(): Promise<{ token: string; count: number; value: number }[]> {
  if (!lastRead || Date.now() - lastRead.at > 1000) lastRead = { at: Date.now(), rows: refundsDueByToken().catch(() => []) };
  return lastRead.rows;
}

new Gauge({
  name: 'reelboard_refunds_due',
  help: 'Ledger rows with money due back (partial, late, overpaid, unfulfilled, unmatched), by token (native for the coin)',
  labelNames: ['token'] as const,
  async collect() {
    const rows = await refundsDueRead();
    this.reset();
    for (const row of rows) this.set({ token: row.token }, row.count);
  },
});

new Gauge({
  name: 'reelboard_refunds_due_value',
  help: "Money due back in the token's base units (wei for the coin), by token: a float, exact enough to alert on, not to pay from",
  labelNames: ['token'] as const,
  async collect() {
    const rows = await refundsDueRead();
    this.reset();
    for (const row of rows) this.set({ token: row.token }, row.value);
  },
});

/** Reports the refunds due on /metrics from this ledger (the payment-watcher's start-up calls it once). */
export function watchRefundsDue(db: Knex): void {
  refundsDb = db;
}

const refundSendFailures = new Counter({
  name: 'reelboard_refund_send_failures_total',
  help: 'Refunds the refund wallet tried and did not pay (the ledger row stays due), by chain id and reason (insufficient_funds, reverted, broadcast_failed, nonce_taken, verification_failed)',
  labelNames: ['chain', 'reason'] as const,
});

const refundsSent = new Counter({
  name: 'reelboard_refunds_sent_total',
  help: 'Refunds the refund wallet paid, confirmed and recorded in the ledger, by chain id and asset symbol',
  labelNames: ['chain', 'asset'] as const,
});

const refundWalletBalance = new Gauge({
  name: 'reelboard_refund_wallet_balance',
  help: "The refund wallet's balance in whole units of each asset (a float), by chain id and asset symbol, read each refund round",
  labelNames: ['chain', 'asset'] as const,
});

const refundsHeldByLimit = new Gauge({
  name: 'reelboard_refunds_held_by_limit',
  help: 'Approved refunds waiting because sending them would pass REFUND_DAILY_LIMIT, by chain id and asset symbol',
  labelNames: ['chain', 'asset'] as const,
});

export function countRefundSendFailure(chainId: number, reason: string): void {
  refundSendFailures.inc({ chain: String(chainId), reason });
}

export function countRefundSent(chainId: number, asset: string): void {
  refundsSent.inc({ chain: String(chainId), asset });
}

export function setRefundWalletBalance(chainId: number, asset: string, balance: number): void {
  refundWalletBalance.set({ chain: String(chainId), asset }, balance);
}

export function setRefundsHeldByLimit(chainId: number, asset: string, count: number): void {
  refundsHeldByLimit.set({ chain: String(chainId), asset }, count);
}
