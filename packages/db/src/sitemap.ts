import type { Knex } from 'knex';
import { PUBLIC_LISTING } from './visibility.js';

/** A public listing as a sitemap names it. */
export interface SitemapEntry {
  id: string;
  /** When it last changed for a reader: its approval (or creation, before approvals were recorded). */
  lastModified: string;
}

/**
 * The listings the public sees (PUBLIC_LISTING: approved, in their visible period, not held), newest
 * approval first, at most `limit` (a sitemap file holds at most 50,000 addresses).
 */
export async function publicListingsForSitemap(db: Knex, limit = 50_000): Promise<SitemapEntry[]> {
  const rows: { id: string; last_modified: Date }[] = await db('listings as l')
    .whereRaw(PUBLIC_LISTING)
    .select('l.id', db.raw('coalesce(l.approved_at, l.created_at) AS last_modified'))
    .orderBy('last_modified', 'desc')
    .limit(limit);
  return rows.map((row) => ({ id: row.id, lastModified: row.last_modified.toISOString() }));
}
