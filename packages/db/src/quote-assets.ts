import type { Knex } from 'knex';
import type { QuoteState } from './payments.js';

/** A (chain, asset) of a quote other than its own, as the deposit watcher rebuilds its watch set from the ledger. */
export interface QuoteAssetToWatch {
  uploadId: string;
  owner: `0x${string}`;
  depositAddress: `0x${string}`;
  token: `0x${string}` | null;
  /** The offer's amount; null for an asset the quote did not offer (money in it is due back). */
  amount: string | null;
  createdAt: string;
  expiresAt: string;
  state: QuoteState;
  /** What the ledger has credited in this (chain, asset), base units. */
  creditedTotal: string;
  merchant: `0x${string}` | null;
}

/**
 * Every other (chain, asset) on `chainId` of the quotes still inside their late window (migration
 * 018's rows): a quote's other offers, and assets it did not offer that received money. The quote's
 * own asset is quotesToWatch's.
 */
export async function quoteAssetsToWatch(db: Knex, { chainId, expiredAfter }: { chainId: number; expiredAfter: Date }): Promise<QuoteAssetToWatch[]> {
  const rows: {
    upload_id: string;
    owner: string;
    deposit_address: string;
    token_address: string | null;
    amount: string | null;
    created_at: Date;
    expires_at: Date;
    state: QuoteState;
    credited_total: string;
    merchant_address: string | null;
  }[] = await db('payment_quote_assets as a')
    .join('payment_quotes as q', 'q.quote_id', 'a.quote_id')
    .where('a.chain_id', chainId)
    .andWhere('q.expires_at', '>', expiredAfter)
    .whereRaw(`NOT (q.chain_id = a.chain_id AND coalesce(q.token_address, 'native') = coalesce(a.token_address, 'native'))`)
    .orderBy('q.created_at', 'asc')
    .select(
      'q.upload_id',
      'q.owner',
      'a.deposit_address',
      'a.token_address',
      db.raw('a.amount::text AS amount'),
      'q.created_at',
      'q.expires_at',
      'q.state',
      'q.merchant_address',
      db.raw('a.credited_total::text AS credited_total'),
    );
  return rows.map((row) => ({
    uploadId: row.upload_id,
    owner: row.owner as `0x${string}`,
    depositAddress: row.deposit_address as `0x${string}`,
    token: row.token_address as `0x${string}` | null,
    amount: row.amount,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    state: row.state,
    creditedTotal: row.credited_total,
    merchant: row.merchant_address as `0x${string}` | null,
  }));
}
