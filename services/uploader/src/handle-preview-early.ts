import { join } from 'node:path';
import type { StageContext } from '@reelboard/bus';
import type { PreviewEarly } from '@reelboard/contracts';
import { mediaBytes } from '@reelboard/runtime';
import { listingKeys, type ObjectStorage } from '@reelboard/storage';

/**
 * Puts the preview and poster the transcoder cut from the source under their final keys while the
 * full transcode runs, then announces them (`preview.ready`) so the owner's status page shows them.
 * An optimisation only: `assets.stored` puts the same keys again, so nothing depends on this.
 */
export async function handlePreviewEarly(storage: ObjectStorage, stagingDir: string, upload: PreviewEarly, context: StageContext): Promise<void> {
  const keys = listingKeys(upload.uploadId);
  const stored = await Promise.all([
    storage.putFile(keys.preview, join(stagingDir, upload.preview.path), 'video/webm'),
    storage.putFile(keys.poster, join(stagingDir, upload.poster.path), 'image/webp'),
  ]);
  context.log.info('preview and poster stored early', { objects: stored.map(({ key, bytes }) => ({ key, bytes })) });
  mediaBytes.inc(
    { stage: 'uploader', direction: 'out' },
    stored.reduce((sum, object) => sum + object.bytes, 0),
  );
  await context.status('preview.ready', { message: 'preview and poster are playable' });
}
