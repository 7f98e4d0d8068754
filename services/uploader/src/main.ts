import { connectPipeline } from '@reelboard/lifecycle';
import { runService, watchStagingSpace } from '@reelboard/runtime';
import { storageFromEnv } from '@reelboard/storage';
import { loadUploaderConfig } from './config.js';
import { handlePreviewEarly } from './handle-preview-early.js';
import { handlePreviewExtracted } from './handle-preview-extracted.js';
import { handleRenditionStore } from './handle-rendition-store.js';
import { handleStagingCleanup } from './handle-staging-cleanup.js';
import { uploadFinishedFrom } from './sweep-staging.js';

await runService({
  name: 'uploader',
  loadConfig: () => loadUploaderConfig(),
  start: async (config, log) => {
    const storage = storageFromEnv(config);
    await storage.checkBucket();
    watchStagingSpace(config.STAGING_DIR);
    const { redis, bus, uploads } = await connectPipeline(config, 'uploader', log);
    bus.consume('preview.extracted', (upload, context) => handlePreviewExtracted(storage, config.STAGING_DIR, upload, context), {
      concurrency: config.UPLOAD_CONCURRENCY,
    });
    bus.consume('preview.early', (upload, context) => handlePreviewEarly(storage, config.STAGING_DIR, upload, context), {
      concurrency: config.UPLOAD_CONCURRENCY,
    });
    bus.consume('rendition.store', (job, context) => handleRenditionStore(storage, config.STAGING_DIR, job, context), {
      concurrency: config.UPLOAD_CONCURRENCY,
    });
    await bus.schedule('staging.cleanup', { pattern: config.CLEANUP_CRON, tz: config.CLEANUP_TIME_ZONE });
    bus.consume(
      'staging.cleanup',
      handleStagingCleanup({ stagingDir: config.STAGING_DIR, maxAgeMs: config.STAGING_MAX_AGE_HOURS * 3600_000 }, uploadFinishedFrom(uploads), storage),
      { concurrency: 1 },
    );
    return {
      readiness: { redis: async () => void (await redis.ping()), s3: () => storage.checkBucket() },
      closers: [() => bus.close(config.SHUTDOWN_GRACE_MS), async () => void (await redis.quit()), async () => storage.close()],
    };
  },
});
