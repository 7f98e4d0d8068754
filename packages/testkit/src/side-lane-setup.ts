// Global setup of the integration side lane (vitest.config.ts): its files run beside the serial lane,
// so they get a test database of their own (created here on first use, migrated on every run, kept like
// the serial lane's), and rows they hold while they run never meet a serial file's reconciliation.
import type { TestProject } from 'vitest/node';
import { connectDatabase, migrateToLatest } from '@reelboard/db';
import { infraEnv, TEST_DATABASE_OVERRIDE, withDatabase } from './infra-env.js';

export default async function setup(project: TestProject): Promise<void> {
  const database = project.config.env?.[TEST_DATABASE_OVERRIDE];
  if (!database) throw new Error(`the side lane's project sets no ${TEST_DATABASE_OVERRIDE} in its env (vitest.config.ts)`);
  // The server and credentials of the serial lane's test database.
  const serial = infraEnv().TEST_DATABASE_URL;
  if (!serial) throw new Error('.data/infra.env has no TEST_DATABASE_URL: start the infrastructure with scripts/infra/up.sh');
  const admin = connectDatabase(withDatabase(serial, 'postgres'), { min: 0, max: 1 });
  try {
    const exists = await admin('pg_database').where({ datname: database }).first('datname');
    // Two runs starting at once may both find it missing: the loser's "already exists" is the same outcome.
    if (!exists)
      await admin.raw(`CREATE DATABASE ${database}`).catch((error: { code?: string }) => (error.code === '42P04' ? undefined : Promise.reject(error)));
  } finally {
    await admin.destroy();
  }
  const db = connectDatabase(withDatabase(serial, database), { min: 0, max: 1 });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}
