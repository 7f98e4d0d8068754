import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = new URL('../../..', import.meta.url).pathname;

/** The connection settings scripts/infra/up.sh wrote for the running local infrastructure. */
export function infraEnv(): Record<string, string> {
  // vitest.config.ts sets this in the unit lane, whose files must pass with the infrastructure down.
  if (process.env.REELBOARD_TEST_LANE === 'unit')
    throw new Error('infraEnv() was called from the unit lane: a test that needs the infrastructure belongs in the integration lane (vitest.config.ts)');
  const path = join(repoRoot, '.data', 'infra.env');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`${path} is missing: start the infrastructure with scripts/infra/up.sh (scripts/test.sh does)`);
  }
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1]) env[match[1]] = match[2] ?? '';
  }
  // The integration side lane (vitest.config.ts) runs beside the serial lane with a test database of its own.
  const database = process.env[TEST_DATABASE_OVERRIDE];
  if (database && env.TEST_DATABASE_URL) env.TEST_DATABASE_URL = withDatabase(env.TEST_DATABASE_URL, database);
  return env;
}

/** The variable that points infraEnv()'s TEST_DATABASE_URL at another database of the same server. */
export const TEST_DATABASE_OVERRIDE = 'REELBOARD_TEST_DATABASE';

/** A Postgres URL with its database replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`${TEST_DATABASE_OVERRIDE}=${database}: not a plain database name (a-z, 0-9, _)`);
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
