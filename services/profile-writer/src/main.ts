import { connectDatabase, migrateToLatest } from '@reelboard/db';
import { connectPipeline } from '@reelboard/lifecycle';
import { runService } from '@reelboard/runtime';
import { loadProfileWriterConfig } from './config.js';
import { handleAssetsStored } from './handle-assets-stored.js';
import { handlePaymentCredited } from './handle-payment-credited.js';
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
    const { redis, bus, uploads } = await connectPipeline(config, 'profile-writer', log);
    bus.consume('assets.stored', (upload, context) => handleAssetsStored({ db, uploads, stagingDir: config.STAGING_DIR }, upload, context), {
      concurrency: config.WRITE_CONCURRENCY,
    });
    // Ledger writes: the channel table's give-up policy keeps a job that failed for good for an operator.
    bus.consume('payment.credited', (credit, context) => handlePaymentCredited({ db, uploads }, credit, context), { concurrency: config.WRITE_CONCURRENCY });
    // Recording a failure that failed for good stays in the failed set (bull-board) for an operator (the channel's give-up policy).
    bus.consume('upload.failed', (failure, context) => handleUploadFailed(db, failure, context), { concurrency: config.WRITE_CONCURRENCY });
    return {
      readiness: { redis: async () => void (await redis.ping()), postgres: async () => void (await db.raw('select 1')) },
      closers: [() => bus.close(config.SHUTDOWN_GRACE_MS), async () => void (await redis.quit()), () => db.destroy()],
    };
  },
});
