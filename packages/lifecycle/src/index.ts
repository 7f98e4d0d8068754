import type { Redis } from 'ioredis';
import { Bus, type BusSettings, connectBus, type JobTiming, type Retention } from '@reelboard/bus';
import type { ChannelPolicy, QueueName } from '@reelboard/contracts';
import type { Logger } from '@reelboard/logger';
import { giveUpByPolicy } from './give-up.js';
import { StatusStore } from './status-store.js';
import { Uploads } from './uploads.js';

export * from './announce-refund.js';
export * from './failed-uploads.js';
export * from './give-up.js';
export * from './status-store.js';
export * from './transitions.js';
export * from './uploads.js';

/** A bus whose status events go to the lifecycle's status store (what every service and tool uses). */
export type PipelineBus = Bus<StatusStore>;

/** A bus on `redis` with a status store under the same prefix and retention (arguments as Bus's, without the store). */
export function createBus(
  redis: Redis,
  prefix: string,
  service: string,
  log: Logger,
  policyOverrides: Partial<Record<QueueName, Partial<ChannelPolicy>>> = {},
  timing: JobTiming = {},
  retention: Retention = {},
): PipelineBus {
  return new Bus(redis, prefix, service, log, new StatusStore(redis, prefix, retention), policyOverrides, timing, retention);
}

/**
 * A service's Redis connection (URL or Sentinel; refused when Redis may evict keys), bus and upload
 * lifecycle, with the channels' give-up policies wired.
 */
export async function connectPipeline(config: BusSettings, service: string, log: Logger): Promise<{ redis: Redis; bus: PipelineBus; uploads: Uploads }> {
  const { redis, bus } = await connectBus(config, service, log, (connection, retention) => new StatusStore(connection, config.REDIS_PREFIX, retention));
  const uploads = new Uploads(redis, config.REDIS_PREFIX, bus.status, bus.retention.uploadSeconds);
  bus.onGiveUp(giveUpByPolicy(uploads, bus, service));
  return { redis, bus, uploads };
}
