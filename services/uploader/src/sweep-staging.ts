import { lstat, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { StatusStore } from '@reelboard/bus';

/** What one sweep did. */
export interface SweepResult {
  files: number;
  bytes: number;
  /** Upload directories left alone because their upload is still in flight. */
  inFlight: string[];
}

/** Whether an upload's staged files may go: it ended, its quote expired unpaid, or nothing knows it. */
export type UploadFinished = (uploadId: string, now: Date) => Promise<boolean>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads the pipeline's own record of an upload in Redis: done, failed and expired uploads are
 * over; so is one still awaiting payment after its quote expired (its expiry job may be late);
 * an upload Redis no longer knows is over too. Anything else is in flight.
 */
export function uploadFinishedFrom(status: StatusStore): UploadFinished {
  return async (uploadId, now) => {
    const [latest, upload] = await Promise.all([status.latest(uploadId), status.getUpload(uploadId)]);
    if (!latest && !upload) return true;
    const state = latest?.state;
    if (state === 'done' || state === 'failed' || state === 'expired') return true;
    if ((state === undefined || state === 'awaiting_payment') && upload) return Date.parse(upload.quote.expiresAt) < now.getTime();
    return false;
  };
}

async function removeOldFiles(path: string, cutoffMs: number, result: SweepResult): Promise<boolean> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return true;
  if (info.isDirectory()) {
    let empty = true;
    const removedBefore = result.files;
    for (const entry of await readdir(path)) {
      if (!(await removeOldFiles(join(path, entry), cutoffMs, result))) empty = false;
    }
    // An empty directory goes once it is old, or once the sweep has emptied it.
    if (empty && (info.mtimeMs < cutoffMs || result.files > removedBefore)) {
      await rmdir(path).catch(() => undefined);
      return true;
    }
    return false;
  }
  if (info.mtimeMs >= cutoffMs) return false;
  await rm(path, { force: true });
  result.files += 1;
  result.bytes += info.size;
  return true;
}

/**
 * Removes staged files older than `maxAgeMs`, except in the directories of uploads still in
 * flight. Directories it empties, and empty ones older than the cut-off, go too.
 */
export async function sweepStaging(stagingDir: string, maxAgeMs: number, uploadFinished: UploadFinished, now = new Date()): Promise<SweepResult> {
  const result: SweepResult = { files: 0, bytes: 0, inFlight: [] };
  const cutoffMs = now.getTime() - maxAgeMs;
  const entries = await readdir(stagingDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  for (const entry of entries) {
    if (UUID.test(entry) && !(await uploadFinished(entry.toLowerCase(), now))) {
      result.inFlight.push(entry);
      continue;
    }
    await removeOldFiles(join(stagingDir, entry), cutoffMs, result);
  }
  return result;
}
