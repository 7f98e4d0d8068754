import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from '@reelboard/config';
import { stagedPosterSchema, stagedPreviewSchema, stagedSpeculativePaths } from '@reelboard/contracts';

/** What the speculative cut left for the paid path: both files staged and stored under private keys. */
export const speculativeCutSchema = z.object({
  preview: stagedPreviewSchema,
  poster: stagedPosterSchema,
  /** The private object keys both are stored at (never under the public listings/ prefix). */
  keys: z.object({ preview: z.string().min(1), poster: z.string().min(1) }),
  /** Wall seconds the cut took, and the bytes it stored: what the speculation cost. */
  wallSeconds: z.number().nonnegative(),
  cutAt: z.iso.datetime(),
});
export type SpeculativeCut = z.infer<typeof speculativeCutSchema>;

/**
 * The speculative cut of an upload, once it is whole (both files staged and stored); undefined while
 * it is missing or unfinished. The record is written last and renamed into place, so it never names
 * a file that is not there yet.
 */
export async function readSpeculativeCut(stagingDir: string, uploadId: string): Promise<SpeculativeCut | undefined> {
  const text = await readFile(join(stagingDir, stagedSpeculativePaths(uploadId).cut), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  const parsed = speculativeCutSchema.safeParse(JSON.parse(text));
  // A record of another shape (an older release's) is ignored: the paid path cuts as before.
  return parsed.success ? parsed.data : undefined;
}

/** Records a finished speculative cut (atomically: a reader sees the whole record or none). */
export async function writeSpeculativeCut(stagingDir: string, uploadId: string, cut: SpeculativeCut): Promise<void> {
  const path = join(stagingDir, stagedSpeculativePaths(uploadId).cut);
  await writeFile(`${path}.tmp`, JSON.stringify(cut));
  await rename(`${path}.tmp`, path);
}
