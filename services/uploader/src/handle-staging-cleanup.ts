import type { StageHandler } from '@reelboard/bus';
import { type ObjectStorage, speculativeKeys, speculativeRungKeys } from '@reelboard/storage';
import { type SweepResult, sweepStaging, type UploadFinished } from './sweep-staging.js';

export interface CleanupSettings {
  stagingDir: string;
  maxAgeMs: number;
}

/**
 * The `staging.cleanup` consumer: one sweep of the staging directory. Its jobs come from the row's
 * job scheduler (Bus.schedule at CLEANUP_CRON), one per slot however many replicas run. An upload
 * whose staging goes loses the preview, poster and lowest rung stored privately while it awaited
 * payment too (never paid: nobody will see them; paid: the listing has its own copies).
 */
export function handleStagingCleanup(settings: CleanupSettings, uploadFinished: UploadFinished, storage: ObjectStorage): StageHandler<'staging.cleanup'> {
  return async (_run, context): Promise<SweepResult & { speculativeObjectsRemoved: number }> => {
    const result = await sweepStaging(settings.stagingDir, settings.maxAgeMs, uploadFinished);
    const keys = result.uploadsRemoved.flatMap((uploadId) => [...Object.values(speculativeKeys(uploadId)), ...Object.values(speculativeRungKeys(uploadId))]);
    // Deleting a key that never existed (no speculative cut) is not an error in S3.
    for (const key of keys) await storage.delete(key);
    context.log.info('staging cleaned', {
      filesRemoved: result.files,
      bytesRemoved: result.bytes,
      uploadsRemoved: result.uploadsRemoved.length,
      uploadsInFlight: result.inFlight.length,
    });
    return { ...result, speculativeObjectsRemoved: keys.length };
  };
}
