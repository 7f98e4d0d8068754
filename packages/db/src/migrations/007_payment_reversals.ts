import type { Knex } from 'knex';

const BEFORE = ['paid', 'overpaid', 'partial', 'late', 'unfulfilled', 'unmatched', 'refunded'];
const AFTER = [...BEFORE, 'reversed'];

/** Replaces the payment_status enum by one with `values`, in place (as 004 does: `ADD VALUE` could not be undone). */
async function rebuildPaymentStatus(knex: Knex, values: string[]): Promise<void> {
  await knex.raw('ALTER TYPE payment_status RENAME TO payment_status_old');
  // DDL takes no bind parameters; the values are this file's own constants.
  await knex.raw(`CREATE TYPE payment_status AS ENUM (${values.map((value) => `'${value}'`).join(', ')})`);
  await knex.raw(
    'ALTER TABLE payments ALTER COLUMN status TYPE payment_status USING status::text::payment_status, ALTER COLUMN credit_status TYPE payment_status USING credit_status::text::payment_status',
  );
  await knex.raw('DROP TYPE payment_status_old');
}

/**
 * Reorgs deeper than the confirmations (issue 23):
 * - a ledger row the chain no longer shows becomes `reversed`, with when and the blocks the reorg
 *   replaced (nothing of it is due back: the money never stayed);
 * - a listing whose payment was reversed is held from the public (`payment_held_at`, with the
 *   reason), not deleted: it is public again once the money is back on chain.
 */
export async function up(knex: Knex): Promise<void> {
  await rebuildPaymentStatus(knex, AFTER);
  // A reversed increment keeps its place in the quote's running total; the money credited again
  // (the transaction mined again) is a new increment ending at the same total.
  await knex.raw('DROP INDEX payments_quote_increment_unique');
  await knex.raw(
    `CREATE UNIQUE INDEX payments_quote_increment_unique ON payments (quote_id, (coalesce(token_address, 'native')), total_after) WHERE total_after IS NOT NULL AND status <> 'reversed'`,
  );
  await knex.schema.alterTable('payments', (t) => {
    t.timestamp('reversed_at', { useTz: true });
    t.bigInteger('reversed_from_block');
    t.bigInteger('reversed_to_block');
  });
  await knex.schema.alterTable('listings', (t) => {
    t.timestamp('payment_held_at', { useTz: true });
    t.text('payment_held_reason');
  });
}

/** Reversed rows go back to how they were credited (the old schema cannot say `reversed`); held listings are public again. */
export async function down(knex: Knex): Promise<void> {
  // Out of the running total first, so it cannot collide with the increment that credited the money again.
  await knex.raw(`UPDATE payments SET total_after = NULL WHERE status = 'reversed' AND quote_id IS NOT NULL`);
  await knex.raw(`UPDATE payments SET status = coalesce(credit_status, 'partial') WHERE status = 'reversed'`);
  await knex.raw('DROP INDEX payments_quote_increment_unique');
  await knex.raw(
    `CREATE UNIQUE INDEX payments_quote_increment_unique ON payments (quote_id, (coalesce(token_address, 'native')), total_after) WHERE total_after IS NOT NULL`,
  );
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumns('reversed_at', 'reversed_from_block', 'reversed_to_block');
  });
  await knex.schema.alterTable('listings', (t) => {
    t.dropColumns('payment_held_at', 'payment_held_reason');
  });
  await rebuildPaymentStatus(knex, BEFORE);
}
