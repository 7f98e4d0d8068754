import type { Knex } from 'knex';

/**
 * Notifications: the browsers a wallet asked to be told on (Web Push subscriptions), the webhook
 * endpoints admins registered, and each webhook delivery with every attempt and its answer.
 */
export async function up(knex: Knex): Promise<void> {
  // No foreign key to users: a person subscribes right after paying, before the listing (and the user row) exists.
  await knex.schema.createTable('push_subscriptions', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.string('wallet_address', 42).notNullable().index();
    // The push service's URL for this browser: unique, a browser that subscribes again replaces its row.
    t.text('endpoint').notNullable().unique();
    t.text('p256dh').notNullable();
    t.text('auth').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('webhook_endpoints', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('url').notNullable();
    // Status event names it wants; '*' for all.
    t.specificType('events', 'text[]').notNullable();
    t.text('secret').notNullable();
    // Kept after a rotation until it expires, so deliveries carry both signatures meanwhile.
    t.text('previous_secret');
    t.timestamp('previous_secret_expires_at', { useTz: true });
    t.boolean('enabled').notNullable().defaultTo(true);
    // Why it stopped receiving (e.g. the receiver answered 410 Gone).
    t.text('disabled_reason');
    t.text('created_by').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.raw(`CREATE TYPE webhook_delivery_status AS ENUM ('pending', 'delivered', 'failed', 'gone')`);
  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('endpoint_id').notNullable().references('id').inTable('webhook_endpoints').onDelete('CASCADE');
    t.uuid('upload_id').notNullable();
    t.integer('seq').notNullable();
    t.text('event').notNullable();
    t.jsonb('payload').notNullable();
    t.specificType('status', 'webhook_delivery_status').notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.integer('last_status_code');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    // One delivery per (endpoint, event): replicas that both see the event create one row.
    t.unique(['endpoint_id', 'upload_id', 'seq']);
  });
  await knex.raw(`CREATE INDEX webhook_deliveries_endpoint_newest ON webhook_deliveries (endpoint_id, created_at DESC)`);

  await knex.schema.createTable('webhook_attempts', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('delivery_id').notNullable().references('id').inTable('webhook_deliveries').onDelete('CASCADE').index();
    t.integer('attempt').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // The receiver's HTTP status, or null when no answer came (refused, timed out).
    t.integer('status_code');
    // The start of the receiver's answer, or the network error.
    t.text('response');
    t.integer('duration_ms').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('webhook_attempts');
  await knex.schema.dropTableIfExists('webhook_deliveries');
  await knex.raw('DROP TYPE IF EXISTS webhook_delivery_status');
  await knex.schema.dropTableIfExists('webhook_endpoints');
  await knex.schema.dropTableIfExists('push_subscriptions');
}
