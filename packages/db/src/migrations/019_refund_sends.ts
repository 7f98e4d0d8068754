import type { Knex } from 'knex';

/**
 * Refunds sent by the refund wallet (issue 26). One row per attempt to pay back a ledger row:
 * - approved (by an admin, or by the auto-approval policy: `approved_by` says which, with `approved_at`);
 * - sending: the signed transaction (`raw_tx`, `tx_hash`, `nonce`, `from_address`) is written here
 *   BEFORE it is broadcast, so a sender that dies in between finds it on restart and broadcasts the same
 *   bytes (one hash, one nonce: never a second payment);
 * - sent: confirmed and recorded as the payments row's refund (refunds.ts verified it);
 * - failed (a revert: an operator looks before approving again) or cancelled (nothing due any more).
 * A payment has at most one approved or sending row at a time.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('refund_sends', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('payment_id').notNullable().references('id').inTable('payments').onDelete('CASCADE');
    t.integer('chain_id').notNullable();
    t.text('token_address');
    t.text('recipient').notNullable();
    t.specificType('amount', 'numeric(78, 0)').notNullable();
    t.text('state').notNullable().defaultTo('approved');
    t.text('approved_by').notNullable();
    t.timestamp('approved_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('from_address');
    t.bigInteger('nonce');
    t.text('tx_hash');
    t.text('raw_tx');
    t.timestamp('sent_at', { useTz: true });
    t.timestamp('confirmed_at', { useTz: true });
    t.integer('failures').notNullable().defaultTo(0);
    t.text('last_error');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`ALTER TABLE refund_sends ADD CONSTRAINT refund_sends_state CHECK (state IN ('approved', 'sending', 'sent', 'failed', 'cancelled'))`);
  await knex.raw(`CREATE UNIQUE INDEX refund_sends_one_open ON refund_sends (payment_id) WHERE state IN ('approved', 'sending')`);
  await knex.raw(`CREATE UNIQUE INDEX refund_sends_tx_once ON refund_sends (tx_hash) WHERE tx_hash IS NOT NULL`);
  // The sender's round reads open rows of its chain; the daily limit sums a chain's recent sends.
  await knex.raw(`CREATE INDEX refund_sends_open_by_chain ON refund_sends (chain_id, state) WHERE state IN ('approved', 'sending')`);
  await knex.raw(`CREATE INDEX refund_sends_recent ON refund_sends (chain_id, sent_at) WHERE sent_at IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('refund_sends');
}
