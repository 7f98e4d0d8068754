// The development stack's settings (.data/dev.env, written by scripts/dev.sh) for the operators'
// commands run beside it in another terminal: `pnpm payments reconcile` as the README writes it
// needs the database, the chain and the merchant the stack runs with. Read only when the
// environment names no database (a real host's settings always win), and a variable already set
// is never replaced.
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/** Where scripts/dev.sh writes its settings; REELBOARD_DEV_ENV names another file. */
export const devStackEnvPath = (env: NodeJS.ProcessEnv = process.env): string => env.REELBOARD_DEV_ENV || new URL('../.data/dev.env', import.meta.url).pathname;

/** Fills `env` from the development stack's settings when it names no database; returns the file read, if any. */
export function loadDevStackEnv(env: NodeJS.ProcessEnv = process.env, path = devStackEnvPath(env)): string | undefined {
  if (env.DATABASE_URL || env.REDIS_URL || env.REDIS_SENTINELS || !existsSync(path)) return undefined;
  for (const [name, value] of Object.entries(parseEnv(readFileSync(path, 'utf8')))) {
    if (env[name] === undefined) env[name] = value;
  }
  return path;
}
