import type { Redis } from 'ioredis';

/** Keys BullMQ keeps per queue (`<prefix>:<queue>:<suffix>`); no other key under a deployment's prefix ends so with three parts. */
const QUEUE_KEY_SUFFIXES = new Set([
  'meta',
  'events',
  'wait',
  'paused',
  'delayed',
  'prioritized',
  'active',
  'completed',
  'failed',
  'stalled-check',
  'marker',
  'repeat',
  'id',
]);

/** The names of the BullMQ queues that exist in Redis under `prefix`, whoever created them. */
export async function bullmqQueueNames(redis: Redis, prefix: string): Promise<string[]> {
  const names = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const parts = key.slice(prefix.length + 1).split(':');
      if (parts.length === 2 && QUEUE_KEY_SUFFIXES.has(parts[1]!)) names.add(parts[0]!);
    }
  } while (cursor !== '0');
  return [...names].sort();
}
