import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PermanentError, type StageContext } from '@reelboard/bus';
import { stagedSpeculativePaths, type UploadReceived, type UploadState } from '@reelboard/contracts';
import { isMediaError, type MediaAdapter } from '@reelboard/media';
import { encodeSeconds, mediaBytes } from '@reelboard/runtime';
import { type ObjectStorage, speculativeKeys } from '@reelboard/storage';
import { cutPreviewFromSource, type PreviewSettings } from './cut-preview.js';
import { assertWithinLimits, type TranscodeSettings } from './handle-payment-confirmed.js';
import { readSpeculativeCut, writeSpeculativeCut } from './speculative-cut.js';

export type SpeculativeSettings = PreviewSettings & Pick<TranscodeSettings, 'MAX_DURATION_SECONDS' | 'MAX_SOURCE_SIDE'>;

export interface PreviewSpeculativeDeps {
  media: MediaAdapter;
  storage: ObjectStorage;
  /** The upload's lifecycle state now (the cut runs only while it is awaiting payment). */
  stateOf: (uploadId: string) => Promise<UploadState | undefined>;
  /** How often a running cut looks whether the payment confirmed (then it stops: the paid path cuts). */
  pollMs?: number;
}

/** What one speculative job did (kept as the job's value, for bull-board and the tests). */
export type PreviewSpeculativeOutcome =
  | { outcome: 'stored'; wallSeconds: number; bytes: number }
  | { outcome: 'already-stored' }
  | { outcome: 'skipped'; state: UploadState | 'unknown' }
  | { outcome: 'stopped-paid' }
  | { outcome: 'refused'; reason: string };

/**
 * Cuts the preview and poster while the person is still paying, into the upload's speculative
 * staging folder, and stores both under private keys; the record it writes last tells the paid path
 * (handlePaymentConfirmed) to publish them by copy instead of cutting. Runs only while the upload
 * awaits payment, and stops its ffmpeg as soon as that ends (paid: the paid path cuts it itself;
 * expired: nobody needs it). A source the paid path would refuse is left alone: that refusal is the
 * paid path's to report, with a reason, once someone paid.
 */
export async function handlePreviewSpeculative(
  deps: PreviewSpeculativeDeps,
  settings: SpeculativeSettings,
  upload: UploadReceived,
  context: StageContext,
): Promise<PreviewSpeculativeOutcome> {
  const { media, storage, stateOf } = deps;
  const { uploadId } = upload;
  if (await readSpeculativeCut(settings.STAGING_DIR, uploadId)) return { outcome: 'already-stored' };
  const state = await stateOf(uploadId);
  if (state !== 'awaiting_payment') {
    context.log.info('speculative preview skipped: the upload no longer awaits payment', { state: state ?? 'unknown' });
    return { outcome: 'skipped', state: state ?? 'unknown' };
  }

  const paid = new AbortController();
  const stopOnShutdown = () => paid.abort();
  context.signal?.addEventListener('abort', stopOnShutdown);
  const watcher = setInterval(() => {
    stateOf(uploadId).then(
      (now) => {
        if (now !== 'awaiting_payment') paid.abort();
      },
      (error: unknown) => context.log.warn('upload state not read; the speculative cut goes on', { error: String(error) }),
    );
  }, deps.pollMs ?? 250);

  const paths = stagedSpeculativePaths(uploadId);
  const input = join(settings.STAGING_DIR, upload.staged.source);
  let cut: Awaited<ReturnType<typeof cutPreviewFromSource>>;
  try {
    const source = await media.probe(input);
    assertWithinLimits(source, settings, input);
    await mkdir(join(settings.STAGING_DIR, paths.dir), { recursive: true });
    cut = await cutPreviewFromSource(media, settings, uploadId, input, source, paid.signal, paths);
  } catch (error) {
    if (context.signal?.aborted) throw error;
    if (paid.signal.aborted) {
      context.log.info('speculative preview stopped: the upload left awaiting_payment, the paid path cuts what it needs');
      return { outcome: 'stopped-paid' };
    }
    if ((isMediaError(error) && error.permanent) || error instanceof PermanentError) {
      const reason = (error as Error).message;
      context.log.info('speculative preview not cut: the paid path will refuse this source', { reason });
      return { outcome: 'refused', reason };
    }
    throw error;
  } finally {
    clearInterval(watcher);
    context.signal?.removeEventListener('abort', stopOnShutdown);
  }

  const keys = speculativeKeys(uploadId);
  const stored = await Promise.all([
    storage.putFile(keys.preview, join(settings.STAGING_DIR, cut.preview.path), 'video/webm'),
    storage.putFile(keys.poster, join(settings.STAGING_DIR, cut.poster.path), 'image/webp'),
  ]);
  const bytes = stored.reduce((sum, object) => sum + object.bytes, 0);
  await writeSpeculativeCut(settings.STAGING_DIR, uploadId, {
    preview: cut.preview,
    poster: cut.poster,
    keys,
    wallSeconds: cut.wallSeconds,
    cutAt: new Date().toISOString(),
  });
  if (!cut.reused) encodeSeconds.observe({ stage: 'transcoder', kind: 'speculative-preview' }, cut.wallSeconds);
  mediaBytes.inc({ stage: 'transcoder', direction: 'out' }, bytes);
  context.log.info('speculative preview and poster stored privately', { wallSeconds: Number(cut.wallSeconds.toFixed(2)), bytes, keys });
  return { outcome: 'stored', wallSeconds: cut.wallSeconds, bytes };
}
