import type { Redis } from 'ioredis';
import { type Bus, type BusSettings, connectBus } from '@reelboard/bus';
import type { Logger } from '@reelboard/logger';
import { giveUpByPolicy } from './give-up.js';
import { Uploads } from './uploads.js';

export * from './failed-uploads.js';
export * from './give-up.js';
export * from './transitions.js';
export * from './uploads.js';

/**
 * A service's Redis connection (URL or Sentinel; refused when Redis may evict keys), bus and upload
 * lifecycle, with the channels' give-up policies wired.
 */
export async function connectPipeline(config: BusSettings, service: string, log: Logger): Promise<{ redis: Redis; bus: Bus; uploads: Uploads }> {
  const { redis, bus } = await connectBus(config, service, log);
  const uploads = new Uploads(redis, config.REDIS_PREFIX, bus.status, bus.retention.uploadSeconds);
  bus.onGiveUp(giveUpByPolicy(uploads, bus, service));
  return { redis, bus, uploads };
}
