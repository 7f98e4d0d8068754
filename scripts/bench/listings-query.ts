// The read side at scale: `near` + `tags` searches over 100,000 seeded listings, timed at the
// database, with the plan to show the indexes are used. Uses its own database (reelboard_bench).
//   node --import tsx scripts/bench/listings-query.ts
import { performance } from 'node:perf_hooks';
import { connectDatabase, migrateToLatest, searchListings, type Knex, type ListingSearch } from '@reelboard/db';
import { infraEnv } from '../../test/support/infra-env.js';
import { seedListings } from '../seed-listings.js';
import { percentile, writeReport } from './lib/report.js';

const LISTINGS = 100_000;
const SAMPLES = 300;

async function benchDatabase(): Promise<Knex> {
  const base = new URL(infraEnv().DATABASE_URL ?? '');
  const admin = connectDatabase(base.toString(), { min: 0, max: 1 });
  const exists = await admin.raw(`SELECT 1 FROM pg_database WHERE datname = 'reelboard_bench'`);
  if (exists.rows.length === 0) await admin.raw('CREATE DATABASE reelboard_bench');
  await admin.destroy();
  base.pathname = '/reelboard_bench';
  return connectDatabase(base.toString(), { min: 1, max: 2 });
}

const cities = [
  [52.52, 13.405],
  [48.857, 2.352],
  [51.507, -0.128],
  [45.46, 9.19],
  [50.08, 14.43],
] as const;

/** A varied mix: popular and rare tags, all/any, with and without a radius. */
function searchFor(i: number): ListingSearch {
  const [latitude, longitude] = cities[i % cities.length] as readonly [number, number];
  const popular = `tag${1 + (i % 5)}`;
  const rare = `tag${100 + (i % 150)}`;
  const kinds: ListingSearch[] = [
    { tags: [popular], near: { latitude, longitude }, limit: 20 },
    { tags: [popular], near: { latitude, longitude }, radiusKm: 50, limit: 20 },
    { tags: [rare], near: { latitude, longitude }, limit: 20 },
    { tags: [popular, `tag${6 + (i % 10)}`], match: 'all', near: { latitude, longitude }, radiusKm: 300, limit: 20 },
    { tags: [rare, `tag${200 + (i % 90)}`], match: 'any', near: { latitude, longitude }, limit: 20 },
  ];
  return kinds[i % kinds.length] as ListingSearch;
}

const db = await benchDatabase();
try {
  await migrateToLatest(db);
  const seeded = Number((await db('listings').count({ n: '*' }))[0]?.n ?? 0);
  if (seeded < LISTINGS) {
    const started = performance.now();
    await seedListings(db, LISTINGS - seeded);
    process.stdout.write(`seeded ${LISTINGS - seeded} listings in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
  const total = Number((await db('listings').count({ n: '*' }))[0]?.n ?? 0);

  // Capture the SQL searchListings sends, to time it alone and explain it.
  let last: { sql: string; bindings: readonly unknown[] } = { sql: '', bindings: [] };
  db.on('query', (query: { sql: string; bindings?: readonly unknown[] }) => {
    if (query.sql.includes('from "listings" as "l"')) last = { sql: query.sql, bindings: query.bindings ?? [] };
  });
  for (let i = 0; i < 30; i++) await searchListings(db, searchFor(i)); // warm the cache
  // The captured SQL is in the driver's $n form, so it goes straight to a pooled pg connection.
  const explain = async (sql: string, bindings: readonly unknown[]) => {
    const connection = (await db.client.acquireConnection()) as { query(text: string, values: readonly unknown[]): Promise<{ rows: any[] }> };
    try {
      return await connection.query(sql, bindings);
    } finally {
      await db.client.releaseConnection(connection);
    }
  };

  const roundTrip: number[] = [];
  const execution: number[] = [];
  const byKind = new Map<number, number[]>();
  const plans: string[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const started = performance.now();
    await searchListings(db, searchFor(i));
    roundTrip.push(performance.now() - started);
    const explained = await explain(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${last.sql}`, last.bindings);
    const ms = Number(explained.rows[0]['QUERY PLAN'][0]['Execution Time']);
    execution.push(ms);
    byKind.set(i % 5, [...(byKind.get(i % 5) ?? []), ms]);
    if (i < 5) {
      const text = await explain(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${last.sql}`, last.bindings);
      plans.push(text.rows.map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']).join('\n'));
    }
  }
  const fmt = (n: number) => n.toFixed(2);
  const kindNames = ['popular tag, nearest', 'popular tag, within 50 km', 'rare tag, nearest', 'two tags (all), within 300 km', 'two rare tags (any), nearest'];
  const p95 = percentile(execution, 95);
  const indexesUsed = ['listings_approved_location_gist', 'listing_hashtags_pkey', 'listing_hashtags_hashtag_id_listing_id_index'].filter((name) => plans.some((plan) => plan.includes(name)));
  writeReport({
    part: 'listings-query',
    title: 'Read API: near + tags over 100,000 listings',
    command: 'node --import tsx scripts/bench/listings-query.ts',
    markdown: `
${total} listings (90% approved, 1-4 of 300 skewed tags each, a third clustered around five cities), ${SAMPLES} searches of five kinds, 20 per page, warm cache.
"Database" is PostgreSQL's own execution time of the listing query (EXPLAIN ANALYZE); "round trip" is \`searchListings\` from Node (tag lookup + listing query + network).

| | p50 ms | p95 ms | max ms |
|---|---|---|---|
| database | ${fmt(percentile(execution, 50))} | ${fmt(p95)} | ${fmt(Math.max(...execution))} |
| round trip | ${fmt(percentile(roundTrip, 50))} | ${fmt(percentile(roundTrip, 95))} | ${fmt(Math.max(...roundTrip))} |

| kind | database p50 ms | database p95 ms |
|---|---|---|
${[...byKind.entries()].map(([kind, values]) => `| ${kindNames[kind]} | ${fmt(percentile(values, 50))} | ${fmt(percentile(values, 95))} |`).join('\n')}

Goal: under 20 ms p95 at the database: **${p95 < 20 ? 'met' : 'missed'}** (${fmt(p95)} ms). Indexes seen in the plans: ${indexesUsed.join(', ') || 'none'}.

Plans of the first search of each kind:

${plans.map((plan, i) => `${kindNames[i]}:\n\n\`\`\`\n${plan}\n\`\`\``).join('\n\n')}
`,
    data: { listings: total, samples: SAMPLES, databaseMs: execution, roundTripMs: roundTrip, indexesUsed },
  });
} finally {
  await db.destroy();
}
