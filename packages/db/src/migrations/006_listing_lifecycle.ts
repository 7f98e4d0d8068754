import type { Knex } from 'knex';

/**
 * A listing's whole life (issue 15):
 * - `listings`: an asking price (amount and ISO 4217 currency), the contact and display name the
 *   listing brought (public with the listing once it is approved, never before), the owner's state
 *   (`active`, `sold`, `withdrawn`, `removed`), the paid period (`expires_at`, set at approval and moved
 *   by renewals), the rejection reason, and when its S3 objects were deleted. `visible_until` is
 *   derived from them (stored, so the public read is one comparison): the end of the paid period for
 *   an active listing, the end of its sold display for a sold one, null for a withdrawn or removed one.
 * - `listing_revisions`: a change waiting for a moderator: an edit of an approved listing (the
 *   approved version stays public meanwhile) or a profile edit; approved or rejected, each audited in
 *   moderation_events (which now also names the revision, and may concern a profile only).
 * - `listing_events`: the owner's and admins' actions on a listing (edit, sold, withdraw, remove,
 *   renew, expire), the audit trail a removed listing keeps.
 * - `payment_quotes.purpose`: what a quote pays for, an upload or the renewal of a listing (with the
 *   days it adds); renewals are paid and reconciled like uploads.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TYPE listing_state AS ENUM ('active', 'sold', 'withdrawn', 'removed')`);
  await knex.schema.alterTable('listings', (t) => {
    t.decimal('price_amount', 14, 2);
    t.text('price_currency');
    t.text('contact');
    t.text('display_name');
    t.specificType('state', 'listing_state').notNullable().defaultTo('active');
    t.timestamp('approved_at', { useTz: true });
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('expired_notified_at', { useTz: true });
    t.timestamp('sold_at', { useTz: true });
    // The end of the sold display, fixed when it was marked sold (SOLD_DISPLAY_HOURS then).
    t.timestamp('sold_visible_until', { useTz: true });
    t.timestamp('withdrawn_at', { useTz: true });
    t.timestamp('removed_at', { useTz: true });
    t.text('removed_by');
    t.text('removal_reason');
    t.timestamp('rejected_at', { useTz: true });
    t.text('rejection_reason');
    t.timestamp('objects_deleted_at', { useTz: true });
  });
  await knex.raw(`ALTER TABLE listings ADD CONSTRAINT listings_price_pair CHECK ((price_amount IS NULL) = (price_currency IS NULL))`);
  await knex.raw(`ALTER TABLE listings ADD CONSTRAINT listings_price_currency CHECK (price_currency ~ '^[A-Z]{3}$')`);
  await knex.raw(`ALTER TABLE listings ADD CONSTRAINT listings_price_nonnegative CHECK (price_amount >= 0)`);
  await knex.raw(`ALTER TABLE listings ADD COLUMN visible_until timestamptz GENERATED ALWAYS AS (
      CASE state WHEN 'active' THEN expires_at WHEN 'sold' THEN least(expires_at, sold_visible_until) ELSE NULL END) STORED`);
  // Listings approved before this migration run their paid period from now.
  await knex.raw(`UPDATE listings SET approved_at = updated_at, expires_at = now() + interval '30 days' WHERE moderation_status = 'approved'`);
  await knex.raw(`UPDATE listings SET rejected_at = updated_at WHERE moderation_status = 'rejected'`);
  // The periodic job's two questions: what ran out without its owner being told, what rejected listing still has objects.
  await knex.raw(`CREATE INDEX listings_expiry_due ON listings (expires_at) WHERE expired_notified_at IS NULL AND state = 'active'`);
  await knex.raw(
    `CREATE INDEX listings_objects_due ON listings (coalesce(removed_at, rejected_at)) WHERE objects_deleted_at IS NULL AND (state = 'removed' OR moderation_status = 'rejected')`,
  );
  await knex.raw(`CREATE INDEX listings_price ON listings (price_currency, price_amount) WHERE moderation_status = 'approved' AND price_amount IS NOT NULL`);

  await knex.schema.createTable('listing_revisions', (t) => {
    t.uuid('id').primary();
    // null for a profile edit.
    t.uuid('listing_id').references('listings.id').onDelete('CASCADE');
    t.bigInteger('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.enu('kind', ['listing', 'profile'], { useNative: true, enumName: 'revision_kind' }).notNullable();
    // The proposed values of the fields that change (camelCase keys, as the API names them).
    t.jsonb('changes').notNullable();
    t.enu('status', ['pending', 'approved', 'rejected', 'superseded'], { useNative: true, enumName: 'revision_status' }).notNullable().defaultTo('pending');
    t.text('reason');
    t.text('decided_by');
    t.timestamp('decided_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['status', 'created_at']);
  });
  // At most one pending revision per listing, and one pending profile edit per user: a newer edit supersedes.
  await knex.raw(`CREATE UNIQUE INDEX listing_revisions_one_pending ON listing_revisions (listing_id) WHERE status = 'pending' AND kind = 'listing'`);
  await knex.raw(`CREATE UNIQUE INDEX listing_revisions_one_pending_profile ON listing_revisions (user_id) WHERE status = 'pending' AND kind = 'profile'`);

  await knex.schema.alterTable('moderation_events', (t) => {
    t.uuid('revision_id').references('listing_revisions.id').onDelete('SET NULL');
    t.bigInteger('user_id').references('users.id').onDelete('CASCADE');
  });
  await knex.raw('ALTER TABLE moderation_events ALTER COLUMN listing_id DROP NOT NULL');

  await knex.schema.createTable('listing_events', (t) => {
    t.bigIncrements('id');
    t.uuid('listing_id').notNullable().references('listings.id').onDelete('CASCADE');
    t.text('actor').notNullable();
    t.text('action').notNullable();
    t.jsonb('detail');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['listing_id', 'created_at']);
  });
  await knex.raw(
    `ALTER TABLE listing_events ADD CONSTRAINT listing_events_action CHECK (action IN ('edit', 'sold', 'withdraw', 'remove', 'renew', 'expire', 'objects_deleted'))`,
  );

  await knex.schema.alterTable('payment_quotes', (t) => {
    t.enu('purpose', ['upload', 'renewal'], { useNative: true, enumName: 'quote_purpose' }).notNullable().defaultTo('upload');
    // A renewal's days, fixed when it was quoted (LISTING_DAYS then).
    t.integer('renewal_days');
  });
  await knex.raw(`ALTER TABLE payment_quotes ADD CONSTRAINT payment_quotes_renewal CHECK (purpose = 'upload' OR renewal_days > 0)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE payment_quotes DROP CONSTRAINT IF EXISTS payment_quotes_renewal');
  // Renewal quotes and their credits have no place in the old schema: take a backup before going down.
  await knex.raw(`DELETE FROM payments WHERE quote_id IN (SELECT quote_id FROM payment_quotes WHERE purpose = 'renewal')`);
  await knex.raw(`DELETE FROM payment_quotes WHERE purpose = 'renewal'`);
  await knex.schema.alterTable('payment_quotes', (t) => {
    t.dropColumn('purpose');
    t.dropColumn('renewal_days');
  });
  await knex.raw('DROP TYPE IF EXISTS quote_purpose');
  await knex.schema.dropTableIfExists('listing_events');
  await knex.raw('DELETE FROM moderation_events WHERE listing_id IS NULL');
  await knex.raw('ALTER TABLE moderation_events ALTER COLUMN listing_id SET NOT NULL');
  await knex.schema.alterTable('moderation_events', (t) => {
    t.dropColumn('revision_id');
    t.dropColumn('user_id');
  });
  await knex.schema.dropTableIfExists('listing_revisions');
  await knex.raw('DROP TYPE IF EXISTS revision_kind, revision_status');
  await knex.raw('DROP INDEX IF EXISTS listings_expiry_due');
  await knex.raw('DROP INDEX IF EXISTS listings_objects_due');
  await knex.raw('DROP INDEX IF EXISTS listings_price');
  await knex.raw(
    'ALTER TABLE listings DROP CONSTRAINT IF EXISTS listings_price_pair, DROP CONSTRAINT IF EXISTS listings_price_currency, DROP CONSTRAINT IF EXISTS listings_price_nonnegative',
  );
  await knex.raw('ALTER TABLE listings DROP COLUMN IF EXISTS visible_until');
  await knex.schema.alterTable('listings', (t) => {
    t.dropColumns(
      'price_amount',
      'price_currency',
      'contact',
      'display_name',
      'state',
      'approved_at',
      'expires_at',
      'expired_notified_at',
      'sold_at',
      'sold_visible_until',
      'withdrawn_at',
      'removed_at',
      'removed_by',
      'removal_reason',
      'rejected_at',
      'rejection_reason',
      'objects_deleted_at',
    );
  });
  await knex.raw('DROP TYPE IF EXISTS listing_state');
}
