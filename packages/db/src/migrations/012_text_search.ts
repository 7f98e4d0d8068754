import type { Knex } from 'knex';

/**
 * Search by words (issue 27), kept by the database so every writer (the profile writer, edits,
 * moderation of revisions, seeding) keeps it right:
 * - `listings.language`: the listing's ISO 639-1 language when the seller gave one; it picks the
 *   text search configuration (stemming, stop words) through reelboard_text_search_config, `simple`
 *   (no stemming, every language) otherwise.
 * - `listings.hashtag_text`: the listing's tags as words, kept by the same statement-level trigger
 *   that keeps `tag_ids` (migration 003): a generated column cannot read another table.
 * - `listings.search_vector`: title (weight A), hashtags (B) and description (C). Title and
 *   description go in twice, stemmed in the listing's language and as plain `simple` words, so a
 *   query in any language (or none) still finds the exact word.
 * - `listings.search_words`: title and hashtags as one text with a trigram index, for typo
 *   tolerance (`<%`, word_similarity) when the full-text query finds nothing.
 */
const LANGUAGES: Record<string, string> = {
  ar: 'arabic',
  ca: 'catalan',
  da: 'danish',
  de: 'german',
  el: 'greek',
  en: 'english',
  es: 'spanish',
  eu: 'basque',
  fi: 'finnish',
  fr: 'french',
  ga: 'irish',
  hi: 'hindi',
  hu: 'hungarian',
  hy: 'armenian',
  id: 'indonesian',
  it: 'italian',
  lt: 'lithuanian',
  nb: 'norwegian',
  ne: 'nepali',
  nl: 'dutch',
  no: 'norwegian',
  pt: 'portuguese',
  ro: 'romanian',
  ru: 'russian',
  sr: 'serbian',
  sv: 'swedish',
  ta: 'tamil',
  tr: 'turkish',
  yi: 'yiddish',
};

const WEIGHTED_VECTOR = `
  setweight(to_tsvector(reelboard_text_search_config(language), title), 'A') ||
  setweight(to_tsvector('simple'::regconfig, title), 'A') ||
  setweight(to_tsvector('simple'::regconfig, hashtag_text), 'B') ||
  setweight(to_tsvector(reelboard_text_search_config(language), description), 'C') ||
  setweight(to_tsvector('simple'::regconfig, description), 'C')`;

const SYNC_TAGS = (withText: boolean) => `
    CREATE OR REPLACE FUNCTION listings_sync_tag_ids() RETURNS trigger LANGUAGE plpgsql AS $$
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
         SET tag_ids = ARRAY(SELECT lh.hashtag_id::integer FROM listing_hashtags lh WHERE lh.listing_id = l.id ORDER BY lh.hashtag_id)${
           withText
             ? `,
             hashtag_text = array_to_string(ARRAY(SELECT replace(h.tag, '_', ' ') FROM listing_hashtags lh JOIN hashtags h ON h.id = lh.hashtag_id WHERE lh.listing_id = l.id ORDER BY h.tag), ' ')`
             : ''
         }
       WHERE l.id = ANY (changed);
      RETURN NULL;
    END $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  const cases = Object.entries(LANGUAGES)
    .map(([code, config]) => `WHEN '${code}' THEN '${config}'::regconfig`)
    .join(' ');
  // IMMUTABLE so a generated column may call it: the mapping only ever changes by a migration.
  await knex.raw(
    `CREATE FUNCTION reelboard_text_search_config(language text) RETURNS regconfig LANGUAGE sql IMMUTABLE PARALLEL SAFE
     AS $$ SELECT CASE language ${cases} ELSE 'simple'::regconfig END $$`,
  );
  await knex.raw(`ALTER TABLE listings ADD COLUMN language text CONSTRAINT listings_language_iso639_1 CHECK (language ~ '^[a-z]{2}$')`);
  await knex.raw(`ALTER TABLE listings ADD COLUMN hashtag_text text NOT NULL DEFAULT ''`);
  await knex.raw(
    `UPDATE listings l SET hashtag_text = t.words
     FROM (SELECT lh.listing_id, string_agg(replace(h.tag, '_', ' '), ' ' ORDER BY h.tag) AS words
           FROM listing_hashtags lh JOIN hashtags h ON h.id = lh.hashtag_id GROUP BY lh.listing_id) t
     WHERE t.listing_id = l.id`,
  );
  await knex.raw(SYNC_TAGS(true));
  await knex.raw(`ALTER TABLE listings ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (${WEIGHTED_VECTOR}) STORED`);
  await knex.raw(`ALTER TABLE listings ADD COLUMN search_words text GENERATED ALWAYS AS (title || ' ' || hashtag_text) STORED`);
  await knex.raw(`CREATE INDEX listings_approved_search ON listings USING GIN (search_vector) WHERE moderation_status = 'approved'`);
  await knex.raw(`CREATE INDEX listings_approved_search_trgm ON listings USING GIN (search_words gin_trgm_ops) WHERE moderation_status = 'approved'`);
  // Price sorts walk these instead of sorting every match: one per direction, as both put unpriced
  // listings last (a backward scan of the ascending one would give them first).
  await knex.raw(`CREATE INDEX listings_approved_price_sort ON listings (price_amount, id) WHERE moderation_status = 'approved'`);
  await knex.raw(`CREATE INDEX listings_approved_price_sort_desc ON listings (price_amount DESC NULLS LAST, id DESC) WHERE moderation_status = 'approved'`);
  await knex.raw('ANALYZE listings');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS listings_approved_price_sort_desc');
  await knex.raw('DROP INDEX IF EXISTS listings_approved_price_sort');
  await knex.raw('DROP INDEX IF EXISTS listings_approved_search_trgm');
  await knex.raw('DROP INDEX IF EXISTS listings_approved_search');
  await knex.raw('ALTER TABLE listings DROP COLUMN IF EXISTS search_words, DROP COLUMN IF EXISTS search_vector');
  await knex.raw(SYNC_TAGS(false));
  await knex.raw('ALTER TABLE listings DROP COLUMN IF EXISTS hashtag_text, DROP COLUMN IF EXISTS language');
  await knex.raw('DROP FUNCTION IF EXISTS reelboard_text_search_config(text)');
  // pg_trgm stays: something else in the database may have come to use it.
}
