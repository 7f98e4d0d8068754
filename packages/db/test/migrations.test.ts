import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Knex, MIGRATION_NAMES, migrateDownAll, migrateToLatest } from '@reelboard/db';
import { infraEnv } from '@reelboard/testkit/infra-env';

// A database of its own, so migrating down never disturbs other tests sharing the test database.
const base = new URL(infraEnv().TEST_DATABASE_URL ?? '');
const name = `reelboard_mig_${randomBytes(4).toString('hex')}`;
// Every migration, from the source: a new one needs no edit here, only its own case if it moves data.
const ALL = [...MIGRATION_NAMES];
/** The migrations from `first` on, as migrateToLatest reports them after a migration down to before it. */
const from = (first: string) => ALL.slice(ALL.indexOf(first));
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

/** Migrates down one at a time until `name` is undone (the newest first), however many came after it. */
async function downThrough(name: string): Promise<void> {
  for (;;) {
    const [done] = (await db.migrate.list()) as [Array<{ name: string } | string>, unknown];
    const last = done.at(-1);
    if (last === undefined) throw new Error(`${name} is not applied`);
    await db.migrate.down();
    if ((typeof last === 'string' ? last : last.name) === name) return;
  }
}

const tables = async () =>
  (
    await db.raw(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'knex%' AND tablename <> 'spatial_ref_sys' ORDER BY 1`)
  ).rows.map((row: { tablename: string }) => row.tablename);

describe('migrations', () => {
  it('go up with PostGIS and the indexes the read side needs, come down clean, and go up again', async () => {
    expect(await migrateToLatest(db)).toEqual(ALL);
    expect(await tables()).toEqual(
      expect.arrayContaining([
        'hashtags',
        'listing_events',
        'listing_hashtags',
        'listing_revisions',
        'listings',
        'moderation_events',
        'payment_events',
        'payment_quotes',
        'payments',
        'push_subscriptions',
        'reconcile_checkpoints',
        'users',
        'webhook_attempts',
        'webhook_deliveries',
        'webhook_endpoints',
      ]),
    );
    const postgis = await db.raw(`SELECT extversion FROM pg_extension WHERE extname = 'postgis'`);
    expect(postgis.rows).toHaveLength(1);
    const column = await db.raw(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'listings'::regclass AND attname = 'location'`,
    );
    expect(column.rows[0].type).toBe('geography(Point,4326)');
    const indexes = (await db.raw(`SELECT indexname FROM pg_indexes WHERE tablename = 'listings'`)).rows.map((row: { indexname: string }) => row.indexname);
    expect(indexes).toEqual(
      expect.arrayContaining(['listings_location_gist', 'listings_approved_nearest', 'listings_approved_tags_gin', 'listings_status_newest']),
    );

    await migrateDownAll(db);
    expect(await tables()).toEqual([]);
    const types = await db.raw(
      `SELECT typname FROM pg_type WHERE typname IN ('moderation_status', 'payment_status', 'moderation_action', 'payment_quote_state', 'payment_action', 'payment_status_old', 'webhook_delivery_status', 'listing_state', 'revision_kind', 'revision_status', 'quote_purpose')`,
    );
    expect(types.rows).toEqual([]);

    expect(await migrateToLatest(db)).toEqual(ALL);
  });

  it('moves the payments written before the ledger into it, and back', async () => {
    await migrateDownAll(db);
    for (let i = 0; i < 3; i += 1) await db.migrate.up();
    const tx = () => `0x${randomBytes(32).toString('hex')}`;
    const old = (status: string, amount: string) => ({
      upload_id: randomUUID(),
      chain_id: 31337,
      tx_hash: tx(),
      from_address: `0x${'a'.repeat(40)}`,
      to_address: `0x${'b'.repeat(40)}`,
      amount,
      block_number: 7,
      block_time: new Date(),
      status,
    });
    const rows = [old('paid', '100'), old('partial', '40'), old('late', '50'), old('unfulfilled', '60'), old('overpaid', '120')];
    await db('payments').insert(rows);

    expect(await migrateToLatest(db)).toEqual(from('004_payment_ledger'));
    const migrated = await db('payments').orderBy('id').select('upload_id', 'quote_id', 'status', 'credit_status', 'refund_due', 'log_index', 'total_after');
    expect(migrated).toEqual(
      rows.map((row, i) => ({
        upload_id: row.upload_id,
        quote_id: row.upload_id,
        status: row.status,
        credit_status: row.status,
        refund_due: ['0', '40', '50', '60', '0'][i],
        log_index: -1,
        total_after: null,
      })),
    );
    const enumValues = await db.raw(`SELECT unnest(enum_range(NULL::payment_status))::text AS value`);
    expect(enumValues.rows.map((row: { value: string }) => row.value)).toEqual([
      'paid',
      'overpaid',
      'partial',
      'late',
      'unfulfilled',
      'unmatched',
      'refunded',
      'reversed',
    ]);
    // A row the old schema cannot hold (no tx hash, no upload) goes on the way down; the rest stay.
    await db('payments').insert({
      chain_id: 31337,
      to_address: `0x${'b'.repeat(40)}`,
      amount: '5',
      block_number: 8,
      block_time: new Date(),
      status: 'unmatched',
      refund_due: '5',
    });
    await db('payments').where({ upload_id: rows[2]?.upload_id }).update({ status: 'refunded', refund_due: 0 });
    await downThrough('010_reconcile_checkpoint');
    expect(await tables()).not.toContain('reconcile_checkpoints');
    await downThrough('008_refund_verification');
    // A reversed row goes back to how it was credited on the way down.
    await db('payments').where({ upload_id: rows[1]?.upload_id }).update({ status: 'reversed', reversed_at: new Date() });
    await downThrough('007_payment_reversals');
    expect(await db('payments').where({ upload_id: rows[1]?.upload_id }).first('status')).toEqual({ status: 'partial' });
    await downThrough('004_payment_ledger');
    const back = await db('payments').orderBy('id').select('upload_id', 'status');
    expect(back).toEqual(rows.map((row) => ({ upload_id: row.upload_id, status: row.status })));
    expect(await migrateToLatest(db)).toEqual(from('004_payment_ledger'));
  });

  it('makes a refund hash unique, and first names the payments one hash refunded several of', async () => {
    await migrateToLatest(db);
    await downThrough('008_refund_verification');
    const row = (amount: string) => ({
      chain_id: 31337,
      to_address: `0x${'b'.repeat(40)}`,
      amount,
      block_number: 8,
      block_time: new Date(),
      status: 'refunded',
      credit_status: 'unmatched',
    });
    const ids = (
      await db('payments')
        .insert([row('5'), row('6')])
        .returning('id')
    ).map((r: { id: string }) => Number(r.id));
    const hash = `0x${randomBytes(32).toString('hex')}`;
    await db('payment_events').insert(ids.map((id) => ({ payment_id: id, actor: 'ops', action: 'refund', tx_hash: hash, amount: '5' })));
    await expect(migrateToLatest(db)).rejects.toThrow(new RegExp(`${hash} \\(payments ${ids[0]}, ${ids[1]}\\)`));
    await db('payment_events').where({ payment_id: ids[1] }).delete();
    expect(await migrateToLatest(db)).toEqual(from('008_refund_verification'));
    await expect(db('payment_events').insert({ payment_id: ids[1], actor: 'ops', action: 'refund', tx_hash: hash, amount: '6' })).rejects.toThrow(
      /payment_events_refund_tx_once/,
    );
  });
});
