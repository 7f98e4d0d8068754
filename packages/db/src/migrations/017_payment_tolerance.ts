import type { Knex } from 'knex';

/**
 * Payment tolerance (issue 26): a quote covered by less than its amount, within PAYMENT_TOLERANCE_BPS,
 * is paid; what it lacked is recorded here (base units of its asset; null: covered in full).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.specificType('shortfall', 'numeric(78, 0)');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.dropColumn('shortfall');
  });
}
