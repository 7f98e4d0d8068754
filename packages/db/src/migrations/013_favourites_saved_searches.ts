import type { Knex } from 'knex';

/**
 * Buyers' lists (issue 27): favourite listings, saved searches that alert when a new listing matches,
 * and each alert sent, so a listing is announced to a saved search once however often it is approved
 * (a hold and a release, a retried job, two notifier replicas).
 */
export async function up(knex: Knex): Promise<void> {
  // By wallet, like push subscriptions: a buyer who never listed has no user row.
  await knex.schema.createTable('favourites', (t) => {
    t.string('wallet_address', 42).notNullable();
    t.uuid('listing_id').notNullable().references('id').inTable('listings').onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['wallet_address', 'listing_id']);
    // A wallet's favourites, newest first.
    t.index(['wallet_address', 'created_at']);
  });

  await knex.schema.createTable('saved_searches', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('wallet_address', 42).notNullable().index();
    t.string('name', 80).notNullable();
    // The browse page's query string as saved (to open the search again), and the filters it parsed to
    // (what a new listing is matched against: the read API's search, so a new filter needs no migration).
    t.text('query').notNullable();
    t.jsonb('filters').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['wallet_address', 'name']);
  });

  await knex.schema.createTable('saved_search_alerts', (t) => {
    t.uuid('saved_search_id').notNullable().references('id').inTable('saved_searches').onDelete('CASCADE');
    t.uuid('listing_id').notNullable().references('id').inTable('listings').onDelete('CASCADE');
    t.timestamp('sent_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['saved_search_id', 'listing_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('saved_search_alerts');
  await knex.schema.dropTableIfExists('saved_searches');
  await knex.schema.dropTableIfExists('favourites');
}
