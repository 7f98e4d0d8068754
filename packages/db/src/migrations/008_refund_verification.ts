import type { Knex } from 'knex';

/**
 * Refunds verified on chain (issue 23):
 * - `payment_events.tx_hash` of a refund is unique: one transaction pays back one ledger row once
 *   (before, one hash could close any number of rows).
 * - where each refund went and how the recipient was chosen: `recipient` (the owner, the row's named
 *   sender, or an address the payer proved) and `recipient_signature` (the payer's EIP-191 signature
 *   naming the payment and that address, when it was neither); the row keeps the last one in `refund_to`.
 */
export async function up(knex: Knex): Promise<void> {
  // A unique index cannot be built over existing duplicates: name them, so an operator can settle them first.
  const duplicates: { rows: { tx_hash: string; payments: string }[] } = await knex.raw(
    `SELECT tx_hash, string_agg(DISTINCT payment_id::text, ', ') AS payments FROM payment_events
      WHERE action = 'refund' AND tx_hash IS NOT NULL GROUP BY tx_hash HAVING count(DISTINCT payment_id) > 1`,
  );
  if (duplicates.rows.length > 0) {
    const list = duplicates.rows.map((row) => `${row.tx_hash} (payments ${row.payments})`).join('; ');
    throw new Error(
      `008_refund_verification: these refund transactions were recorded for several payments, so a refund hash cannot be made unique: ${list}. Check each on chain, keep the payment it paid and delete the other payment_events rows, then migrate again.`,
    );
  }
  await knex.schema.alterTable('payment_events', (t) => {
    t.text('recipient');
    t.text('recipient_signature');
  });
  await knex.raw(`CREATE UNIQUE INDEX payment_events_refund_tx_once ON payment_events (tx_hash) WHERE action = 'refund' AND tx_hash IS NOT NULL`);
  await knex.schema.alterTable('payments', (t) => {
    t.text('refund_to');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('refund_to');
  });
  await knex.raw('DROP INDEX IF EXISTS payment_events_refund_tx_once');
  await knex.schema.alterTable('payment_events', (t) => {
    t.dropColumns('recipient', 'recipient_signature');
  });
}
