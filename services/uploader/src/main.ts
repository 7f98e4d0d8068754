import { Bus, connectRedis } from '@reelboard/bus';
import { runService } from '@reelboard/runtime';
import { storageFromEnv } from '@reelboard/storage';
import { loadUploaderConfig } from './config.js';
import { handlePreviewExtracted } from './handle-preview-extracted.js';

await runService({
  name: 'uploader',
  loadConfig: () => loadUploaderConfig(),
  port: (config) => config.PORT,
  logLevel: (config) => config.LOG_LEVEL,
  graceMs: (config) => config.SHUTDOWN_GRACE_MS,
  start: async (config, log) => {
    const storage = storageFromEnv(config);
    await storage.checkBucket();
    const redis = connectRedis(config.REDIS_URL, 'uploader');
    const bus = new Bus(redis, config.REDIS_PREFIX, 'uploader', log);
    bus.consume('preview.extracted', (upload, context) => handlePreviewExtracted(storage, config.STAGING_DIR, upload, context), {
      concurrency: config.UPLOAD_CONCURRENCY,
    });
    return {
      readiness: { redis: async () => void (await redis.ping()), s3: () => storage.checkBucket() },
      closers: [() => bus.close(config.SHUTDOWN_GRACE_MS), async () => void (await redis.quit()), async () => storage.close()],
    };
  },
});
