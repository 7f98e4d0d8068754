import { join } from 'node:path';
import type { StageContext } from '@reelboard/bus';
import type { RenditionStore } from '@reelboard/contracts';
import { mediaBytes } from '@reelboard/runtime';
import { dashKeys, type ObjectStorage } from '@reelboard/storage';

/**
 * The manifest is the one DASH object rewritten while rungs join (each rung's manifest lists one
 * more): a player or CDN may keep it a minute at most. Every other DASH object never changes once
 * written and keeps the long, immutable default.
 */
export const MANIFEST_CACHE_CONTROL = 'public, max-age=60';

/** What a rung's store returns (the job's value, read by the parent). */
export interface RenditionStoreOutcome {
  rung: number;
  manifestKey: string;
  bytes: number;
}

/**
 * Puts a joined rung (and, with the lowest, the audio) under the listing's DASH folder, then the
 * manifest that lists it and every rung below: the rung files first, so the manifest never names a
 * file that is not there yet. The ladder's flow runs the stores one after the other, lowest first,
 * so the stored manifest only ever grows. Announces the rung (`rendition.ready`): from the lowest
 * one on, the full video plays.
 */
export async function handleRenditionStore(
  storage: ObjectStorage,
  stagingDir: string,
  job: RenditionStore,
  context: StageContext,
): Promise<RenditionStoreOutcome> {
  const keys = dashKeys(job.uploadId);
  const staged = (path: string) => join(stagingDir, path);
  const { copy } = job;
  // Encoded while the person paid and stored privately then: a copy inside S3, no bytes through here.
  const files = await Promise.all(
    copy
      ? [storage.copy(copy.video, keys.rung(job.rung.name), 'video/webm'), ...(copy.audio ? [storage.copy(copy.audio, keys.audio, 'audio/webm')] : [])]
      : [
          storage.putFile(keys.rung(job.rung.name), staged(job.video), 'video/webm'),
          ...(job.audio ? [storage.putFile(keys.audio, staged(job.audio), 'audio/webm')] : []),
        ],
  );
  const manifest = await storage.putFile(keys.manifest, staged(job.manifest), 'application/dash+xml', MANIFEST_CACHE_CONTROL);
  const bytes = [...files, manifest].reduce((sum, object) => sum + object.bytes, 0);
  mediaBytes.inc({ stage: 'uploader', direction: 'out' }, copy ? manifest.bytes : bytes);
  context.log.info('rendition stored', {
    rung: job.rung.name,
    copied: copy !== undefined,
    objects: [...files, manifest].map(({ key, bytes }) => ({ key, bytes })),
  });
  await context.status('rendition.ready', {
    code: 'rendition.ready',
    message: `${job.rung.name}p is playable`,
    rendition: { height: job.rung.name, manifest: keys.manifest },
  });
  return { rung: job.rung.name, manifestKey: keys.manifest, bytes };
}
