import knexFactory, { type Knex } from 'knex';
import * as initial from './migrations/001_initial.js';
import * as readIndexes from './migrations/002_read_indexes.js';
import * as nearestByTags from './migrations/003_nearest_by_tags.js';
import * as paymentLedger from './migrations/004_payment_ledger.js';
import * as notifications from './migrations/005_notifications.js';
import * as listingLifecycle from './migrations/006_listing_lifecycle.js';
import * as paymentReversals from './migrations/007_payment_reversals.js';
import * as refundVerification from './migrations/008_refund_verification.js';
import * as quoteSettings from './migrations/009_quote_settings.js';
import * as reconcileCheckpoint from './migrations/010_reconcile_checkpoint.js';
import * as streaming from './migrations/011_streaming.js';
import * as textSearch from './migrations/012_text_search.js';
import * as favouritesSavedSearches from './migrations/013_favourites_saved_searches.js';
import * as listingReports from './migrations/014_listing_reports.js';
import * as quotePrices from './migrations/016_quote_prices.js';
import * as paymentTolerance from './migrations/017_payment_tolerance.js';
import * as quoteOffers from './migrations/018_quote_offers.js';
import * as refundSends from './migrations/019_refund_sends.js';
import * as depositSalt from './migrations/020_deposit_salt.js';

interface Migration {
  up: (knex: Knex) => Promise<void>;
  down: (knex: Knex) => Promise<void>;
}

// Migrations are imported, not discovered on disk, so they run the same from source, from a
// bundle or inside a container.
const migrations: Record<string, Migration> = {
  '001_initial': initial,
  '002_read_indexes': readIndexes,
  '003_nearest_by_tags': nearestByTags,
  '004_payment_ledger': paymentLedger,
  '005_notifications': notifications,
  '006_listing_lifecycle': listingLifecycle,
  '007_payment_reversals': paymentReversals,
  '008_refund_verification': refundVerification,
  '009_quote_settings': quoteSettings,
  '010_reconcile_checkpoint': reconcileCheckpoint,
  '011_streaming': streaming,
  '014_listing_reports': listingReports,
  '013_favourites_saved_searches': favouritesSavedSearches,
  '012_text_search': textSearch,
  '016_quote_prices': quotePrices,
  '017_payment_tolerance': paymentTolerance,
  '018_quote_offers': quoteOffers,
  '019_refund_sends': refundSends,
  '020_deposit_salt': depositSalt,
};

/** Every migration's name, in the order they run. */
export const MIGRATION_NAMES: readonly string[] = Object.keys(migrations).sort();

const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};

/** A knex instance on Postgres. */
export function connectDatabase(url: string, pool = { min: 0, max: 10 }): Knex {
  return knexFactory({ client: 'pg', connection: url, pool, migrations: { migrationSource } });
}

/** Brings the schema up to date; safe with several replicas starting at once (knex's migration lock). */
export async function migrateToLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}

/** Reverts every migration (tests and tear-down). */
export async function migrateDownAll(db: Knex): Promise<void> {
  await db.migrate.rollback(undefined, true);
}
