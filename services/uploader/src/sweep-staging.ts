import { lstat, readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Uploads } from '@reelboard/lifecycle';

/** What one sweep did. */
export interface SweepResult {
  files: number;
  bytes: number;
  /** Upload directories left alone because their upload is still in flight. */
  inFlight: string[];
  /** Uploads whose staging directory this sweep removed (their objects outside the listing, too, may go). */
  uploadsRemoved: string[];
}

/** Whether an upload's staged files may go: it ended, its quote expired unpaid, or nothing knows it. */
export type UploadFinished = (uploadId: string, now: Date) => Promise<boolean>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads the upload's lifecycle state: saved, expired, refund_due and refunded uploads are over, and
 * so is one that failed before it was paid; so is one still awaiting payment after its quote
 * expired (its expiry job may be late), and one Redis no longer knows. A paid upload that failed
 * keeps its sources until it is retried to saved or refunded: an operator may still retry it.
 */
export function uploadFinishedFrom(uploads: Uploads): UploadFinished {
  return async (uploadId, now) => {
    const [state, upload, payment] = await Promise.all([uploads.state(uploadId), uploads.get(uploadId), uploads.payment(uploadId)]);
    if (!state && !upload) return true;
    if (state === 'saved' || state === 'expired' || state === 'refund_due' || state === 'refunded') return true;
    if (state === 'failed') return payment === undefined;
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
  const result: SweepResult = { files: 0, bytes: 0, inFlight: [], uploadsRemoved: [] };
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
    const removed = await removeOldFiles(join(stagingDir, entry), cutoffMs, result);
    if (removed && UUID.test(entry)) result.uploadsRemoved.push(entry.toLowerCase());
  }
  return result;
}
