import type { Knex } from 'knex';

/**
 * Quotes carry their settings (issue 23): the merchant a deposit address pays, the factory that
 * deploys its sweeper and the sweeper's code hash (with the chain id and token the quote already
 * had, they derive its address). A quote is then watched, swept and reconciled under its own
 * settings, so changing MERCHANT_ADDRESS or PAYMENT_TOKEN with quotes open orphans none of them.
 *
 * Rows issued before this are backfilled from the current configuration, which is what they were
 * issued under: the payment watcher does it at start (backfillQuoteSettings), because the factory
 * and code hash derive from the contracts' bytecode, which the database package does not hold. It
 * fills a row only where that configuration derives the row's own deposit address, so a row from an
 * older configuration is never given settings that would sweep it elsewhere.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.text('merchant_address');
    t.text('factory_address');
    t.text('sweeper_code_hash');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.dropColumns('merchant_address', 'factory_address', 'sweeper_code_hash');
  });
}
