import type { Job } from 'bullmq';
import type { Bus } from '@reelboard/bus';
import { type Channel, channels } from '@reelboard/contracts';
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
 * A chunked encode that failed has a failed chunk (or more) and the failed parent that joins them:
 * the chunks are retried first (BullMQ puts each back among its parent's pending children), then the
 * parent, which waits for them (see the bus's `waitForChildren`); finished chunks are not run again.
 */
export async function retryFailedUpload(bus: Bus, uploads: Uploads, uploadId: string): Promise<FailedUpload[]> {
  const found: Array<{ job: Job; failed: FailedUpload }> = [];
  for (const channel of stageChannels) {
    // Scans the failed set rather than guessing job ids: some channels key jobs by more than the upload.
    const candidates = await bus.queue(channel).getFailed();
    for (const job of candidates) {
      if (!job || (job.data as { uploadId?: string }).uploadId !== uploadId) continue;
      found.push({ job, failed: describe(channel, job) });
    }
  }
  if (found.length === 0) return [];
  // Children (jobs with a parent) before parents, so no parent runs while a child it needs is still failed.
  found.sort((a, b) => Number(!a.job.parentKey) - Number(!b.job.parentKey));
  const stages = [...new Set(found.map(({ failed }) => failed.stage))].join(', ');
  await uploads.transition(uploadId, 'retry', { stage: found[0]!.failed.stage, message: `retrying from ${stages}` });
  for (const { job } of found) await job.retry('failed');
  return found.map(({ failed }) => failed);
}
