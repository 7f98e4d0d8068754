import type { StageHandler } from '@reelboard/bus';
import { type SweepResult, sweepStaging, type UploadFinished } from './sweep-staging.js';

export interface CleanupSettings {
  stagingDir: string;
  maxAgeMs: number;
}

/**
 * The `staging.cleanup` consumer: one sweep of the staging directory. Its jobs come from the row's
 * job scheduler (Bus.schedule at CLEANUP_CRON), one per slot however many replicas run.
 */
export function handleStagingCleanup(settings: CleanupSettings, uploadFinished: UploadFinished): StageHandler<'staging.cleanup'> {
  return async (_run, context): Promise<SweepResult> => {
    const result = await sweepStaging(settings.stagingDir, settings.maxAgeMs, uploadFinished);
    context.log.info('staging cleaned', { filesRemoved: result.files, bytesRemoved: result.bytes, uploadsInFlight: result.inFlight.length });
    return result;
  };
}
