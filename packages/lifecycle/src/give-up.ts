import type { Bus, GiveUpHandler } from '@reelboard/bus';
import { channels } from '@reelboard/contracts';
import { publicErrorText } from '@reelboard/logger';
import type { Uploads } from './uploads.js';

/**
 * Carries out each channel's `giveUp` policy (packages/contracts/src/channels.ts) when a stage gives
 * up on a job for good, whether its handler failed or its workers kept dying (the stalled checker).
 */
export function giveUpByPolicy(uploads: Uploads, bus: Bus, service: string): GiveUpHandler {
  return async (channel, payload, error, context) => {
    const data = (payload ?? {}) as { uploadId?: string; txHash?: string };
    // The reason is shown to the owner and kept in the ledger: the error's text without secrets.
    const reason = publicErrorText(error);
    const policy = channels[channel].giveUp;
    if (policy === 'log-only') {
      context.log.warn('stage gave up; nothing depends on it', { channel, error: error.message });
      return;
    }
    if (policy === 'keep-for-operator' || !data.uploadId) {
      context.log.error('stage gave up; the job stays in the failed set for an operator', { channel, error: error.message });
      return;
    }
    if (policy === 'drop-hint') {
      await uploads.unfollowHint(data.uploadId, data.txHash ?? '');
      await context.status('payment.rejected', {
        reason: `transaction ${data.txHash} could not be checked (${reason}); the deposit address is still watched`,
        code: 'unverifiable',
      });
      return;
    }
    if (channel !== 'upload.failed') {
      await bus.publish('upload.failed', { uploadId: data.uploadId, stage: service, reason, upload: data as Record<string, unknown> });
    }
    await uploads.transition(data.uploadId, 'fail', { stage: service, reason: `${service}: ${reason}` });
  };
}
