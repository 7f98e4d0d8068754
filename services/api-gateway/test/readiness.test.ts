import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { connectRedis } from '@reelboard/bus';
import { createChainClient } from '@reelboard/chain';
import { connectDatabase, type Knex } from '@reelboard/db';
import { checkReadiness } from '@reelboard/runtime';
import { s3EnvSchema, storageFromEnv } from '@reelboard/storage';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { gatewayReadiness } from '../src/infra/readiness.js';

// Readiness gates only on what serving needs: an RPC or S3 outage (which hits every replica at
// once) is reported, while Redis or Postgres missing takes the replica out of its Service.

const infra = infraEnv();

/** A local port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function storageAt(endpoint: string) {
  return storageFromEnv(
    s3EnvSchema.parse({
      S3_ENDPOINT: endpoint,
      S3_BUCKET: infra.TEST_S3_BUCKET,
      S3_ACCESS_KEY_ID: infra.S3_ACCESS_KEY_ID,
      S3_SECRET_ACCESS_KEY: infra.S3_SECRET_ACCESS_KEY,
      S3_FORCE_PATH_STYLE: 'true',
      S3_MAX_ATTEMPTS: '1',
    }),
  );
}

describe('gateway readiness', () => {
  let redis: Redis;
  let db: Knex;
  let deadDb: Knex;
  let deadPort: number;

  beforeAll(async () => {
    redis = connectRedis(infra.REDIS_URL ?? '', 'readiness-test');
    db = connectDatabase(infra.TEST_DATABASE_URL ?? '', { min: 0, max: 1 });
    deadPort = await closedPort();
    const url = new URL(infra.TEST_DATABASE_URL ?? '');
    url.port = String(deadPort);
    deadDb = connectDatabase(url.toString(), { min: 0, max: 1 });
  });

  afterAll(async () => {
    await redis.quit();
    await db.destroy();
    await deadDb.destroy();
  });

  it('is ready with every dependency up, and not degraded', async () => {
    const storage = storageAt(infra.S3_ENDPOINT ?? '');
    await storage.ensureBucket();
    const chain = createChainClient({ rpcUrl: infra.RPC_URL ?? '', chainId: Number(infra.CHAIN_ID) });
    const { readiness, reportedChecks } = gatewayReadiness({ redis, db, chain, storage });
    expect(await checkReadiness(readiness, reportedChecks)).toEqual({
      ok: true,
      degraded: false,
      checks: { redis: 'ok', postgres: 'ok', rpc: 'ok', s3: 'ok' },
    });
    storage.close();
  });

  it('stays ready when the RPC and S3 are down, reporting both', async () => {
    const storage = storageAt(`http://127.0.0.1:${deadPort}`);
    const chain = createChainClient({ rpcUrl: `http://127.0.0.1:${deadPort}`, chainId: Number(infra.CHAIN_ID) });
    const { readiness, reportedChecks } = gatewayReadiness({ redis, db, chain, storage });
    const result = await checkReadiness(readiness, reportedChecks);
    expect(result.ok).toBe(true);
    expect(result.degraded).toBe(true);
    expect(result.checks.redis).toBe('ok');
    expect(result.checks.postgres).toBe('ok');
    expect(result.checks.rpc).toBe('down');
    expect(result.checks.s3).toBe('down');
    storage.close();
  });

  it('is not ready when Postgres is down, naming it', async () => {
    const storage = storageAt(infra.S3_ENDPOINT ?? '');
    const chain = createChainClient({ rpcUrl: infra.RPC_URL ?? '', chainId: Number(infra.CHAIN_ID) });
    const { readiness, reportedChecks } = gatewayReadiness({ redis, db: deadDb, chain, storage });
    const result = await checkReadiness(readiness, reportedChecks);
    expect(result.ok).toBe(false);
    expect(result.degraded).toBe(false);
    // The state only: the error (with the database URL in it) goes to the log, not the answer.
    expect(result.checks.postgres).toBe('down');
    storage.close();
  });
});
