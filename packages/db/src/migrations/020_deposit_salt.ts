import type { Knex } from 'knex';

/**
 * The CREATE2 salt of each quote's deposit address (issue 23): a keyed hash of the quote id
 * (DEPOSIT_SALT_KEY), stored so the watcher, the sweeper and reconciliation reach the address
 * whatever the key is later. Null on quotes issued before: their salt is the quote id itself.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.text('deposit_salt');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.dropColumn('deposit_salt');
  });
}
