import type { Redis } from 'ioredis';
import type { PublicClient } from 'viem';
import type { Knex } from '@reelboard/db';
import type { ReadinessCheck } from '@reelboard/runtime';
import type { ObjectStorage } from '@reelboard/storage';

export interface GatewayReadinessParameters {
  redis: Redis;
  db: Knex;
  chain: Pick<PublicClient, 'getBlockNumber'>;
  storage: Pick<ObjectStorage, 'checkBucket'>;
}

export interface GatewayReadinessReturnType {
  /** What serving needs (sessions, status, listings): a failure takes this replica out of the Service. */
  readiness: Record<string, ReadinessCheck>;
  /**
   * Reported by `/readyz` but not gating: an RPC or S3 provider outage hits every replica at once,
   * and marking them all not ready would take browsing and sign-in down with it.
   */
  reportedChecks: Record<string, ReadinessCheck>;
}

/** The gateway's `/readyz` checks: Redis and Postgres gate it; the RPC and S3 are reported. */
export function gatewayReadiness({ redis, db, chain, storage }: GatewayReadinessParameters): GatewayReadinessReturnType {
  return {
    readiness: {
      redis: async () => void (await redis.ping()),
      postgres: async () => void (await db.raw('select 1')),
    },
    reportedChecks: {
      rpc: async () => void (await chain.getBlockNumber()),
      s3: () => storage.checkBucket(),
    },
  };
}
