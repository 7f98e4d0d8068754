import { connectDatabase, migrateDownAll, migrateToLatest } from './knex.js';

// `pnpm migrate` (latest) or `pnpm migrate down` (revert everything), against DATABASE_URL.
const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write('DATABASE_URL is required\n');
  process.exit(78);
}
const db = connectDatabase(url, { min: 0, max: 1 });
try {
  if (process.argv[2] === 'down') {
    await migrateDownAll(db);
    process.stdout.write('reverted all migrations\n');
  } else {
    const applied = await migrateToLatest(db);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema up to date\n');
  }
} finally {
  await db.destroy();
}
