import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { errorFields, type Logger } from '@reelboard/logger';
import { sweepStaging, type UploadFinished } from './sweep-staging.js';

/** The maintenance queue; not a channel of the chain, so it lives with the one service that runs it. */
export const CLEANUP_QUEUE = 'staging.cleanup';
const SCHEDULER_ID = 'staging-cleanup-daily';

export interface CleanupSettings {
  stagingDir: string;
  maxAgeMs: number;
  /** Cron pattern, e.g. `0 0 * * *` for midnight. */
  cron: string;
  /** IANA time zone the cron pattern is read in. */
  timeZone: string;
}

/**
 * Schedules the staging sweep with a BullMQ job scheduler: every replica upserts the same
 * scheduler id, so there is one job per cron slot however many replicas run, and one of them
 * takes it. Returns what to close on shutdown.
 */
export async function scheduleCleanup(redis: Redis, prefix: string, settings: CleanupSettings, uploadFinished: UploadFinished, log: Logger) {
  const queue = new Queue(CLEANUP_QUEUE, { connection: redis, prefix });
  await queue.upsertJobScheduler(SCHEDULER_ID, { pattern: settings.cron, tz: settings.timeZone }, {
    name: 'sweep',
    opts: { attempts: 3, backoff: { type: 'exponential', delay: 60_000 }, removeOnComplete: { count: 30 }, removeOnFail: { count: 30 } },
  });
  const worker = new Worker(
    CLEANUP_QUEUE,
    async () => {
      const result = await sweepStaging(settings.stagingDir, settings.maxAgeMs, uploadFinished);
      log.info('staging cleaned', { filesRemoved: result.files, bytesRemoved: result.bytes, uploadsInFlight: result.inFlight.length });
      return result;
    },
    { connection: redis, prefix, concurrency: 1 },
  );
  worker.on('error', (error) => log.error('cleanup worker error', errorFields(error)));
  return { queue, worker, close: async () => void (await Promise.all([worker.close(), queue.close()])) };
}
