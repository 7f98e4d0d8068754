import { join } from 'node:path';
import type { StageContext } from '@reelboard/bus';
import type { PreviewExtracted } from '@reelboard/contracts';
import { mediaBytes } from '@reelboard/runtime';
import { listingKeys, type ObjectStorage, speculativeKeys, storyboardKeys } from '@reelboard/storage';

/**
 * Puts the video, preview, poster and logo in object storage under keys derived from the upload
 * id, so a retry overwrites rather than duplicates. Staged files stay until the listing is saved.
 */
export async function handlePreviewExtracted(storage: ObjectStorage, stagingDir: string, upload: PreviewExtracted, context: StageContext): Promise<void> {
  const keys = listingKeys(upload.uploadId);
  const staged = (path: string) => join(stagingDir, path);
  const stored = await Promise.all([
    storage.putFile(keys.video, staged(upload.video.path), 'video/webm'),
    storage.putFile(keys.preview, staged(upload.preview.path), 'video/webm'),
    storage.putFile(keys.poster, staged(upload.poster.path), 'image/webp'),
    ...(upload.staged.logo ? [storage.putFile(keys.logo, staged(upload.staged.logo), 'image/webp')] : []),
    ...storyboardFiles(upload).map(({ key, path, contentType }) => storage.putFile(key, staged(path), contentType)),
  ]);
  // The preview cut while the person paid is the listing's now: its private copies have served.
  await Promise.all(Object.values(speculativeKeys(upload.uploadId)).map((key) => storage.delete(key)));
  context.log.info('assets stored', { objects: stored.map(({ key, bytes }) => ({ key, bytes })) });
  mediaBytes.inc(
    { stage: 'uploader', direction: 'out' },
    stored.reduce((sum, object) => sum + object.bytes, 0),
  );
  await context.emit('assets.stored', {
    ...upload,
    objects: {
      video: keys.video,
      preview: keys.preview,
      poster: keys.poster,
      ...(upload.staged.logo ? { logo: keys.logo } : {}),
      ...(upload.storyboard ? { storyboard: storyboardKeys(upload.uploadId).vtt } : {}),
    },
  });
}

/** The storyboard's files with their keys beside the listing's other objects (names kept: the index names the sprites). */
function storyboardFiles(upload: PreviewExtracted): Array<{ key: string; path: string; contentType: string }> {
  if (!upload.storyboard) return [];
  const keys = storyboardKeys(upload.uploadId);
  const { dir, files } = upload.storyboard;
  return files.map((name) => ({ key: keys.file(name), path: `${dir}/${name}`, contentType: name.endsWith('.vtt') ? 'text/vtt' : 'image/jpeg' }));
}
