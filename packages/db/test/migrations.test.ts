import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, migrateDownAll, migrateToLatest, type Knex } from '@reelboard/db';
import { infraEnv } from '../../../test/support/infra-env.js';

// A database of its own, so migrating down never disturbs other tests sharing the test database.
const base = new URL(infraEnv().TEST_DATABASE_URL ?? '');
const name = `reelboard_mig_${randomBytes(4).toString('hex')}`;
let admin: Knex;
let db: Knex;

beforeAll(async () => {
  admin = connectDatabase(base.toString(), { min: 0, max: 1 });
  await admin.raw(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  db = connectDatabase(url.toString(), { min: 0, max: 2 });
});
afterAll(async () => {
  await db?.destroy();
  await admin?.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin?.destroy();
});

const tables = async () =>
  (await db.raw(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'knex%' AND tablename <> 'spatial_ref_sys' ORDER BY 1`)).rows.map(
    (row: { tablename: string }) => row.tablename,
  );

describe('migrations', () => {
  it('go up with PostGIS and the indexes the read side needs, come down clean, and go up again', async () => {
    expect(await migrateToLatest(db)).toEqual(['001_initial', '002_read_indexes', '003_nearest_by_tags', '004_notifications']);
    expect(await tables()).toEqual(['hashtags', 'listing_hashtags', 'listings', 'moderation_events', 'payments', 'push_subscriptions', 'users', 'webhook_attempts', 'webhook_deliveries', 'webhook_endpoints']);
    const postgis = await db.raw(`SELECT extversion FROM pg_extension WHERE extname = 'postgis'`);
    expect(postgis.rows).toHaveLength(1);
    const column = await db.raw(`SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'listings'::regclass AND attname = 'location'`);
    expect(column.rows[0].type).toBe('geography(Point,4326)');
    const indexes = (await db.raw(`SELECT indexname FROM pg_indexes WHERE tablename = 'listings'`)).rows.map((row: { indexname: string }) => row.indexname);
    expect(indexes).toEqual(expect.arrayContaining(['listings_location_gist', 'listings_approved_nearest', 'listings_approved_tags_gin', 'listings_status_newest']));

    await migrateDownAll(db);
    expect(await tables()).toEqual([]);
    const types = await db.raw(`SELECT typname FROM pg_type WHERE typname IN ('moderation_status', 'payment_status', 'moderation_action', 'webhook_delivery_status')`);
    expect(types.rows).toEqual([]);

    expect(await migrateToLatest(db)).toEqual(['001_initial', '002_read_indexes', '003_nearest_by_tags', '004_notifications']);
  });
});
