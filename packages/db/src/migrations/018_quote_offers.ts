import type { Knex } from 'knex';

/**
 * Quote offers (issue 26): a quote accepts several (chain, asset)s, each at its own amount, on one
 * deposit address (the same on every chain). Every offer is a row here, in the quote's order
 * (`position` 0 is the quote's own chain and asset, on payment_quotes as before); a (chain, asset) the
 * quote did not offer but that received money at its address gets a row too (`position` null, no
 * amount), so the ledger keeps a credited total per (chain, asset) and never adds different assets.
 * `credited_total` here is for the (chain, asset)s other than the quote's own: the quote's own stays
 * payment_quotes.credited_total. The quote records which (chain, asset) paid it (`paid_chain_id`,
 * `paid_token`): money in any other is due back.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payment_quote_assets', (t) => {
    t.increments('id').primary();
    t.uuid('quote_id').notNullable().references('quote_id').inTable('payment_quotes').onDelete('CASCADE');
    t.integer('chain_id').notNullable();
    t.text('deposit_address').notNullable();
    t.text('token_address');
    /** The offer's place in the quote (0: the quote's own); null: not offered, money recorded for refund. */
    t.integer('position');
    t.specificType('amount', 'numeric(78, 0)');
    t.text('chain_name');
    t.text('symbol');
    t.integer('decimals');
    t.text('rate_feed');
    t.specificType('rate_answer', 'numeric(78, 0)');
    t.integer('rate_decimals');
    t.timestamp('rate_updated_at', { useTz: true });
    t.specificType('credited_total', 'numeric(78, 0)').notNullable().defaultTo(0);
    t.bigInteger('credited_block');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['quote_id']);
  });
  await knex.raw(`CREATE UNIQUE INDEX payment_quote_assets_unique ON payment_quote_assets (chain_id, deposit_address, (coalesce(token_address, 'native')))`);
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.integer('paid_chain_id');
    t.text('paid_token');
  });
  // One quote's credits on two chains in their native coins may reach the same running total: the chain keys the increment too.
  await knex.raw('DROP INDEX IF EXISTS payments_quote_increment_unique');
  await knex.raw(
    `CREATE UNIQUE INDEX payments_quote_increment_unique ON payments (quote_id, chain_id, (coalesce(token_address, 'native')), total_after) WHERE total_after IS NOT NULL AND status <> 'reversed'`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS payments_quote_increment_unique');
  await knex.raw(
    `CREATE UNIQUE INDEX payments_quote_increment_unique ON payments (quote_id, (coalesce(token_address, 'native')), total_after) WHERE total_after IS NOT NULL AND status <> 'reversed'`,
  );
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.dropColumns('paid_chain_id', 'paid_token');
  });
  await knex.schema.dropTable('payment_quote_assets');
}
