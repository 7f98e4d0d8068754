// Search by words at scale (issue 27): text + tags + distance + price over 100,000 listings with
// realistic words (English, German and unlabelled), timed from Node and at the database, with the
// plan of each query shape; then the browse page's weight on a 1.6 Mbit/s link, 20 cards, the
// previous cards (every preview autoplaying) and the current ones (posters first, previews only on
// screen, one at a time) in one run. Uses its own database (reelboard_search_bench) for the first
// part, the test database and bucket for the second, and a gateway process of its own.
//   node --import tsx scripts/bench/search.ts
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { connectDatabase, type Knex, type ListingSearch, migrateToLatest, moderateListing, PUBLIC_LISTING, saveListing, searchListings } from '@reelboard/db';
import { storageFromEnv } from '@reelboard/storage';
import { findChromium } from '@reelboard/testkit/chromium';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { makePng } from '@reelboard/testkit/media';
import { stackEnvironment } from '@reelboard/testkit/stack';
import { percentile, repoRoot, writeReport } from './lib/report.js';

const LISTINGS = 100_000;
const SAMPLES_PER_SHAPE = 60;
const GOAL_MS = 30;

const ADJECTIVES = [
  'red',
  'blue',
  'black',
  'white',
  'green',
  'vintage',
  'old',
  'new',
  'small',
  'large',
  'wooden',
  'electric',
  'folding',
  'classic',
  'modern',
  'antique',
  'leather',
  'used',
  'handmade',
  'portable',
];
const NOUNS = [
  'bicycle',
  'sofa',
  'table',
  'chair',
  'lamp',
  'guitar',
  'camera',
  'laptop',
  'phone',
  'jacket',
  'stroller',
  'bookshelf',
  'desk',
  'piano',
  'scooter',
  'tent',
  'kayak',
  'drone',
  'watch',
  'mirror',
  'rug',
  'wardrobe',
  'bed',
  'bike',
  'car',
];
const BRANDS = ['leica', 'ikea', 'yamaha', 'fender', 'canon', 'nikon', 'sony', 'apple', 'bosch', 'gazelle', 'brompton', 'vitra'];
const PHRASES = [
  'barely used',
  'in good shape',
  'some scratches',
  'pick up only',
  'works perfectly',
  'moving out sale',
  'original box included',
  'needs a little repair',
  'smoke-free home',
  'price negotiable',
  'delivery possible in the city',
  'bought last year',
];
const DE_ADJECTIVES = ['rotes', 'blaues', 'altes', 'neues', 'kleines', 'großes', 'gebrauchtes', 'elektrisches'];
const DE_NOUNS = ['Fahrrad', 'Sofa', 'Kinderwagen', 'Bücherregal', 'Schreibtisch', 'Klavier', 'Zelt', 'Kleiderschrank'];
const DE_PHRASES = ['kaum benutzt', 'guter Zustand', 'nur Abholung', 'funktioniert einwandfrei', 'Umzug', 'mit Originalverpackung', 'Preis verhandelbar'];
const TAGS = [
  ...NOUNS,
  ...BRANDS,
  'berlin',
  'paris',
  'london',
  'rome',
  'madrid',
  'furniture',
  'music',
  'sports',
  'kids',
  'outdoor',
  'electronics',
  'fashion',
  'garden',
  'kitchen',
  'office',
  'vintage',
  'retro',
  'free',
  'urgent',
  'design',
];

const sqlArray = (words: string[]) => `ARRAY[${words.map((word) => `'${word.replace(/'/g, "''")}'`).join(',')}]`;
const pick = (words: string[]) => `(${sqlArray(words)})[1 + floor(random() * ${words.length})::int]`;

async function benchDatabase(): Promise<Knex> {
  const base = new URL(infraEnv().DATABASE_URL ?? '');
  const admin = connectDatabase(base.toString(), { min: 0, max: 1 });
  const exists = await admin.raw(`SELECT 1 FROM pg_database WHERE datname = 'reelboard_search_bench'`);
  if (exists.rows.length === 0) await admin.raw('CREATE DATABASE reelboard_search_bench');
  await admin.destroy();
  base.pathname = '/reelboard_search_bench';
  return connectDatabase(base.toString(), { min: 1, max: 2 });
}

/** 100,000 listings with words a marketplace has: half English, a fifth German, the rest unlabelled; most priced in EUR. */
async function seed(db: Knex, count: number): Promise<void> {
  const users = Math.max(1, Math.floor(count / 100));
  await db.transaction(async (trx) => {
    await trx.raw(
      `INSERT INTO users (wallet_address, display_name) SELECT '0x' || lpad(to_hex(g), 40, '0'), 'Seller ' || g FROM generate_series(1, ?) g ON CONFLICT DO NOTHING`,
      [users],
    );
    await trx.raw(`INSERT INTO hashtags (tag) SELECT unnest(${sqlArray(TAGS)}) ON CONFLICT (tag) DO NOTHING`);
    await trx.raw(
      `INSERT INTO listings (id, user_id, title, description, language, price_amount, price_currency, video_key, preview_key, poster_key,
                             duration_seconds, width, height, video_bytes, source_bytes, location, moderation_status, created_at)
       SELECT s.id, u.id,
              CASE WHEN s.lang = 'de' THEN initcap(${pick(DE_ADJECTIVES)}) || ' ' || ${pick(DE_NOUNS)}
                   ELSE initcap(${pick(ADJECTIVES)}) || ' ' || ${pick(NOUNS)} || CASE WHEN random() < 0.3 THEN ' ' || initcap(${pick(BRANDS)}) ELSE '' END END,
              CASE WHEN s.lang = 'de' THEN ${pick(DE_PHRASES)} || ', ' || ${pick(DE_PHRASES)} || '. ' || ${pick(DE_ADJECTIVES)} || ' ' || ${pick(DE_NOUNS)} || '.'
                   ELSE initcap(${pick(PHRASES)}) || ', ' || ${pick(PHRASES)} || '. ' || initcap(${pick(ADJECTIVES)}) || ' ' || ${pick(NOUNS)} || ' by ' || initcap(${pick(BRANDS)}) || ', ' || ${pick(PHRASES)} || '.' END,
              s.lang,
              s.price,
              CASE WHEN s.price IS NOT NULL THEN 'EUR' END,
              'listings/' || s.id || '/video.webm', 'listings/' || s.id || '/preview.webm', 'listings/' || s.id || '/poster.webp',
              30, 1280, 720, 5000000, 20000000,
              CASE WHEN s.g % 3 = 0
                THEN ST_SetSRID(ST_MakePoint(city.lng + (random() - 0.5) * 0.6, city.lat + (random() - 0.5) * 0.4), 4326)::geography
                ELSE ST_SetSRID(ST_MakePoint(-10 + random() * 50, 36 + random() * 34), 4326)::geography END,
              (CASE WHEN s.g % 10 = 0 THEN 'pending' ELSE 'approved' END)::moderation_status,
              now() - (random() * interval '90 days')
       FROM (SELECT g, gen_random_uuid() AS id, CASE WHEN g % 10 < 5 THEN 'en' WHEN g % 10 < 7 THEN 'de' END AS lang,
                    CASE WHEN random() < 0.85 THEN round((5 + power(random(), 2) * 2995)::numeric, 2) END AS price
             FROM generate_series(1, ?) g) s
       JOIN users u ON u.wallet_address = '0x' || lpad(to_hex(1 + s.g % ?), 40, '0')
       CROSS JOIN LATERAL (SELECT * FROM (VALUES (52.52, 13.405), (48.857, 2.352), (51.507, -0.128), (41.9, 12.5), (40.42, -3.70)) c(lat, lng)
                           OFFSET (s.g % 5) LIMIT 1) city`,
      [count, users],
    );
    // Listings run 30 days from approval: of 90 days of listings about a third are public now.
    await trx.raw(
      `UPDATE listings SET approved_at = created_at, expires_at = created_at + interval '30 days' WHERE moderation_status = 'approved' AND expires_at IS NULL`,
    );
    await trx.raw(
      `INSERT INTO listing_hashtags (listing_id, hashtag_id)
       SELECT DISTINCT l.id, h.id FROM listings l
       CROSS JOIN LATERAL (SELECT 1 + floor(power(random(), 1.8) * ${TAGS.length})::int AS n FROM generate_series(1, 1 + (abs(hashtext(l.id::text)) % 4)) k) t
       JOIN hashtags h ON h.tag = (${sqlArray(TAGS)})[t.n]
       ON CONFLICT DO NOTHING`,
    );
  });
  await db.raw('ANALYZE users, listings, hashtags, listing_hashtags');
}

const cities = [
  [52.52, 13.405],
  [48.857, 2.352],
  [51.507, -0.128],
  [41.9, 12.5],
  [40.42, -3.7],
] as const;
const at = (i: number) => {
  const [latitude, longitude] = cities[i % cities.length] as readonly [number, number];
  return { latitude, longitude };
};
const noun = (i: number) => NOUNS[(i * 7) % NOUNS.length] as string;

interface Shape {
  name: string;
  search: (i: number) => ListingSearch;
}

const shapes: Shape[] = [
  { name: 'one common word, relevance', search: (i) => ({ q: noun(i), limit: 20 }) },
  { name: 'two words, relevance', search: (i) => ({ q: `${ADJECTIVES[i % ADJECTIVES.length]} ${noun(i)}`, language: 'en', limit: 20 }) },
  { name: 'phrase + brand, relevance', search: (i) => ({ q: `"${ADJECTIVES[i % ADJECTIVES.length]} ${noun(i)}" ${BRANDS[i % BRANDS.length]}`, limit: 20 }) },
  {
    name: 'words + tag + 50 km + price (the goal)',
    search: (i) => ({ q: noun(i), tags: [TAGS[(i * 3) % 40] as string], match: 'any', near: at(i), radiusKm: 50, priceMin: 20, priceMax: 800, limit: 20 }),
  },
  { name: 'words + 50 km + price, nearest', search: (i) => ({ q: noun(i), near: at(i), radiusKm: 50, priceMax: 500, sort: 'nearest', limit: 20 }) },
  { name: 'words + price, cheapest first', search: (i) => ({ q: noun(i), priceMin: 50, priceMax: 1000, sort: 'price_asc', limit: 20 }) },
  { name: 'words, newest first', search: (i) => ({ q: noun(i), sort: 'newest', limit: 20 }) },
  {
    name: 'typo (no word matches: similar spellings)',
    search: (i) => ({ q: `${noun(i).slice(0, -2)}${noun(i).slice(-1)}${noun(i).slice(-2, -1)}x`, limit: 20 }),
  },
  { name: 'German stem (Fahrräder -> fahrrad)', search: () => ({ q: 'Fahrräder', language: 'de', limit: 20 }) },
  { name: 'no words: price range, dearest first', search: (i) => ({ priceMin: 100 + i, priceMax: 2000, sort: 'price_desc', limit: 20 }) },
];

// ---------------------------------------------------------------- part 1: the query
const fmt = (n: number) => (Number.isNaN(n) ? '–' : n.toFixed(2));
const db = await benchDatabase();
const { loadavg } = await import('node:os');
const loadDuring = loadavg()
  .map((value) => value.toFixed(1))
  .join(', ');
const queryRows: string[] = [];
const plans: string[] = [];
const byShape: Record<string, { roundTripMs: number[]; databaseMs: number[]; matched: string[] }> = {};
let total = 0;
let visible = 0;
let goalP95 = Number.NaN;
let goalDatabaseP95 = Number.NaN;
try {
  await migrateToLatest(db);
  const seeded = Number((await db('listings').count({ n: '*' }))[0]?.n ?? 0);
  if (seeded < LISTINGS) {
    const started = performance.now();
    await seed(db, LISTINGS - seeded);
    process.stdout.write(`seeded ${LISTINGS - seeded} listings in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
  total = Number((await db('listings').count({ n: '*' }))[0]?.n ?? 0);
  visible = Number((await db('listings as l').whereRaw(PUBLIC_LISTING).count({ n: '*' }))[0]?.n ?? 0);

  let last: { sql: string; bindings: readonly unknown[] } = { sql: '', bindings: [] };
  db.on('query', (query: { sql: string; bindings?: readonly unknown[] }) => {
    if (query.sql.includes('from "listings" as "l"')) last = { sql: query.sql, bindings: query.bindings ?? [] };
  });
  const onConnection = async <T>(work: (connection: { query(text: string, values?: readonly unknown[]): Promise<{ rows: any[] }> }) => Promise<T>) => {
    const connection = (await db.client.acquireConnection()) as { query(text: string, values?: readonly unknown[]): Promise<{ rows: any[] }> };
    try {
      // The similar-spelling query runs with searchListings' own threshold (SET LOCAL there).
      await connection.query('SET pg_trgm.word_similarity_threshold = 0.45');
      return await work(connection);
    } finally {
      await connection.query('RESET pg_trgm.word_similarity_threshold');
      await db.client.releaseConnection(connection);
    }
  };
  const executionMs = (sql: string, bindings: readonly unknown[]) =>
    onConnection(async (c) => Number((await c.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, bindings)).rows[0]['QUERY PLAN'][0]['Execution Time']));
  const planText = (sql: string, bindings: readonly unknown[]) =>
    onConnection(async (c) =>
      (await c.query(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${sql}`, bindings)).rows
        .map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN'])
        .join('\n'),
    );

  for (let i = 0; i < 3 * shapes.length; i++) await searchListings(db, (shapes[i % shapes.length] as Shape).search(i)); // warm the cache
  for (let i = 0; i < SAMPLES_PER_SHAPE * shapes.length; i++) {
    const shape = shapes[i % shapes.length] as Shape;
    const search = shape.search(Math.floor(i / shapes.length));
    const started = performance.now();
    const page = await searchListings(db, search);
    const times = (byShape[shape.name] ??= { roundTripMs: [], databaseMs: [], matched: [] });
    times.roundTripMs.push(performance.now() - started);
    times.matched.push(`${page.matched ?? '-'}:${page.items.length}`);
    times.databaseMs.push(await executionMs(last.sql, last.bindings));
    if (i < shapes.length) plans.push(`${shape.name}:\n\n\`\`\`\n${await planText(last.sql, last.bindings)}\n\`\`\``);
  }
  const goal = byShape['words + tag + 50 km + price (the goal)'];
  goalP95 = percentile(goal?.roundTripMs ?? [], 95);
  goalDatabaseP95 = percentile(goal?.databaseMs ?? [], 95);
  for (const shape of shapes) {
    const times = byShape[shape.name];
    if (!times) continue;
    const full = times.matched.filter((m) => m.endsWith(':20')).length;
    queryRows.push(
      `| ${shape.name} | ${fmt(percentile(times.roundTripMs, 50))} | ${fmt(percentile(times.roundTripMs, 95))} | ${fmt(percentile(times.roundTripMs, 99))} | ${fmt(percentile(times.databaseMs, 95))} | ${full}/${times.matched.length} | ${[...new Set(times.matched.map((m) => m.split(':')[0]))].join(', ')} |`,
    );
  }
} finally {
  await db.destroy();
}

// ---------------------------------------------------------------- part 2: the browse page's weight
const LINK_BYTES_PER_SECOND = 1_600_000 / 8;
const WINDOW_MS = 45_000;
const env = infraEnv();
const work = await mkdtemp(join(tmpdir(), 'reelboard-search-bench-'));
const testDb = connectDatabase(env.TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
const tag = `bench_${randomBytes(3).toString('hex')}`;
const ids: string[] = [];
const wallets: string[] = [];
let gateway: ChildProcess | undefined;
const weight: Record<
  string,
  {
    bytes: number;
    previewBytes: number;
    mediaRequests: number;
    previewRequests: number;
    firstPlayingMs: number | null;
    postersDoneMs: number | null;
    requests: number;
  }
> = {};
let gatewayMemory = '';
let previewBytes = 0;
try {
  const storage = storageFromEnv({ ...stackEnvironment(work), S3_BUCKET: env.TEST_S3_BUCKET ?? '' } as never);
  // A realistic preview: 4 s of 640x360 VP9 with detail (about what the preview extractor cuts).
  const preview = join(work, 'preview.webm');
  await promisify(execFile)('ffmpeg', [
    ...[
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=640x360:rate=25',
      '-f',
      'lavfi',
      '-i',
      'nullsrc=size=640x360:rate=25',
      '-filter_complex',
      '[0][1]blend=all_mode=addition,noise=alls=40:allf=t',
    ],
    ...['-t', '4', '-c:v', 'libvpx-vp9', '-b:v', '1300k', '-deadline', 'realtime', '-cpu-used', '8', '-an', '-y', preview],
  ]);
  previewBytes = (await stat(preview)).size;
  const poster = join(work, 'poster.png');
  await makePng(poster, { width: 640, height: 360 });
  await migrateToLatest(testDb);
  for (let n = 0; n < 20; n += 1) {
    const input = listingInput({ title: `Bench listing ${n}`, tags: [tag], price: { amount: `${100 + n}.00`, currency: 'EUR' } });
    await saveListing(testDb, input);
    await moderateListing(testDb, { listingId: input.listingId, actor: 'bench', action: 'approve' });
    await storage.putFile(input.listing.previewKey, preview, 'video/webm');
    await storage.putFile(input.listing.posterKey, poster, 'image/png');
    ids.push(input.listingId);
    wallets.push(input.owner.walletAddress.toLowerCase());
  }

  // The gateway as it runs (its own process, main.ts): it also reports the gazetteer's cost.
  const port = Number(process.env.TEST_BASE_PORT ?? 18080) + 40;
  const gatewayEnv = stackEnvironment(join(work, 'staging'), {
    PORT: String(port),
    INTERNAL_PORT: String(port + 1),
    PUBLIC_URL: `http://localhost:${port}`,
    LOG_LEVEL: 'info',
  });
  const logFile = join(work, 'gateway.log');
  const { createWriteStream } = await import('node:fs');
  const log = createWriteStream(logFile);
  gateway = spawn(process.execPath, ['--import', 'tsx', join('services', 'api-gateway', 'src', 'main.ts')], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...gatewayEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  gateway.stdout?.pipe(log);
  gateway.stderr?.pipe(log);
  const base = `http://localhost:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ok = await fetch(`${base}/v1/places?q=Ber`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || gateway.exitCode !== null) throw new Error(`the gateway did not start: see ${logFile}\n${await readFile(logFile, 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const indexed = (await readFile(logFile, 'utf8')).split('\n').find((line) => line.includes('place names indexed')) ?? '';
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${gateway.pid}/status`, 'utf8'))?.[1] ?? 0);
  gatewayMemory = `${indexed.trim()} (gateway rss after start ${Math.round(rssKiB / 1024)} MiB)`;

  const listings = (await (await fetch(`${base}/v1/listings?tags=${tag}&limit=20`)).json()) as {
    items: { previewUrl: string; posterUrl: string; title: string }[];
  };
  const browser = await chromium.launch({
    executablePath: findChromium(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const measure = async (name: string, open: (page: import('playwright-core').Page) => Promise<void>) => {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 150,
        downloadThroughput: LINK_BYTES_PER_SECOND,
        uploadThroughput: LINK_BYTES_PER_SECOND / 2,
      });
      let bytes = 0;
      let previewBytes = 0;
      let requests = 0;
      const urls: string[] = [];
      const urlOf = new Map<string, string>();
      const postersPending = new Set<string>();
      let postersDone = 0;
      cdp.on('Network.requestWillBeSent', (event: { requestId: string; request: { url: string } }) => {
        requests += 1;
        urls.push(event.request.url);
        urlOf.set(event.requestId, event.request.url);
        if (event.request.url.includes('/poster.')) postersPending.add(event.requestId);
      });
      cdp.on('Network.dataReceived', (event: { requestId: string; encodedDataLength: number }) => {
        bytes += event.encodedDataLength;
        if (urlOf.get(event.requestId)?.includes('preview.webm')) previewBytes += event.encodedDataLength;
      });
      const posterSettled = (event: { requestId: string }) => {
        if (!postersPending.delete(event.requestId)) return;
        postersDone += 1;
        if (postersDone === 20) posterTimes.push(Date.now() - started);
      };
      const posterTimes: number[] = [];
      cdp.on('Network.loadingFinished', posterSettled);
      cdp.on('Network.loadingFailed', posterSettled);
      const started = Date.now();
      await open(page);
      const firstPlaying = await page
        .waitForFunction(
          () => [...(globalThis as any).document.querySelectorAll('video')].some((video: any) => !video.paused && video.currentTime > 0),
          undefined,
          {
            timeout: WINDOW_MS,
            polling: 100,
          },
        )
        .then(
          () => Date.now() - started,
          () => null,
        );
      await page.waitForTimeout(Math.max(0, WINDOW_MS - (Date.now() - started)));
      weight[name] = {
        bytes,
        previewBytes,
        postersDoneMs: posterTimes[0] ?? null,
        requests,
        mediaRequests: urls.filter((url) => /poster|preview/.test(url)).length,
        previewRequests: urls.filter((url) => url.includes('preview.webm')).length,
        firstPlayingMs: firstPlaying,
      };
      await page.close();
    };
    // Before: the cards as the browse view made them until now (every preview autoplaying, preload=metadata), same 20 listings.
    await measure('before: every preview autoplays', async (page) => {
      await page.goto(`${base}/#/mine`);
      await page.evaluate((items) => {
        const doc = (globalThis as any).document;
        const grid = doc.createElement('ul');
        grid.className = 'grid';
        for (const item of items) {
          const video = doc.createElement('video');
          Object.assign(video, {
            muted: true,
            loop: true,
            autoplay: true,
            playsInline: true,
            preload: 'metadata',
            src: item.previewUrl,
            poster: item.posterUrl,
          });
          const li = doc.createElement('li');
          li.className = 'listing-card';
          li.append(video, Object.assign(doc.createElement('h3'), { textContent: item.title }));
          grid.append(li);
        }
        doc.getElementById('view').replaceChildren(grid);
      }, listings.items);
    });
    await measure('now: posters first, previews on screen, one at a time', async (page) => {
      await page.goto(`${base}/#/browse?tags=${tag}`);
    });
  } finally {
    await browser.close();
  }
} finally {
  if (gateway && gateway.exitCode === null) {
    const exited = new Promise((resolve) => gateway?.once('exit', resolve));
    gateway.kill('SIGTERM');
    await exited;
  }
  if (ids.length) await testDb('listings').whereIn('id', ids).delete();
  if (wallets.length) await testDb('users').whereIn('wallet_address', wallets).delete();
  await testDb('hashtags').where({ tag }).delete();
  await testDb.destroy();
  await rm(work, { recursive: true, force: true });
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(2);
const seconds = (ms: number | null | undefined) => (ms === null || ms === undefined ? `not within ${WINDOW_MS / 1000} s` : `${(ms / 1000).toFixed(1)} s`);
const before = weight['before: every preview autoplays'];
const now = weight['now: posters first, previews on screen, one at a time'];
writeReport({
  part: 'search',
  title: 'Search by words: text + tags + distance + price over 100,000 listings; the browse page on a slow link',
  command: 'node --import tsx scripts/bench/search.ts',
  headline: `words + tag + 50 km + price p95 ${fmt(goalP95)} ms round trip, ${fmt(goalDatabaseP95)} ms at the database, over ${total} listings (goal < ${GOAL_MS} ms); browse page at 1.6 Mbit/s: first preview plays after ${seconds(now?.firstPlayingMs)} (before: ${seconds(before?.firstPlayingMs)}), 20 posters in ${seconds(now?.postersDoneMs)} (before: ${seconds(before?.postersDoneMs)})`,
  markdown: `
### The query

${total} listings (90% approved, created over 90 days, each public 30 days from then, so ${visible} are public now; titles and descriptions from marketplace words, half labelled English, a fifth German with German words, the rest unlabelled; 85% priced in EUR; 1-4 of ${TAGS.length} skewed hashtags; a third clustered around five cities). ${SAMPLES_PER_SHAPE} searches of each of ${shapes.length} shapes, 20 per page, warm cache.
"Round trip" is \`searchListings\` from Node (tag lookup, listing query, for a typo the empty full-text query and then the similar-spelling one, network); "database p95" is PostgreSQL's execution time of the last listing query (EXPLAIN ANALYZE). "Full pages" counts searches that filled a page of 20; "matched" is how the words matched.

Goal: text + tags + distance + price under ${GOAL_MS} ms p95: **${goalP95 < GOAL_MS ? 'met' : 'missed'}** round trip (${fmt(goalP95)} ms), **${goalDatabaseP95 < GOAL_MS ? 'met' : 'missed'}** at the database (${fmt(goalDatabaseP95)} ms). Load average (1, 5, 15 min) when the run started: ${loadDuring}.

| shape | p50 ms | p95 ms | p99 ms | database p95 ms | full pages | matched |
|---|---|---|---|---|---|---|
${queryRows.join('\n')}

### The browse page on a 1.6 Mbit/s link (150 ms latency), 20 cards, first ${WINDOW_MS / 1000} s

Each preview is a ${(previewBytes / 1e6).toFixed(2)} MB, 4 s VP9 clip; posters are PNG. Chromium (desktop, 1100x900, cache off) through the DevTools protocol's network emulation. "Before" is the cards' previous markup (every \`<video autoplay preload=metadata src=…>\`) on the same listings, injected into the app's page; "now" is the browse view.

Before, all 20 previews share the link from the start: none has enough to play until ${seconds(before?.firstPlayingMs)}, and the page goes on to fetch all 20 (${mb(20 * previewBytes)} MB). Now only the previews of cards on screen are fetched (${now?.previewRequests ?? 0} at this viewport, below the search form), one at a time: the first plays after ${seconds(now?.firstPlayingMs)}, and the page stops there until the person scrolls. The posters arrive first either way (the browser puts images before media).

| page | bytes in ${WINDOW_MS / 1000} s | of which previews | requests | poster + preview requests | preview requests | 20 posters in | first preview playing after |
|---|---|---|---|---|---|---|---|
${Object.entries(weight)
  .map(
    ([name, w]) =>
      `| ${name} | ${mb(w.bytes)} MB | ${mb(w.previewBytes)} MB | ${w.requests} | ${w.mediaRequests} | ${w.previewRequests} | ${seconds(w.postersDoneMs)} | ${seconds(w.firstPlayingMs)} |`,
  )
  .join('\n')}

The place-name index, as the gateway logs it at start: ${gatewayMemory || '(not found in the log)'}.

### Plans (the first search of each shape)

${plans.join('\n\n')}
`,
  data: { listings: total, visible, samplesPerShape: SAMPLES_PER_SHAPE, byShape, weight, previewBytes, gatewayMemory },
});
