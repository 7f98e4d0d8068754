import type { Job } from 'bullmq';
import { channels, type Channel } from '@reelboard/contracts';
import type { Bus } from '@reelboard/bus';
import type { Uploads } from './uploads.js';

/** An upload a stage gave up on, as an operator sees it. */
export interface FailedUpload {
  uploadId: string;
  /** The channel whose stage failed; retrying runs that stage again with the same input. */
  channel: Channel;
  stage: string;
  reason: string;
  failedAt: string;
  attempts: number;
  /** True when the upload had been paid: it is also recorded `unfulfilled` in Postgres. */
  paid: boolean;
}

/** Channels whose failures are uploads that stopped; `upload.failed` is the record of them, not one. */
const stageChannels = (Object.keys(channels) as Channel[]).filter((channel) => channel !== 'upload.failed');

function describe(channel: Channel, job: Job): FailedUpload {
  const data = job.data as { uploadId?: string; payment?: unknown };
  return {
    uploadId: String(data.uploadId),
    channel,
    stage: channels[channel].consumer,
    reason: job.failedReason,
    failedAt: new Date(job.finishedOn ?? job.timestamp).toISOString(),
    attempts: job.attemptsMade,
    paid: data.payment !== undefined,
  };
}

/** Uploads whose stages gave up for good, newest first (from each channel's failed set). */
export async function listFailedUploads(bus: Bus, limit = 100): Promise<FailedUpload[]> {
  const found: FailedUpload[] = [];
  for (const channel of stageChannels) {
    const jobs = await bus.queue(channel).getFailed(0, limit - 1);
    found.push(...jobs.filter((job): job is Job => !!job).map((job) => describe(channel, job)));
  }
  return found.sort((a, b) => b.failedAt.localeCompare(a.failedAt)).slice(0, limit);
}

/**
 * Runs the failed stage of an upload again, with the input it failed on, and lets the upload's
 * status move again. The rest of the chain follows as usual. Returns what was retried.
 */
export async function retryFailedUpload(bus: Bus, uploads: Uploads, uploadId: string): Promise<FailedUpload[]> {
  const retried: FailedUpload[] = [];
  for (const channel of stageChannels) {
    // Scans the failed set rather than guessing job ids: some channels key jobs by more than the upload.
    const candidates = await bus.queue(channel).getFailed();
    for (const job of candidates) {
      if (!job || (job.data as { uploadId?: string }).uploadId !== uploadId) continue;
      const failed = describe(channel, job);
      await uploads.transition(uploadId, 'retry', { stage: failed.stage, message: `retrying from ${failed.stage}` });
      await job.retry('failed');
      retried.push(failed);
    }
  }
  return retried;
}
