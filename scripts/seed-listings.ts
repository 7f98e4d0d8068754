// Seeds COUNT (default 100,000) approved-mostly listings with users, hashtags and locations
// spread over Europe, set-based in SQL so 100k rows take seconds. Against DATABASE_URL:
//   DATABASE_URL=postgres://… node --import tsx scripts/seed-listings.ts [count]
import { connectDatabase, type Knex, migrateToLatest } from '@reelboard/db';

/** Inserts `count` listings (90% approved, created over a year, each public for 30 days from then) owned by count/100 users, 1-4 tags each from 300 (skewed). */
export async function seedListings(db: Knex, count: number): Promise<void> {
  const users = Math.max(1, Math.floor(count / 100));
  await db.transaction(async (trx) => {
    await trx.raw(
      `INSERT INTO users (wallet_address, display_name)
       SELECT '0x' || lpad(to_hex(g), 40, '0'), 'Seller ' || g FROM generate_series(1, ?) g
       ON CONFLICT (wallet_address) DO NOTHING`,
      [users],
    );
    await trx.raw(`INSERT INTO hashtags (tag) SELECT 'tag' || g FROM generate_series(1, 300) g ON CONFLICT (tag) DO NOTHING`);
    // Points: a third around a few big cities, the rest uniform over Europe (lat 36-70, lng -10-40).
    await trx.raw(
      `INSERT INTO listings (id, user_id, title, description, video_key, preview_key, poster_key, duration_seconds, width, height,
                             video_bytes, source_bytes, location, moderation_status, created_at)
       SELECT s.id, u.id, 'Listing ' || g, 'seeded', 'listings/' || s.id || '/video.webm', 'listings/' || s.id || '/preview.webm',
              'listings/' || s.id || '/poster.webp', 30, 1280, 720, 5000000, 20000000,
              CASE WHEN g % 3 = 0
                THEN ST_SetSRID(ST_MakePoint(city.lng + (random() - 0.5) * 0.6, city.lat + (random() - 0.5) * 0.4), 4326)::geography
                ELSE ST_SetSRID(ST_MakePoint(-10 + random() * 50, 36 + random() * 34), 4326)::geography END,
              (CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'approved' END)::moderation_status,
              now() - (random() * interval '365 days')
       FROM (SELECT g, gen_random_uuid() AS id FROM generate_series(1, ?) g) s
       JOIN users u ON u.wallet_address = '0x' || lpad(to_hex(1 + g % ?), 40, '0')
       CROSS JOIN LATERAL (SELECT * FROM (VALUES (52.52, 13.405), (48.857, 2.352), (51.507, -0.128), (41.9, 12.5), (40.42, -3.70)) c(lat, lng)
                           OFFSET (g % 5) LIMIT 1) city`,
      [count, users],
    );
    // A board a year old: each approved listing ran LISTING_DAYS (30) from its approval, so most have
    // expired and only those of the last month are public; the read side must skip the rest quickly.
    await trx.raw(
      `UPDATE listings SET approved_at = created_at, expires_at = created_at + interval '30 days'
       WHERE description = 'seeded' AND moderation_status = 'approved' AND expires_at IS NULL`,
    );
    // Tag popularity is skewed: tag1 is on ~1 in 6 listings, tag300 on a handful.
    await trx.raw(
      `INSERT INTO listing_hashtags (listing_id, hashtag_id)
       SELECT DISTINCT l.id, h.id
       FROM listings l
       CROSS JOIN LATERAL (SELECT 1 + floor(power(random(), 2.2) * 300)::int AS n
                           FROM generate_series(1, 1 + (abs(hashtext(l.id::text)) % 4)) k) t
       JOIN hashtags h ON h.tag = 'tag' || t.n
       WHERE l.description = 'seeded'
       ON CONFLICT DO NOTHING`,
    );
  });
  await db.raw('ANALYZE users, listings, hashtags, listing_hashtags');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    process.stderr.write('DATABASE_URL is required\n');
    process.exit(78);
  }
  const count = Number(process.argv[2] ?? 100_000);
  const db = connectDatabase(url, { min: 0, max: 1 });
  try {
    await migrateToLatest(db);
    const started = Date.now();
    await seedListings(db, count);
    process.stdout.write(`seeded ${count} listings in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } finally {
    await db.destroy();
  }
}
