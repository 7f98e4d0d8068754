import { connectPipeline } from '@reelboard/lifecycle';
import { connectDatabase, migrateToLatest } from '@reelboard/db';
import { runService } from '@reelboard/runtime';
import { loadProfileWriterConfig } from './config.js';
import { handleAssetsStored } from './handle-assets-stored.js';
import { handlePaymentRecorded } from './handle-payment-recorded.js';
import { handleUploadFailed } from './handle-upload-failed.js';

await runService({
  name: 'profile-writer',
  loadConfig: () => loadProfileWriterConfig(),
  start: async (config, log) => {
    const db = connectDatabase(config.DATABASE_URL, { min: 0, max: config.DATABASE_POOL_MAX });
    if (config.MIGRATE_ON_START) {
      const applied = await migrateToLatest(db);
      if (applied.length > 0) log.info('migrated', { applied });
    }
    const { redis, bus, uploads } = connectPipeline(config, 'profile-writer', log);
    bus.consume(
      'assets.stored',
      async (upload, context) => {
        await handleAssetsStored(db, config.STAGING_DIR, upload, context);
        await uploads.transition(upload.uploadId, 'save', { stage: 'profile-writer', message: 'listing saved; waiting for moderation' });
      },
      {
      concurrency: config.WRITE_CONCURRENCY,
    });
    bus.consume('payment.recorded', (recorded, context) => handlePaymentRecorded(db, recorded, context), {
      concurrency: config.WRITE_CONCURRENCY,
      onGiveUp: async (_payload, error, context) => {
        context.log.error('could not record payment for refund', { error: error.message });
      },
    });
    bus.consume('upload.failed', (failure, context) => handleUploadFailed(db, failure, context), {
      concurrency: config.WRITE_CONCURRENCY,
      // Recording the failure failed for good: the job stays in the failed set (bull-board) for an operator.
      onGiveUp: async (_payload, error, context) => {
        context.log.error('could not record failed upload', { error: error.message });
      },
    });
    return {
      readiness: { redis: async () => void (await redis.ping()), postgres: async () => void (await db.raw('select 1')) },
      closers: [() => bus.close(config.SHUTDOWN_GRACE_MS), async () => void (await redis.quit()), () => db.destroy()],
    };
  },
});
