import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StageContext } from '@reelboard/bus';
import type { AssetsStored } from '@reelboard/contracts';
import { type Knex, saveListing } from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';

/**
 * The last stage: user (by the verified wallet), listing and hashtags in one transaction, which also
 * ties the ledger's credits for the upload's quote to the listing; then the staged files go, as the
 * database now holds the object keys; the upload moves to `saved`.
 */
export async function handleAssetsStored(
  { db, uploads, stagingDir }: { db: Knex; uploads: Uploads; stagingDir: string },
  upload: AssetsStored,
  context: StageContext,
): Promise<void> {
  const { form, objects, video } = upload;
  const { created, userId } = await saveListing(db, {
    listingId: upload.uploadId,
    owner: { walletAddress: upload.owner, displayName: form.displayName, contact: form.contact, logoKey: objects.logo },
    listing: {
      title: form.title,
      description: form.description,
      videoKey: objects.video,
      previewKey: objects.preview,
      posterKey: objects.poster,
      logoKey: objects.logo,
      storyboardKey: objects.storyboard,
      durationSeconds: video.durationSeconds,
      width: video.width,
      height: video.height,
      videoBytes: video.bytes,
      sourceBytes: upload.staged.sourceBytes,
      latitude: form.latitude,
      longitude: form.longitude,
      price: form.price,
      language: form.language,
      // The DASH ladder, already stored rung by rung; absent for a single-rendition encode.
      ...(upload.stream ? { manifestKey: upload.stream.manifestKey, renditions: upload.stream.renditions } : {}),
    },
    hashtags: form.hashtags,
  });
  context.log.info(created ? 'listing saved' : 'listing already saved', { userId, hashtags: form.hashtags.length });
  await rm(join(stagingDir, upload.uploadId), { recursive: true, force: true });
  await uploads.transition(upload.uploadId, 'save', { stage: 'profile-writer', message: 'listing saved; waiting for moderation' });
}
