import type { Knex } from 'knex';
import type { QuotePurpose, QuoteState } from './payments.js';

/** A quote as the deposit watcher rebuilds its watch set from the ledger. */
export interface QuoteToWatch {
  quoteId: string;
  uploadId: string;
  owner: `0x${string}`;
  depositAddress: `0x${string}`;
  token: `0x${string}` | null;
  amount: string;
  createdAt: string;
  expiresAt: string;
  state: QuoteState;
  purpose: QuotePurpose;
  /** What the ledger has credited to the address so far (balance plus swept), base units. */
  creditedTotal: string;
  /** The merchant its deposit address pays; null on a row not backfilled yet (see backfillQuoteSettings). */
  merchant: `0x${string}` | null;
  /** The CREATE2 salt of its deposit address (migration 020); null: the quote id itself. */
  depositSalt: `0x${string}` | null;
}

export interface QuotesToWatchParameters {
  chainId: number;
  /** Quotes that expired before this are past their late window and are left to reconciliation. */
  expiredAfter: Date;
}

/**
 * Every quote of the chain the deposit watcher should still be watching: those whose late window has not
 * closed, open or ended (the watcher drops older ones too; reconciliation covers them). Redis holds the
 * watch set as a cache; this is what it is rebuilt from.
 */
export async function quotesToWatch(db: Knex, { chainId, expiredAfter }: QuotesToWatchParameters): Promise<QuoteToWatch[]> {
  const rows: {
    quote_id: string;
    upload_id: string;
    owner: string;
    deposit_address: string;
    token_address: string | null;
    amount: string;
    created_at: Date;
    expires_at: Date;
    state: QuoteState;
    purpose: QuotePurpose;
    credited_total: string;
    merchant_address: string | null;
    deposit_salt: string | null;
  }[] = await db('payment_quotes')
    .where({ chain_id: chainId })
    .andWhere('expires_at', '>', expiredAfter)
    .orderBy('created_at', 'asc')
    .select(
      'quote_id',
      'upload_id',
      'owner',
      'deposit_address',
      'token_address',
      'amount',
      'created_at',
      'expires_at',
      'state',
      'purpose',
      'merchant_address',
      'deposit_salt',
      db.raw('credited_total::text AS credited_total'),
    );
  return rows.map((row) => ({
    quoteId: row.quote_id,
    uploadId: row.upload_id,
    owner: row.owner as `0x${string}`,
    depositAddress: row.deposit_address as `0x${string}`,
    token: row.token_address as `0x${string}` | null,
    amount: String(row.amount),
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    state: row.state,
    purpose: row.purpose,
    creditedTotal: row.credited_total,
    merchant: row.merchant_address as `0x${string}` | null,
    depositSalt: row.deposit_salt as `0x${string}` | null,
  }));
}

/** A quote recorded before quotes carried their settings (migration 009), as backfillQuoteSettings sees it. */
export interface QuoteWithoutSettings {
  quoteId: string;
  depositAddress: `0x${string}`;
  token: `0x${string}` | null;
}

/**
 * Backfills the settings of quotes recorded before they carried them, from the configuration running
 * now: `settingsFor` answers the settings under which the current merchant derives a quote's address
 * for its token, or undefined where it does not (a row from an older configuration, left unset and
 * counted, never given settings that would sweep it elsewhere). Returns how many rows were filled and left.
 */
export async function backfillQuoteSettings(
  db: Knex,
  chainId: number,
  settingsFor: (quote: QuoteWithoutSettings) => { merchant: string; factory: string; sweeperCodeHash: string } | undefined,
): Promise<{ filled: number; left: number }> {
  const rows: { quote_id: string; deposit_address: string; token_address: string | null }[] = await db('payment_quotes')
    .where({ chain_id: chainId })
    .whereNull('merchant_address')
    .select('quote_id', 'deposit_address', 'token_address');
  let filled = 0;
  for (const row of rows) {
    const settings = settingsFor({
      quoteId: row.quote_id,
      depositAddress: row.deposit_address as `0x${string}`,
      token: row.token_address as `0x${string}` | null,
    });
    if (!settings) continue;
    filled += await db('payment_quotes').where({ quote_id: row.quote_id }).whereNull('merchant_address').update({
      merchant_address: settings.merchant.toLowerCase(),
      factory_address: settings.factory.toLowerCase(),
      sweeper_code_hash: settings.sweeperCodeHash.toLowerCase(),
    });
  }
  return { filled, left: rows.length - filled };
}
