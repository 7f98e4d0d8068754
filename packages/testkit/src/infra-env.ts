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
  return env;
}
