// The one Redis connection factory: URL or Sentinel settings from the shared schema, and the
// refusal to run on a Redis that may evict keys (read by CONFIG GET, or INFO when CONFIG is off).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ConfigError, commonSchema, loadConfig } from '@reelboard/config';
import { createLogger } from '@reelboard/logger';
import { type RedisProcesses, redisProcesses } from '@reelboard/testkit/redis-processes';
import { assertNoEviction, ClusterNotSupportedError, connectBus, connectRedis, EvictionPolicyError, evictionPolicy, redisOptions } from '../src/index.js';

/** The status store connectBus would make: never, since the Redis is refused first. */
const refusedFirst = (): never => {
  throw new Error('the status store was made on a refused Redis');
};

describe('Redis settings', () => {
  it('reads sentinel addresses and the master name instead of a URL', () => {
    const config = loadConfig(commonSchema, {
      REDIS_SENTINELS: 'redis-a:26379, 10.0.0.2:26380,[::1]:26381',
      REDIS_SENTINEL_MASTER: 'reelboard',
      REDIS_PASSWORD: 'pw',
    });
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.REDIS_SENTINELS).toEqual([
      { host: 'redis-a', port: 26379 },
      { host: '10.0.0.2', port: 26380 },
      { host: '::1', port: 26381 },
    ]);
    const options = redisOptions(config, 'test');
    expect(options).toMatchObject({
      sentinels: config.REDIS_SENTINELS,
      name: 'reelboard',
      password: 'pw',
      failoverDetector: true,
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
    });
  });

  it('names a bad sentinel address, and asks for a URL or sentinels when neither is set', () => {
    expect(() => loadConfig(commonSchema, { REDIS_SENTINELS: 'redis-a:26379,redis-b' })).toThrow(/REDIS_SENTINELS: "redis-b" is not host:port/);
    expect(() => loadConfig(commonSchema, { REDIS_SENTINELS: 'redis-a:70000' })).toThrow(/REDIS_SENTINELS/);
    try {
      loadConfig(commonSchema, {});
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues).toEqual([{ variable: 'REDIS_URL', message: 'is required (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER)' }]);
    }
    // A command that needs Redis only for some subcommands may go without.
    expect(loadConfig(commonSchema, {}, { redisOptional: true }).REDIS_URL).toBeUndefined();
  });

  it('reconnects on READONLY (a demoted master) and on nothing else', () => {
    const { reconnectOnError } = redisOptions({ REDIS_URL: 'redis://127.0.0.1:1' }, 'test');
    expect(reconnectOnError?.(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnectOnError?.(new Error('ERR wrong number of arguments'))).toBe(false);
  });
});

describe('eviction policy', () => {
  let processes: RedisProcesses;
  beforeAll(async () => {
    processes = await redisProcesses('eviction-unit');
  });
  afterAll(async () => {
    await processes?.close();
  });

  it('accepts noeviction and refuses volatile-lru, naming maxmemory-policy', async () => {
    const good = await processes.server({ directives: [['maxmemory-policy', 'noeviction']] });
    const bad = await processes.server({
      directives: [
        ['maxmemory', '64mb'],
        ['maxmemory-policy', 'volatile-lru'],
      ],
    });
    const goodClient = connectRedis(`redis://127.0.0.1:${good.port}`, 'eviction-good');
    const badClient = connectRedis(`redis://127.0.0.1:${bad.port}`, 'eviction-bad');
    try {
      await expect(assertNoEviction(goodClient)).resolves.toBeUndefined();
      const refusal = await assertNoEviction(badClient).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(EvictionPolicyError);
      expect((refusal as Error).message).toMatch(/maxmemory-policy is "volatile-lru".*noeviction/);
      // A service's bus is never built on it.
      const settings = {
        REDIS_URL: `redis://127.0.0.1:${bad.port}`,
        REDIS_PREFIX: 'eviction',
        JOB_LOCK_MS: 30_000,
        JOB_STALLED_INTERVAL_MS: 30_000,
        JOB_MAX_STALLED_COUNT: 1,
      };
      await expect(connectBus(settings, 'eviction-test', createLogger('eviction-test', 'error'), refusedFirst)).rejects.toThrow(
        /maxmemory-policy is "volatile-lru"/,
      );
    } finally {
      goodClient.disconnect();
      badClient.disconnect();
    }
  });

  it('refuses a Redis Cluster node, saying it is not supported', async () => {
    const node = await processes.server({ directives: [['cluster-enabled', 'yes']] });
    const settings = {
      REDIS_URL: `redis://127.0.0.1:${node.port}`,
      REDIS_PREFIX: 'cluster',
      JOB_LOCK_MS: 30_000,
      JOB_STALLED_INTERVAL_MS: 30_000,
      JOB_MAX_STALLED_COUNT: 1,
    };
    const refusal = await connectBus(settings, 'cluster-test', createLogger('cluster-test', 'error'), refusedFirst).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ClusterNotSupportedError);
    expect((refusal as Error).message).toMatch(/Redis Cluster is not supported.*Sentinel/);
  });

  it('reads the policy from INFO memory when CONFIG is disabled (managed Redis)', async () => {
    const managed = await processes.server({
      directives: [
        ['maxmemory', '64mb'],
        ['maxmemory-policy', 'allkeys-lru'],
        ['rename-command', 'CONFIG', '""'],
      ],
    });
    const client = connectRedis(`redis://127.0.0.1:${managed.port}`, 'eviction-managed');
    try {
      await expect(client.config('GET', 'maxmemory-policy')).rejects.toThrow(/unknown command/i);
      expect(await evictionPolicy(client)).toBe('allkeys-lru');
      await expect(assertNoEviction(client)).rejects.toThrow(/maxmemory-policy is "allkeys-lru"/);
    } finally {
      client.disconnect();
    }
  });
});

describe('a Sentinel connection whose master dies', () => {
  let processes: RedisProcesses;
  beforeAll(async () => {
    processes = await redisProcesses('sentinel-detector');
  });
  afterAll(async () => {
    await processes?.close();
  });

  /** The clients subscribed to `+switch-master` on a sentinel: failover detectors. */
  async function detectorsOn(sentinelPort: number): Promise<number> {
    const probe = new Redis({ host: '127.0.0.1', port: sentinelPort, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      const list = (await probe.call('CLIENT', 'LIST')) as string;
      return list.split('\n').filter((line) => / sub=[1-9]/.test(line)).length;
    } finally {
      probe.disconnect();
    }
  }

  async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it("drops the dead connection's failover detector, so a later +switch-master cannot end the reconnecting client", async () => {
    const master = await processes.server();
    // No replica and a long down-after: no failover happens, the client keeps reconnecting.
    const sentinel = await processes.sentinel({ master: master.port, name: 'detector', quorum: 1, downAfterMs: 60_000 });
    const client = connectRedis({ REDIS_SENTINELS: [{ host: '127.0.0.1', port: sentinel.port }], REDIS_SENTINEL_MASTER: 'detector' }, 'detector-test');
    const errors: string[] = [];
    client.on('error', (error: Error) => errors.push(error.message));
    try {
      expect(await client.ping()).toBe('PONG');
      await until('the connection subscribed its failover detector', async () => (await detectorsOn(sentinel.port)) === 1);

      await master.kill('SIGKILL');
      // The client is reconnecting (the master refuses): its old detector must be gone. ioredis
      // 6.0.0 alone keeps it subscribed, and its +switch-master then ends the client mid-connect.
      await until('the client noticed the master is gone', async () => errors.some((message) => /ECONNREFUSED/.test(message)));
      await until('the dead connection left no detector on the sentinel', async () => (await detectorsOn(sentinel.port)) === 0, 5_000);
      expect(client.status).not.toBe('end');
    } finally {
      client.disconnect();
    }
  });
});
