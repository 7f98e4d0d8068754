import { connectBus, type Bus, type BusSettings } from '@reelboard/bus';
import type { Logger } from '@reelboard/logger';
import type { Redis } from 'ioredis';
import { giveUpByPolicy } from './give-up.js';
import { Uploads } from './uploads.js';

export * from './transitions.js';
export * from './uploads.js';
export * from './give-up.js';
export * from './failed-uploads.js';

/** A service's Redis connection, bus and upload lifecycle, with the channels' give-up policies wired. */
export function connectPipeline(config: BusSettings, service: string, log: Logger): { redis: Redis; bus: Bus; uploads: Uploads } {
  const { redis, bus } = connectBus(config, service, log);
  const uploads = new Uploads(redis, config.REDIS_PREFIX, bus.status);
  bus.onGiveUp(giveUpByPolicy(uploads, bus, service));
  return { redis, bus, uploads };
}
