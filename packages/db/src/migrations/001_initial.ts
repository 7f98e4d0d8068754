import type { Knex } from 'knex';

/** Users, listings with a PostGIS location, hashtags, payments and moderation events. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS postgis');

  await knex.schema.createTable('users', (t) => {
    t.bigIncrements('id');
    // Lower-case 0x-hex: one normal form, so a checksummed and a lower-case address are one user.
    t.text('wallet_address').notNullable().unique();
    t.text('display_name');
    t.text('contact');
    t.text('logo_key');
    t.timestamps(true, true);
  });
  await knex.raw(`ALTER TABLE users ADD CONSTRAINT users_wallet_normal CHECK (wallet_address ~ '^0x[0-9a-f]{40}$')`);

  await knex.schema.createTable('listings', (t) => {
    // The upload id: a retried save of the same upload hits the same row.
    t.uuid('id').primary();
    t.bigInteger('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('title').notNullable();
    t.text('description').notNullable().defaultTo('');
    t.text('video_key').notNullable();
    t.text('preview_key').notNullable();
    t.text('poster_key').notNullable();
    t.text('logo_key');
    t.double('duration_seconds').notNullable();
    t.integer('width').notNullable();
    t.integer('height').notNullable();
    t.bigInteger('video_bytes').notNullable();
    t.bigInteger('source_bytes').notNullable();
    t.specificType('location', 'geography(Point, 4326)').notNullable();
    t.enu('moderation_status', ['pending', 'approved', 'rejected'], { useNative: true, enumName: 'moderation_status' }).notNullable().defaultTo('pending');
    t.timestamps(true, true);
    t.index(['user_id']);
    t.index(['moderation_status', 'created_at']);
  });
  await knex.raw('CREATE INDEX listings_location_gist ON listings USING GIST (location)');

  await knex.schema.createTable('hashtags', (t) => {
    t.bigIncrements('id');
    t.text('tag').notNullable().unique();
  });
  // Prefix search for autocomplete.
  await knex.raw('CREATE INDEX hashtags_tag_prefix ON hashtags (tag text_pattern_ops)');

  await knex.schema.createTable('listing_hashtags', (t) => {
    t.uuid('listing_id').notNullable().references('listings.id').onDelete('CASCADE');
    t.bigInteger('hashtag_id').notNullable().references('hashtags.id').onDelete('CASCADE');
    t.primary(['listing_id', 'hashtag_id']);
    t.index(['hashtag_id', 'listing_id']);
  });

  await knex.schema.createTable('payments', (t) => {
    t.bigIncrements('id');
    // An upload may see several payments (an underpayment, then the rest); a transfer pays once.
    t.uuid('upload_id').notNullable().index();
    t.uuid('listing_id').references('listings.id').onDelete('SET NULL');
    t.integer('chain_id').notNullable();
    t.text('tx_hash').notNullable();
    // -1 for a native transfer, else the ERC-20 Transfer log's index; part of the uniqueness.
    t.integer('log_index').notNullable().defaultTo(-1);
    t.text('from_address').notNullable();
    t.text('to_address').notNullable();
    t.text('token_address');
    t.specificType('amount', 'numeric(78, 0)').notNullable();
    t.bigInteger('block_number').notNullable();
    t.timestamp('block_time', { useTz: true }).notNullable();
    t.enu('status', ['paid', 'overpaid', 'partial', 'late', 'unfulfilled'], { useNative: true, enumName: 'payment_status' }).notNullable();
    // Why a paid upload could not be fulfilled, for the operator who retries or refunds it.
    t.text('failure_reason');
    t.text('failed_stage');
    t.timestamps(true, true);
    t.unique(['chain_id', 'tx_hash', 'log_index']);
  });

  await knex.schema.createTable('moderation_events', (t) => {
    t.bigIncrements('id');
    t.uuid('listing_id').notNullable().references('listings.id').onDelete('CASCADE');
    t.text('actor').notNullable();
    t.enu('action', ['approve', 'reject'], { useNative: true, enumName: 'moderation_action' }).notNullable();
    t.text('reason');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['listing_id', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('moderation_events');
  await knex.schema.dropTableIfExists('payments');
  await knex.schema.dropTableIfExists('listing_hashtags');
  await knex.schema.dropTableIfExists('hashtags');
  await knex.schema.dropTableIfExists('listings');
  await knex.schema.dropTableIfExists('users');
  await knex.raw('DROP TYPE IF EXISTS moderation_action, payment_status, moderation_status');
}
