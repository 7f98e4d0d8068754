import type { Knex } from 'knex';

/**
 * Incremental reconciliation (issue 23): per chain, merchant and asset (the settings quotes are grouped
 * by), the last block whose transfers to the merchant were fully reconciled, so a daily run reads only
 * the blocks after it (with that block's hash, so a reorg below it or a reset chain is noticed); and
 * the deposit factory's deployment block once found on chain, where a first
 * run starts.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('reconcile_checkpoints', (t) => {
    t.integer('chain_id').notNullable();
    t.text('merchant').notNullable();
    // 'native' or the token's address: a key column cannot be null.
    t.text('asset').notNullable();
    t.bigInteger('deployment_block');
    t.bigInteger('last_block');
    // The hash of last_block when it was reconciled: a chain reset or a reorg below it shows as a mismatch.
    t.text('last_block_hash');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['chain_id', 'merchant', 'asset']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('reconcile_checkpoints');
}
