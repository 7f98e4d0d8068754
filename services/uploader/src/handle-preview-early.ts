import { join } from 'node:path';
import type { StageContext } from '@reelboard/bus';
import type { PreviewEarly } from '@reelboard/contracts';
import { mediaBytes } from '@reelboard/runtime';
import { listingKeys, type ObjectStorage } from '@reelboard/storage';

/**
 * Puts the preview and poster the transcoder cut from the source under their final keys while the
 * full transcode runs (or copies them from the private keys they were stored at while the person paid), then announces them (`preview.ready`) so the owner's status page shows them.
 * An optimisation only: `assets.stored` puts the same keys again, so nothing depends on this.
 */
export async function handlePreviewEarly(storage: ObjectStorage, stagingDir: string, upload: PreviewEarly, context: StageContext): Promise<void> {
  const keys = listingKeys(upload.uploadId);
  const { speculative } = upload;
  // Cut and stored privately while the person paid: published by a copy inside S3 (no bytes through here).
  const stored = await Promise.all(
    speculative
      ? [storage.copy(speculative.preview, keys.preview, 'video/webm'), storage.copy(speculative.poster, keys.poster, 'image/webp')]
      : [
          storage.putFile(keys.preview, join(stagingDir, upload.preview.path), 'video/webm'),
          storage.putFile(keys.poster, join(stagingDir, upload.poster.path), 'image/webp'),
        ],
  );
  context.log.info('preview and poster stored early', { objects: stored.map(({ key, bytes }) => ({ key, bytes })), copied: speculative !== undefined });
  if (!speculative)
    mediaBytes.inc(
      { stage: 'uploader', direction: 'out' },
      stored.reduce((sum, object) => sum + object.bytes, 0),
    );
  await context.status('preview.ready', { message: 'preview and poster are playable' });
}
