import type { Knex } from 'knex';

/** A ledger row that names a transaction, as reconciliation re-checks it against the chain. */
export interface LedgerTxRow {
  paymentId: number;
  quoteId: string | null;
  /** The address the row's money went to: a deposit address, or the merchant's. */
  toAddress: string;
  token: string | null;
  txHash: string;
  logIndex: number | null;
  amount: string;
}

/** A refund recorded in payment_events, with who it was meant for. */
export interface LedgerRefund {
  paymentId: number;
  quoteId: string | null;
  /** The address the row's money went to (the merchant's for an unmatched transfer). */
  toAddress: string;
  token: string | null;
  txHash: string;
  /** What the refund paid back (base units). */
  amount: string;
  /** Where it was verified to go; null for refunds recorded before 008 (then the owner or the row's sender). */
  recipient: string | null;
  owner: string | null;
  from: string | null;
}

type TxRow = {
  id: string;
  quote_id: string | null;
  to_address: string;
  token_address: string | null;
  tx_hash: string;
  log_index: number | null;
  amount: string;
};
const txRow = (row: TxRow): LedgerTxRow => ({
  paymentId: Number(row.id),
  quoteId: row.quote_id,
  toAddress: row.to_address,
  token: row.token_address,
  txHash: row.tx_hash,
  logIndex: row.log_index,
  amount: row.amount,
});

/**
 * What the ledger says the chain holds, for reconciliation's ledger -> chain half: unmatched transfers
 * to the merchant (the chain must still show them), reversed rows with no live row for the same
 * transfer (the chain must still not show them), and every recorded refund (the chain must show it paid).
 */
export async function ledgerChainRecords(db: Knex, chainId: number): Promise<{ unmatched: LedgerTxRow[]; reversed: LedgerTxRow[]; refunds: LedgerRefund[] }> {
  const columns = ['p.id', 'p.quote_id', 'p.to_address', 'p.token_address', 'p.tx_hash', 'p.log_index', 'p.amount'];
  const unmatched: TxRow[] = await db('payments as p')
    .where({ 'p.chain_id': chainId, 'p.credit_status': 'unmatched' })
    .whereNot('p.status', 'reversed')
    .whereNotNull('p.tx_hash')
    .orderBy('p.id')
    .select(columns);
  // A transfer mined again after a reorg is credited by a new row: its reversed one is history, not a difference.
  const reversed: TxRow[] = await db('payments as p')
    .where({ 'p.chain_id': chainId, 'p.status': 'reversed' })
    .whereNotNull('p.tx_hash')
    .whereNotExists(
      db('payments as live')
        .whereRaw('live.tx_hash = p.tx_hash')
        .whereRaw('coalesce(live.log_index, -1) = coalesce(p.log_index, -1)')
        .whereNot('live.status', 'reversed')
        .select(db.raw('1')),
    )
    .orderBy('p.id')
    .select(columns);
  const refunds: {
    payment_id: string;
    quote_id: string | null;
    to_address: string;
    token_address: string | null;
    tx_hash: string;
    amount: string | null;
    recipient: string | null;
    owner: string | null;
    from_address: string | null;
  }[] = await db('payment_events as e')
    .join('payments as p', 'p.id', 'e.payment_id')
    .leftJoin('payment_quotes as q', 'q.quote_id', 'p.quote_id')
    .where({ 'e.action': 'refund', 'p.chain_id': chainId })
    .whereNotNull('e.tx_hash')
    .orderBy('e.id')
    .select('e.payment_id', 'p.quote_id', 'p.to_address', 'p.token_address', 'e.tx_hash', 'e.amount', 'e.recipient', 'q.owner', 'p.from_address');
  return {
    unmatched: unmatched.map(txRow),
    reversed: reversed.map(txRow),
    refunds: refunds.map((row) => ({
      paymentId: Number(row.payment_id),
      quoteId: row.quote_id,
      toAddress: row.to_address,
      token: row.token_address,
      txHash: row.tx_hash,
      amount: row.amount ?? '0',
      recipient: row.recipient,
      owner: row.owner,
      from: row.from_address,
    })),
  };
}

/** Whose reconciliation a checkpoint is: the settings a quote is grouped by. */
export interface ReconcileScope {
  chainId: number;
  merchant: string;
  token: string | null;
}

/** Where reconciliation of one scope stands. */
export interface ReconcileCheckpoint {
  /** The deposit factory's deployment block, once found on chain. */
  deploymentBlock: bigint | null;
  /** The last block whose transfers to the merchant were fully reconciled. */
  lastBlock: bigint | null;
  /** Its hash then. */
  lastBlockHash: string | null;
}

const scopeKey = (scope: ReconcileScope) => ({
  chain_id: scope.chainId,
  merchant: scope.merchant.toLowerCase(),
  asset: scope.token?.toLowerCase() ?? 'native',
});

export async function readReconcileCheckpoint(db: Knex, scope: ReconcileScope): Promise<ReconcileCheckpoint | undefined> {
  const row: { deployment_block: string | null; last_block: string | null; last_block_hash: string | null } | undefined = await db('reconcile_checkpoints')
    .where(scopeKey(scope))
    .first('deployment_block', 'last_block', 'last_block_hash');
  if (!row) return undefined;
  return {
    deploymentBlock: row.deployment_block === null ? null : BigInt(row.deployment_block),
    lastBlock: row.last_block === null ? null : BigInt(row.last_block),
    lastBlockHash: row.last_block_hash,
  };
}

/**
 * Records what is given; the last block (with its hash) never moves back, so a run over an older range
 * leaves it. `reset` forgets it all first: the chain no longer has the recorded block.
 */
export async function saveReconcileCheckpoint(
  db: Knex,
  scope: ReconcileScope,
  update: { deploymentBlock?: bigint; lastBlock?: { number: bigint; hash: string }; reset?: boolean },
): Promise<void> {
  if (update.reset) await db('reconcile_checkpoints').where(scopeKey(scope)).delete();
  const deployment = update.deploymentBlock?.toString() ?? null;
  const last = update.lastBlock?.number.toString() ?? null;
  const hash = update.lastBlock?.hash.toLowerCase() ?? null;
  await db.raw(
    `INSERT INTO reconcile_checkpoints (chain_id, merchant, asset, deployment_block, last_block, last_block_hash)
       VALUES (:chain_id, :merchant, :asset, :deployment, :last, :hash)
     ON CONFLICT (chain_id, merchant, asset) DO UPDATE SET
       deployment_block = coalesce(EXCLUDED.deployment_block, reconcile_checkpoints.deployment_block),
       last_block_hash = CASE WHEN reconcile_checkpoints.last_block IS NULL OR EXCLUDED.last_block > reconcile_checkpoints.last_block
         THEN EXCLUDED.last_block_hash ELSE reconcile_checkpoints.last_block_hash END,
       last_block = greatest(EXCLUDED.last_block, reconcile_checkpoints.last_block),
       updated_at = now()`,
    { ...scopeKey(scope), deployment, last, hash },
  );
}

/** A paid quote whose work the ledger never saw done, nor owes back. */
export interface StalledQuote {
  quoteId: string;
  uploadId: string;
  purpose: 'upload' | 'renewal';
  listingId: string | null;
  expiresAt: string;
}

/**
 * Paid quotes the ledger shows neither fulfilled nor due back, a while after their deadline: an
 * upload's with no listing saved (its job lost: nothing recorded it failed), a renewal's never applied
 * to its listing (no `renew` event names it). Quotes recorded failed (`failed_stage`) or with money
 * due back or refunded are the refund process's, not lost.
 */
export async function stalledQuotes(db: Knex, chainId: number, afterDeadlineMs: number): Promise<StalledQuote[]> {
  const rows: { quote_id: string; upload_id: string; purpose: 'upload' | 'renewal'; listing_id: string | null; expires_at: Date }[] = await db(
    'payment_quotes as q',
  )
    .where({ 'q.chain_id': chainId, 'q.state': 'paid' })
    .whereNull('q.failed_stage')
    .whereRaw(`q.expires_at < now() - make_interval(secs => ?)`, [afterDeadlineMs / 1000])
    .where((w) =>
      w
        .where((u) => u.where('q.purpose', 'upload').whereNull('q.listing_id'))
        .orWhere((r) =>
          r
            .where('q.purpose', 'renewal')
            .whereNotExists(
              db('listing_events as e')
                .whereRaw('e.listing_id = q.listing_id')
                .where('e.action', 'renew')
                .whereRaw(`e.detail ->> 'quoteId' = q.quote_id::text`)
                .select(db.raw('1')),
            ),
        ),
    )
    .whereNotExists(
      db('payments as p')
        .whereRaw('p.quote_id = q.quote_id')
        .where((d) => d.where('p.refund_due', '>', 0).orWhere('p.status', 'refunded'))
        .select(db.raw('1')),
    )
    .orderBy('q.expires_at')
    .select('q.quote_id', 'q.upload_id', 'q.purpose', 'q.listing_id', 'q.expires_at');
  return rows.map((row) => ({
    quoteId: row.quote_id,
    uploadId: row.upload_id,
    purpose: row.purpose,
    listingId: row.listing_id,
    expiresAt: row.expires_at.toISOString(),
  }));
}
