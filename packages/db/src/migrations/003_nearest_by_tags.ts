import type { Knex } from 'knex';

/**
 * Makes `near` + `tags` searches one walk of one index instead of a join-then-sort over every tagged
 * listing (measured and explained in docs/benchmarks/reports/2026-12-01-listings-query.md):
 * - `listings.tag_ids`: the listing's hashtag ids, kept equal to listing_hashtags by a trigger (so
 *   every writer, seeding and cascades included, keeps it right). As `integer[]` it has intarray's
 *   index support: GiST, so the tag test runs on index entries during the nearest-first walk
 *   (no heap visit for listings without the tag), and GIN for newest-first pages of rare tags.
 * - `listings.seq`: a unique ascending number, the distance tie-breaker. A GiST KNN scan orders
 *   only by distance operators, so the tie-breaker must be one too (`seq::float8 <-> 0`,
 *   btree_gist): the scan then yields rows in exactly (distance, seq) order and stops after one
 *   page. Ordering by (distance, uuid) made Postgres fetch and sort every candidate instead.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS btree_gist');
  await knex.raw('CREATE EXTENSION IF NOT EXISTS intarray');

  await knex.raw('ALTER TABLE listings ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY');
  await knex.raw('CREATE UNIQUE INDEX listings_seq_unique ON listings (seq)');

  // tag_ids holds hashtag ids as integer (intarray's type): refuse, by name, an id that would not fit.
  await knex.raw('ALTER TABLE hashtags ADD CONSTRAINT hashtags_id_fits_integer CHECK (id <= 2147483647)');
  await knex.raw(`ALTER TABLE listings ADD COLUMN tag_ids integer[] NOT NULL DEFAULT '{}'`);
  await knex.raw(
    `UPDATE listings l SET tag_ids = t.ids
     FROM (SELECT listing_id, array_agg(hashtag_id::integer ORDER BY hashtag_id) AS ids FROM listing_hashtags GROUP BY listing_id) t
     WHERE t.listing_id = l.id`,
  );
  // Statement-level, with transition tables: one UPDATE per statement however many rows it wrote.
  await knex.raw(`
    CREATE FUNCTION listings_sync_tag_ids() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      changed uuid[];
    BEGIN
      IF TG_OP = 'INSERT' THEN
        changed := ARRAY(SELECT DISTINCT listing_id FROM new_rows);
      ELSIF TG_OP = 'DELETE' THEN
        changed := ARRAY(SELECT DISTINCT listing_id FROM old_rows);
      ELSE
        changed := ARRAY(SELECT listing_id FROM new_rows UNION SELECT listing_id FROM old_rows);
      END IF;
      UPDATE listings l
         SET tag_ids = ARRAY(SELECT lh.hashtag_id::integer FROM listing_hashtags lh WHERE lh.listing_id = l.id ORDER BY lh.hashtag_id)
       WHERE l.id = ANY (changed);
      RETURN NULL;
    END $$`);
  await knex.raw(`CREATE TRIGGER listing_hashtags_sync_insert AFTER INSERT ON listing_hashtags
                  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION listings_sync_tag_ids()`);
  await knex.raw(`CREATE TRIGGER listing_hashtags_sync_delete AFTER DELETE ON listing_hashtags
                  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION listings_sync_tag_ids()`);
  await knex.raw(`CREATE TRIGGER listing_hashtags_sync_update AFTER UPDATE ON listing_hashtags
                  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION listings_sync_tag_ids()`);

  await knex.raw(`CREATE INDEX listings_approved_tags_gin ON listings USING GIN (tag_ids gin__int_ops) WHERE moderation_status = 'approved'`);
  // Replaces listings_approved_location_gist: same first column, so radius (&&) conditions still use it.
  await knex.raw(
    `CREATE INDEX listings_approved_nearest ON listings USING GIST (location, (seq::float8), tag_ids gist__int_ops) WHERE moderation_status = 'approved'`,
  );
  await knex.raw('DROP INDEX IF EXISTS listings_approved_location_gist');
  // The planner needs the new columns' statistics (tag frequencies) before the first search.
  await knex.raw('ANALYZE listings');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX IF NOT EXISTS listings_approved_location_gist ON listings USING GIST (location) WHERE moderation_status = 'approved'`);
  await knex.raw('DROP INDEX IF EXISTS listings_approved_nearest');
  await knex.raw('DROP INDEX IF EXISTS listings_approved_tags_gin');
  await knex.raw('DROP TRIGGER IF EXISTS listing_hashtags_sync_update ON listing_hashtags');
  await knex.raw('DROP TRIGGER IF EXISTS listing_hashtags_sync_delete ON listing_hashtags');
  await knex.raw('DROP TRIGGER IF EXISTS listing_hashtags_sync_insert ON listing_hashtags');
  await knex.raw('DROP FUNCTION IF EXISTS listings_sync_tag_ids()');
  await knex.raw('ALTER TABLE listings DROP COLUMN IF EXISTS tag_ids');
  await knex.raw('ALTER TABLE listings DROP COLUMN IF EXISTS seq');
  await knex.raw('ALTER TABLE hashtags DROP CONSTRAINT IF EXISTS hashtags_id_fits_integer');
  // The extensions stay: something else in the database may have come to use them.
}
