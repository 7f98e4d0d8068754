import type { Knex } from 'knex';

/**
 * Prices in a fiat currency (issue 26): a quote keeps the fiat price its amount stands for and, for
 * the native coin, the price feed's answer it was converted at (locked for the quote's lifetime), so
 * the ledger can say what a payment was worth when it was asked for. Null on quotes priced in base units.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.text('price_amount');
    t.text('price_currency');
    t.text('rate_feed');
    t.specificType('rate_answer', 'numeric(78, 0)');
    t.integer('rate_decimals');
    t.timestamp('rate_updated_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.dropColumns('price_amount', 'price_currency', 'rate_feed', 'rate_answer', 'rate_decimals', 'rate_updated_at');
  });
}
