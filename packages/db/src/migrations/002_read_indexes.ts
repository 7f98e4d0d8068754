import type { Knex } from 'knex';

/**
 * Indexes for the public read side, which only ever sees approved listings: nearest-first
 * (KNN) and within-radius search, newest-first pages, and the moderation queue.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX listings_approved_location_gist ON listings USING GIST (location) WHERE moderation_status = 'approved'`);
  await knex.raw('CREATE INDEX listings_status_newest ON listings (moderation_status, created_at DESC, id DESC)');
  await knex.raw(`CREATE INDEX listings_owner_approved_newest ON listings (user_id, created_at DESC, id DESC) WHERE moderation_status = 'approved'`);
  await knex.raw('DROP INDEX IF EXISTS listings_moderation_status_created_at_index');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS listings_moderation_status_created_at_index ON listings (moderation_status, created_at)');
  await knex.raw('DROP INDEX IF EXISTS listings_owner_approved_newest');
  await knex.raw('DROP INDEX IF EXISTS listings_status_newest');
  await knex.raw('DROP INDEX IF EXISTS listings_approved_location_gist');
}
