import type { Knex } from 'knex';

const LISTING_ACTIONS = ['edit', 'sold', 'withdraw', 'remove', 'renew', 'expire', 'objects_deleted'];

/** Replaces the moderation_action enum by one with `values`, in place (as 007 does for payment_status). */
async function rebuildModerationAction(knex: Knex, values: string[]): Promise<void> {
  await knex.raw('ALTER TYPE moderation_action RENAME TO moderation_action_old');
  // DDL takes no bind parameters; the values are this file's own constants.
  await knex.raw(`CREATE TYPE moderation_action AS ENUM (${values.map((value) => `'${value}'`).join(', ')})`);
  await knex.raw('ALTER TABLE moderation_events ALTER COLUMN action TYPE moderation_action USING action::text::moderation_action');
  await knex.raw('DROP TYPE moderation_action_old');
}

/** The listing_events action check with `values`. */
async function listingActions(knex: Knex, values: string[]): Promise<void> {
  await knex.raw('ALTER TABLE listing_events DROP CONSTRAINT IF EXISTS listing_events_action');
  await knex.raw(`ALTER TABLE listing_events ADD CONSTRAINT listing_events_action CHECK (action IN (${values.map((value) => `'${value}'`).join(', ')}))`);
}

/**
 * Reports (issue 27): anyone may report a public listing (a reason from a fixed list and optional
 * text), signed in or not; one open report per reporter and listing. A listing with
 * REPORTS_HOLD_THRESHOLD open reports is held from the public (`reports_held_at`) until a moderator
 * resolves them: dismissed (the listing is released), or acted on (the listing rejected or removed).
 * - `listing_reports`: each report and how it was resolved (who, when, why): its own audit trail;
 * - `moderation_events.action` may be `dismiss` (reports dismissed; rejections stay `reject`);
 * - `listing_events` records the hold and the release.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TYPE report_reason AS ENUM ('scam', 'prohibited', 'offensive', 'misleading', 'spam', 'wrong_contact', 'other')`);
  await knex.schema.createTable('listing_reports', (t) => {
    t.uuid('id').primary();
    t.uuid('listing_id').notNullable().references('listings.id').onDelete('CASCADE');
    t.specificType('reason', 'report_reason').notNullable();
    t.text('details');
    // The signed-in wallet that reported, null for an anonymous report.
    t.text('reporter_wallet');
    // Who reported, for "one open report each": `wallet:<address>`, or `ip:<hash>` for an anonymous one (the address itself is not kept).
    t.text('reporter_key').notNullable();
    t.enu('status', ['open', 'dismissed', 'actioned'], { useNative: true, enumName: 'report_status' }).notNullable().defaultTo('open');
    // What the moderator did: dismiss, reject or remove (the listing), with who, when and why.
    t.text('resolution');
    t.text('resolved_by');
    t.timestamp('resolved_at', { useTz: true });
    t.text('resolution_reason');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(`CREATE UNIQUE INDEX listing_reports_one_open ON listing_reports (listing_id, reporter_key) WHERE status = 'open'`);
  // The moderators' queue: open reports, oldest first.
  await knex.raw(`CREATE INDEX listing_reports_open ON listing_reports (created_at) WHERE status = 'open'`);
  await knex.raw('CREATE INDEX listing_reports_listing ON listing_reports (listing_id, created_at)');
  await knex.schema.alterTable('listings', (t) => {
    t.timestamp('reports_held_at', { useTz: true });
  });
  await rebuildModerationAction(knex, ['approve', 'reject', 'dismiss']);
  await listingActions(knex, [...LISTING_ACTIONS, 'hold', 'release']);
}

/** Reports and their holds go; dismissals leave the audit trail (the old schema cannot say them). */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DELETE FROM listing_events WHERE action IN ('hold', 'release')`);
  await listingActions(knex, LISTING_ACTIONS);
  await knex.raw(`DELETE FROM moderation_events WHERE action = 'dismiss'`);
  await rebuildModerationAction(knex, ['approve', 'reject']);
  await knex.schema.alterTable('listings', (t) => {
    t.dropColumn('reports_held_at');
  });
  await knex.schema.dropTableIfExists('listing_reports');
  await knex.raw('DROP TYPE IF EXISTS report_status, report_reason');
}
