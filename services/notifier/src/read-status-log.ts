import type { Redis } from 'ioredis';
import { type StatusEvent, statusEventSchema } from '@reelboard/contracts';
import { errorFields, type Logger } from '@reelboard/logger';

export interface ReadStatusLogParameters {
  /** A connection of its own: the blocking read holds it. */
  redis: Redis;
  /** The stream of state changes (StatusStore.logKey). */
  key: string;
  /** Consumer group shared by every notifier replica: each entry goes to one of them. */
  group: string;
  /** This replica's name in the group. */
  consumer: string;
  /** Turns one event into its notification jobs; must be idempotent (an entry can come twice after a crash). */
  handle: (event: StatusEvent) => Promise<void>;
  log: Logger;
  /** Entries another replica took and did not acknowledge for this long are taken over (it died). */
  claimIdleMs?: number;
  blockMs?: number;
}

export interface StatusLogReader {
  /** Stops after the read in progress (at most blockMs) and the entries in hand. */
  stop(): Promise<void>;
}

type StreamEntry = [id: string, fields: string[]];

/**
 * Follows the durable status log with a consumer group: at-least-once, shared between replicas,
 * resumed after a restart, and entries of a replica that died are claimed by another. An entry is
 * acknowledged only once its notification jobs exist.
 */
export async function readStatusLog(params: ReadStatusLogParameters): Promise<StatusLogReader> {
  const { redis, key, group, consumer, handle, log, claimIdleMs = 60_000, blockMs = 2_000 } = params;
  try {
    // `$`: a new deployment starts with events from now on, not with the whole retained log.
    await redis.xgroup('CREATE', key, group, '$', 'MKSTREAM');
  } catch (error) {
    if (!String(error).includes('BUSYGROUP')) throw error;
  }

  const handleEntries = async (entries: StreamEntry[]) => {
    for (const [id, fields] of entries) {
      const raw = fields[fields.indexOf('event') + 1];
      const parsed = statusEventSchema.safeParse(raw ? JSON.parse(raw) : undefined);
      if (!parsed.success) {
        log.error('status log entry is not a status event; skipped', { entryId: id });
      } else {
        // A failure leaves the entry unacknowledged: it is claimed again after claimIdleMs.
        await handle(parsed.data);
      }
      await redis.xack(key, group, id);
    }
  };

  let running = true;
  const loop = (async () => {
    let nextClaim = 0;
    while (running) {
      try {
        if (Date.now() >= nextClaim) {
          nextClaim = Date.now() + Math.min(claimIdleMs, 10_000);
          const claimed = (await redis.xautoclaim(key, group, consumer, claimIdleMs, '0', 'COUNT', 50)) as [string, StreamEntry[]];
          await handleEntries(claimed[1].filter((entry) => entry[1] !== null));
        }
        const read = (await redis.xreadgroup('GROUP', group, consumer, 'COUNT', 50, 'BLOCK', blockMs, 'STREAMS', key, '>')) as [string, StreamEntry[]][] | null;
        if (read) await handleEntries(read[0]?.[1] ?? []);
      } catch (error) {
        if (!running) break;
        log.error('reading the status log failed; retrying', errorFields(error));
        // A client ioredis ended for good (it does in a few races, e.g. a Sentinel failover
        // announced in the middle of a reconnect) is connected again; retrying on it never works.
        if (redis.status === 'end') redis.connect().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  })();

  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
