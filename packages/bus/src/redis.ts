import type { Socket } from 'node:net';
import { Redis, type RedisOptions, type SentinelConnectionOptions, SentinelConnector } from 'ioredis';

/** How a service reaches Redis (packages/config's commonSchema): one URL, or Sentinel and a master name. */
export interface RedisSettings {
  /** redis:// or rediss:// URL of one Redis; ignored when REDIS_SENTINELS is set. */
  REDIS_URL?: string | undefined;
  /** Sentinel addresses: the master of REDIS_SENTINEL_MASTER is asked from them, and followed after a failover. */
  REDIS_SENTINELS?: { host: string; port: number }[] | undefined;
  REDIS_SENTINEL_MASTER?: string | undefined;
  REDIS_SENTINEL_PASSWORD?: string | undefined;
  /** With Sentinel: the data nodes' password (with a URL, the URL carries it). */
  REDIS_PASSWORD?: string | undefined;
}

/**
 * ioredis's Sentinel connector, with the failover detector of a connection closed when that
 * connection's socket closes.
 *
 * ioredis 6.0.0 leaves a connection's detector (its subscriptions to `+switch-master` on the
 * sentinels) running after the socket to the master dies, e.g. when the master is killed. The
 * client then reconnects through the sentinels; if the failover's `+switch-master` arrives while
 * it is asking them for the master, the stale detector disconnects the connector in the middle of
 * that connect, and ioredis ends the client for good ("Connection is closed."): a status subscriber
 * or a blocking reader that never comes back. Seen here in about one failover test in six. Upstream
 * fixed this after 6.0.0 (redis/ioredis#1362, pull request #2198: cleanup tied to the stream's
 * close); this subclass does the same until a release has it. A connection that is up gets its own
 * detector on connect, as before.
 */
export class DetectorClosingSentinelConnector extends SentinelConnector {
  // ioredis constructs a `Connector` option with the client's options, typed `unknown`.
  constructor(options: unknown) {
    super(options as SentinelConnectionOptions);
  }

  override async connect(eventEmitter: Parameters<SentinelConnector['connect']>[0]): ReturnType<SentinelConnector['connect']> {
    const stream = await super.connect(eventEmitter);
    (stream as Socket).once('close', () => {
      // The detector of the stream that closed (a newer stream only connects after this close).
      (this as unknown as { failoverDetector?: { cleanup(): void } | null }).failoverDetector?.cleanup();
    });
    return stream;
  }
}

/**
 * The connection options every Redis client of the project uses, BullMQ's included:
 * - commands wait through a reconnect instead of failing after a few retries (BullMQ requires
 *   `maxRetriesPerRequest: null` on workers), and queue while offline, so a Redis restart or a
 *   failover delays work rather than losing it;
 * - with Sentinel, ioredis asks the sentinels for the master on every (re)connect, and drops its
 *   connection as soon as a sentinel announces `+switch-master` (failoverDetector) rather than
 *   waiting for the old master's socket to die;
 * - a READONLY answer (the node we talk to was demoted to a replica) reconnects and resends the
 *   command, which then reaches the new master.
 */
export function redisOptions(settings: RedisSettings, name: string): RedisOptions {
  const common: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    enableOfflineQueue: true,
    connectionName: name,
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
  };
  if (settings.REDIS_SENTINELS?.length) {
    return {
      ...common,
      sentinels: settings.REDIS_SENTINELS,
      name: settings.REDIS_SENTINEL_MASTER ?? 'mymaster',
      ...(settings.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: settings.REDIS_SENTINEL_PASSWORD } : {}),
      ...(settings.REDIS_PASSWORD ? { password: settings.REDIS_PASSWORD } : {}),
      failoverDetector: true,
      Connector: DetectorClosingSentinelConnector,
      // Sentinels that are down are retried quickly, and keep being retried (null would give up).
      sentinelRetryStrategy: (times) => Math.min(100 * times, 1_000),
    };
  }
  if (!settings.REDIS_URL) throw new Error('REDIS_URL or REDIS_SENTINELS is required');
  return common;
}

/**
 * The one Redis connection factory: every service, script and test connects through it, with a URL
 * or through Sentinel. BullMQ workers and the status subscriber `duplicate()` it, keeping the
 * same options, so they follow a failover too.
 */
export function connectRedis(settings: RedisSettings | string, name: string): Redis {
  const resolved: RedisSettings = typeof settings === 'string' ? { REDIS_URL: settings } : settings;
  const options = redisOptions(resolved, name);
  return resolved.REDIS_SENTINELS?.length ? new Redis(options) : new Redis(resolved.REDIS_URL ?? '', options);
}

/** Redis evicts keys under memory pressure: the deployment would silently lose upload records, claims and jobs. */
export class EvictionPolicyError extends Error {
  override readonly name = 'EvictionPolicyError';
  constructor(readonly policy: string | undefined) {
    super(
      policy === undefined
        ? 'could not read Redis maxmemory-policy (neither CONFIG GET nor INFO memory answered it); Reelboard needs maxmemory-policy noeviction'
        : `Redis maxmemory-policy is "${policy}": Reelboard needs maxmemory-policy noeviction (any other policy evicts upload records, payment claims and jobs under memory pressure); set it in redis.conf or your provider's parameter group`,
    );
  }
}

/**
 * Redis's eviction policy: CONFIG GET where allowed, else INFO memory's `maxmemory_policy`
 * (managed Redis often disables or renames CONFIG).
 */
export async function evictionPolicy(redis: Redis): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (reply[1]) return reply[1];
  } catch {
    // CONFIG disabled or not permitted: INFO below.
  }
  const info = await redis.info('memory');
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
}

/** Refuses to go on (throws, naming the setting) unless Redis never evicts keys. */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const policy = await evictionPolicy(redis);
  if (policy !== 'noeviction') throw new EvictionPolicyError(policy);
}

/** The Redis is a Redis Cluster node: not supported (docs/reliability.md says why; use Sentinel). */
export class ClusterNotSupportedError extends Error {
  override readonly name = 'ClusterNotSupportedError';
  constructor() {
    super(
      'Redis Cluster is not supported (cluster_enabled:1): the status script and the queues need their keys on one node; use one Redis, or Sentinel (REDIS_SENTINELS) for failover',
    );
  }
}

/** What a service checks before using a Redis: not a cluster node, and it never evicts keys. */
export async function assertUsableRedis(redis: Redis): Promise<void> {
  const cluster = await redis.info('cluster');
  if (/^cluster_enabled:1/m.test(cluster)) throw new ClusterNotSupportedError();
  await assertNoEviction(redis);
}
