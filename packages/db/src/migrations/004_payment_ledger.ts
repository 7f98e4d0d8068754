import type { Knex } from 'knex';

const OLD_STATUSES = ['paid', 'overpaid', 'partial', 'late', 'unfulfilled'];
const NEW_STATUSES = [...OLD_STATUSES, 'unmatched', 'refunded'];

/**
 * Replaces the payment_status enum by one with `values`, in place. `ALTER TYPE ... ADD VALUE` may not
 * be used in the transaction that adds it (and cannot be undone at all), so the type is rebuilt: the
 * whole migration stays one transaction, and `down` is the same operation backwards.
 */
async function rebuildPaymentStatus(knex: Knex, values: string[]): Promise<void> {
  await knex.raw('ALTER TYPE payment_status RENAME TO payment_status_old');
  // DDL takes no bind parameters; the values are this file's own constants.
  await knex.raw(`CREATE TYPE payment_status AS ENUM (${values.map((value) => `'${value}'`).join(', ')})`);
  for (const column of ['status', 'credit_status']) {
    const exists = await knex.raw(`SELECT 1 FROM information_schema.columns WHERE table_name = 'payments' AND column_name = ?`, [column]);
    if (exists.rows.length > 0) await knex.raw(`ALTER TABLE payments ALTER COLUMN ${column} TYPE payment_status USING ${column}::text::payment_status`);
  }
  await knex.raw('DROP TYPE payment_status_old');
}

/**
 * The payment ledger of deposit addresses (issue 12):
 * - `payment_quotes`: every quote ever issued with its own deposit address, what the ledger has
 *   credited to it so far and at which block, and the listing it paid. Reconciliation reads every
 *   address from here.
 * - `payments` becomes the ledger of credits: one row per increment of a deposit address's total
 *   (or per transfer, where the chain shows the transfers that make the increment), plus one row per
 *   `unmatched` transfer to the plain merchant address. Rows carry what is due back (`refund_due`)
 *   and the refund that settled it.
 * - `payment_events`: the audit of refunds, like moderation_events.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payment_quotes', (t) => {
    // Today one quote per upload, and the quote id is the upload id.
    t.uuid('quote_id').primary();
    t.uuid('upload_id').notNullable().index();
    // Lower-case wallet (the SIWE-verified owner).
    t.text('owner').notNullable();
    t.integer('chain_id').notNullable();
    t.text('deposit_address').notNullable();
    // null for the chain's native coin.
    t.text('token_address');
    t.specificType('amount', 'numeric(78, 0)').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.enu('state', ['open', 'paid', 'expired'], { useNative: true, enumName: 'payment_quote_state' }).notNullable().defaultTo('open');
    // What the ledger has recorded for the address (balance + swept), and the block it was seen at.
    t.specificType('credited_total', 'numeric(78, 0)').notNullable().defaultTo(0);
    t.bigInteger('credited_block');
    t.uuid('listing_id').references('listings.id').onDelete('SET NULL');
    // Set when the upload failed for good before its listing was saved: a credit arriving after the
    // failure is recorded unfulfilled at once (upload.failed and payment.credited are separate queues).
    t.text('failed_stage');
    t.text('failure_reason');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // One address per token per chain: the native coin and an ERC-20 are credited separately.
  await knex.raw(`CREATE UNIQUE INDEX payment_quotes_address_unique ON payment_quotes (chain_id, deposit_address, (coalesce(token_address, 'native')))`);

  await rebuildPaymentStatus(knex, NEW_STATUSES);
  await knex.schema.alterTable('payments', (t) => {
    // null for an unmatched transfer (no quote).
    t.uuid('quote_id');
    t.text('deposit_address');
    t.bigInteger('from_block');
    t.bigInteger('to_block');
    // The quote's cumulative credited total once this row is counted; with quote_id it keys an increment.
    t.specificType('total_after', 'numeric(78, 0)');
    // How the credit stood when it was seen (never changes; `status` is where it stands now).
    t.specificType('credit_status', 'payment_status');
    t.specificType('refund_due', 'numeric(78, 0)').notNullable().defaultTo(0);
    // What refunds have paid back so far (an overpaid row's refund is only its excess).
    t.specificType('refunded_amount', 'numeric(78, 0)').notNullable().defaultTo(0);
    t.text('refund_tx_hash');
    t.timestamp('refunded_at', { useTz: true });
    t.text('refunded_by');
    t.index(['quote_id']);
  });
  // An internal transfer has no tx hash and no sender; the unmatched transfer has no upload.
  await knex.raw(
    'ALTER TABLE payments ALTER COLUMN tx_hash DROP NOT NULL, ALTER COLUMN from_address DROP NOT NULL, ALTER COLUMN log_index DROP NOT NULL, ALTER COLUMN log_index DROP DEFAULT, ALTER COLUMN upload_id DROP NOT NULL',
  );
  // The same increment of a quote's total is never recorded twice.
  await knex.raw(
    `CREATE UNIQUE INDEX payments_quote_increment_unique ON payments (quote_id, (coalesce(token_address, 'native')), total_after) WHERE total_after IS NOT NULL`,
  );
  await knex.raw('CREATE INDEX payments_refund_due ON payments (id DESC) WHERE refund_due > 0');
  await knex.raw('CREATE INDEX payments_status_newest ON payments (status, id DESC)');

  // Rows written before the ledger: the upload was the quote; partial, late and unfulfilled were due back.
  await knex.raw(`UPDATE payments SET quote_id = upload_id, credit_status = status,
                    refund_due = CASE WHEN status IN ('partial', 'late', 'unfulfilled') THEN amount ELSE 0 END`);

  await knex.schema.createTable('payment_events', (t) => {
    t.bigIncrements('id');
    t.bigInteger('payment_id').notNullable().references('payments.id').onDelete('CASCADE');
    t.text('actor').notNullable();
    t.enu('action', ['refund'], { useNative: true, enumName: 'payment_action' }).notNullable();
    t.text('tx_hash');
    t.specificType('amount', 'numeric(78, 0)');
    t.text('note');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['payment_id', 'created_at']);
  });
}

/**
 * Back to the table of transfers. Rows the old schema cannot hold (no upload, no tx hash, or a status
 * it does not know) are deleted: take a backup before going down on a database with real payments.
 */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('payment_events');
  await knex.raw('DROP TYPE IF EXISTS payment_action');
  // A refunded row goes back to how it was credited (the old schema has no refunds).
  await knex.raw(`UPDATE payments SET status = credit_status WHERE status = 'refunded' AND credit_status IS NOT NULL`);
  await knex.raw(`DELETE FROM payments WHERE upload_id IS NULL OR tx_hash IS NULL OR from_address IS NULL OR status IN ('unmatched', 'refunded')`);
  await knex.raw('UPDATE payments SET log_index = -1 WHERE log_index IS NULL');
  await knex.raw('DROP INDEX IF EXISTS payments_quote_increment_unique');
  await knex.raw('DROP INDEX IF EXISTS payments_refund_due');
  await knex.raw('DROP INDEX IF EXISTS payments_status_newest');
  await knex.schema.alterTable('payments', (t) => {
    t.dropIndex(['quote_id']);
    t.dropColumns(
      'quote_id',
      'deposit_address',
      'from_block',
      'to_block',
      'total_after',
      'credit_status',
      'refund_due',
      'refunded_amount',
      'refund_tx_hash',
      'refunded_at',
      'refunded_by',
    );
  });
  await knex.raw(
    'ALTER TABLE payments ALTER COLUMN tx_hash SET NOT NULL, ALTER COLUMN from_address SET NOT NULL, ALTER COLUMN log_index SET NOT NULL, ALTER COLUMN log_index SET DEFAULT -1, ALTER COLUMN upload_id SET NOT NULL',
  );
  await rebuildPaymentStatus(knex, OLD_STATUSES);
  await knex.schema.dropTableIfExists('payment_quotes');
  await knex.raw('DROP TYPE IF EXISTS payment_quote_state');
}
