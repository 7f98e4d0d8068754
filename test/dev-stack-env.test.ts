import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, migrateToLatest } from '@reelboard/db';
import { infraEnv, repoRoot } from '@reelboard/testkit/infra-env';
import { loadDevStackEnv } from '../scripts/dev-stack-env.js';

// `pnpm payments reconcile` as the README writes it, in a terminal beside `pnpm dev`: the command
// reads the settings scripts/dev.sh wrote (.data/dev.env) when its environment names no database.

describe('the development stack settings for the operators commands', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reelboard-dev-env-'));
    file = join(dir, 'dev.env');
    const db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 1 });
    await migrateToLatest(db);
    await db.destroy();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('fills what is unset, replaces nothing, and stays out of the way of a configured environment', async () => {
    await writeFile(
      file,
      '# Written by scripts/dev.sh\nDATABASE_URL=postgres://a@127.0.0.1:1/x\nMERCHANT_ADDRESS=0xa0Ee7A142d267C1f36714E4a8F75612F20a79720\nCHAIN_ID=31337\n',
    );
    const env: NodeJS.ProcessEnv = { CHAIN_ID: '1' };
    expect(loadDevStackEnv(env, file)).toBe(file);
    expect(env).toEqual({ CHAIN_ID: '1', DATABASE_URL: 'postgres://a@127.0.0.1:1/x', MERCHANT_ADDRESS: '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720' });
    const configured: NodeJS.ProcessEnv = { DATABASE_URL: 'postgres://real/db' };
    expect(loadDevStackEnv(configured, file)).toBeUndefined();
    expect(configured).toEqual({ DATABASE_URL: 'postgres://real/db' });
    expect(loadDevStackEnv({}, join(dir, 'absent.env'))).toBeUndefined();
  });

  it('pnpm payments reconcile runs with nothing but the stack settings (it stopped at "... is required")', async () => {
    const infra = infraEnv();
    // What dev.sh writes, on the test database.
    const lines = ['REDIS_URL', 'S3_ENDPOINT', 'RPC_URL', 'CHAIN_ID'].map((name) => `${name}=${infra[name]}`);
    await writeFile(file, [...lines, `DATABASE_URL=${infra.TEST_DATABASE_URL}`, 'MERCHANT_ADDRESS=0xa0Ee7A142d267C1f36714E4a8F75612F20a79720', ''].join('\n'));
    const result = await new Promise<{ code: number; stderr: string; stdout: string }>((resolve) =>
      execFile(
        'node',
        // No settling: other tests' payments may differ for good (exit 1 is accepted below), and re-reading
        // them for the default 15 s proves nothing about where the settings came from.
        ['--import', 'tsx', 'scripts/payments.ts', 'reconcile', '--from-block', '0', '--settle-seconds', '0'],
        { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, REELBOARD_DEV_ENV: file }, timeout: 120_000 },
        (error, stdout, stderr) => resolve({ code: error ? ((error.code as number) ?? -1) : 0, stdout, stderr }),
      ),
    );
    expect(result.stderr).toContain(`using the development stack's settings from ${file}`);
    expect(result.stderr).not.toMatch(/is required/);
    expect(result.stdout).toMatch(/^checked \d+ deposit addresses, \d+ transfers to the merchant in \d+ blocks \(0\.\.\d+, from --from-block\)/);
    // 0: chain and ledger agree; 1: they differ (other tests' payments); never 78 (configuration).
    expect([0, 1], result.stderr).toContain(result.code);
  }, 150_000);
});
