import { Redis } from 'ioredis';

/**
 * A Redis connection as BullMQ needs it: commands wait through a reconnect instead of failing
 * after a few retries, so a Redis restart delays work rather than losing it.
 */
export function connectRedis(url: string, name: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName: name });
}
