import type { Knex } from 'knex';
import { PUBLIC_LISTING } from './visibility.js';

/** A hashtag with how many approved listings carry it. */
export interface HashtagCount {
  tag: string;
  listings: number;
}

/** Inserts any new tags in one statement and returns the ids of all of them. */
export async function upsertHashtags(db: Knex, tags: string[]): Promise<number[]> {
  if (tags.length === 0) return [];
  const rows: { id: string | number }[] = (
    await db.raw(
      `WITH wanted AS (SELECT DISTINCT unnest(?::text[]) AS tag),
            inserted AS (INSERT INTO hashtags (tag) SELECT tag FROM wanted ON CONFLICT (tag) DO NOTHING RETURNING id)
       SELECT id FROM inserted UNION ALL SELECT h.id FROM hashtags h JOIN wanted w ON w.tag = h.tag`,
      [tags],
    )
  ).rows;
  return [...new Set(rows.map((row) => Number(row.id)))];
}

/** Ids of the given (normalised) tags that exist; unknown tags are absent from the map. */
export async function hashtagIds(db: Knex, tags: string[]): Promise<Map<string, number>> {
  if (tags.length === 0) return new Map();
  const rows: { id: string | number; tag: string }[] = await db('hashtags').whereIn('tag', tags).select('id', 'tag');
  return new Map(rows.map((row) => [row.tag, Number(row.id)]));
}

/**
 * Ids of approved listings carrying all (or any) of the given normalised tags, newest first.
 * An unknown tag matches nothing, so with `all` it empties the result.
 */
export async function listingIdsByTags(db: Knex, tags: string[], match: 'all' | 'any', limit = 100): Promise<string[]> {
  const ids = await hashtagIds(db, tags);
  if (ids.size === 0 || (match === 'all' && ids.size < new Set(tags).size)) return [];
  const query = db('listings as l')
    .whereRaw(PUBLIC_LISTING)
    .orderBy([
      { column: 'l.created_at', order: 'desc' },
      { column: 'l.id', order: 'desc' },
    ])
    .limit(limit);
  applyTagFilter(query, [...ids.values()], match);
  return query.pluck('l.id');
}

/**
 * Narrows a query over `listings as l` to listings with all (`@>`) or any (`&&`) of the hashtag ids,
 * through `listings.tag_ids` (kept equal to listing_hashtags by a trigger): a condition on the row
 * itself, so it can be tested during a nearest-first index walk or answered by the GIN index.
 */
export function applyTagFilter(query: Knex.QueryBuilder, ids: number[], match: 'all' | 'any'): void {
  query.whereRaw(match === 'all' ? 'l.tag_ids @> ?::integer[]' : 'l.tag_ids && ?::integer[]', [ids]);
}

/** Hashtags starting with `prefix` (already normalised), the most used first, with counts of public listings. */
export async function autocompleteHashtags(db: Knex, prefix: string, limit = 10): Promise<HashtagCount[]> {
  const escaped = prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
  const rows: { tag: string; listings: string | number }[] = await db('hashtags as h')
    .join('listing_hashtags as lh', 'lh.hashtag_id', 'h.id')
    .join('listings as l', function joinApproved() {
      this.on('l.id', '=', 'lh.listing_id');
    })
    .whereRaw(PUBLIC_LISTING)
    .whereRaw(`h.tag LIKE ? ESCAPE '\\'`, [`${escaped}%`])
    .groupBy('h.tag')
    .select('h.tag', db.raw('count(*) AS listings'))
    .orderBy([
      { column: 'listings', order: 'desc' },
      { column: 'h.tag', order: 'asc' },
    ])
    .limit(limit);
  return rows.map((row) => ({ tag: row.tag, listings: Number(row.listings) }));
}
