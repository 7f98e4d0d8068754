import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PermanentError, type StageContext } from '@reelboard/bus';
import { stagedSpeculativePaths, type UploadReceived, type UploadState } from '@reelboard/contracts';
import { isMediaError, type MediaAdapter } from '@reelboard/media';
import { encodeSeconds, mediaBytes } from '@reelboard/runtime';
import { type ObjectStorage, speculativeKeys } from '@reelboard/storage';
import type { TranscoderConfig } from './config.js';
import { cutPreviewFromSource, type PreviewSettings } from './cut-preview.js';
import { assertWithinLimits, type TranscodeSettings } from './handle-payment-confirmed.js';
import { readSpeculativeCut, writeSpeculativeCut } from './speculative-cut.js';
import { encodeSpeculativeRung, type SpeculativeRungOutcome, type SpeculativeRungSettings } from './speculative-rung.js';

export type SpeculativeSettings = PreviewSettings &
  Pick<TranscodeSettings, 'MAX_DURATION_SECONDS' | 'MAX_SOURCE_SIDE'> &
  SpeculativeRungSettings &
  // Optional so settings built before the speculative rung (the preview's own tests) cut the preview only.
  Partial<Pick<TranscoderConfig, 'STREAM_LADDER' | 'SPECULATIVE_RUNG'>>;

export interface PreviewSpeculativeDeps {
  media: MediaAdapter;
  storage: ObjectStorage;
  /** The upload's lifecycle state now (the cut runs only while it is awaiting payment). */
  stateOf: (uploadId: string) => Promise<UploadState | undefined>;
  /** How often a running cut looks whether the payment confirmed (then it stops: the paid path cuts). */
  pollMs?: number;
}

/** What one speculative job did (kept as the job's value, for bull-board and the tests). */
export type PreviewSpeculativeOutcome = (
  | { outcome: 'stored'; wallSeconds: number; bytes: number }
  | { outcome: 'already-stored' }
  | { outcome: 'skipped'; state: UploadState | 'unknown' }
  | { outcome: 'stopped-paid' }
  | { outcome: 'refused'; reason: string }
) & {
  /** The lowest rung, encoded after the preview while the upload still awaits payment (SPECULATIVE_RUNG). */
  rung?: SpeculativeRungOutcome;
};

/**
 * The preview and poster, then, when SPECULATIVE_RUNG is on, the ladder's lowest rung, all while
 * the person pays and in this one job: both share the job's SPECULATIVE_CONCURRENCY slot, so the
 * speculation never takes more of a replica than that setting, and the preview (what makes the
 * listing playable first) is always done before the rung starts.
 *
 * A rung still encoding when the payment confirms is stopped (its ffmpeg killed), never awaited: a
 * paid slot must not wait for unpaid work, and stopping it frees the CPU the paid encode needs at
 * once. What it finished is not lost: the paid path's lowest-rung jobs take every whole chunk (and
 * the audio) it wrote for the same plan and encode only the rest (take-speculative-part.ts).
 */
export async function handlePreviewSpeculative(
  deps: PreviewSpeculativeDeps,
  settings: SpeculativeSettings,
  upload: UploadReceived,
  context: StageContext,
): Promise<PreviewSpeculativeOutcome> {
  const preview = await cutSpeculativePreview(deps, settings, upload, context);
  const ready = preview.outcome === 'stored' || preview.outcome === 'already-stored';
  if (!ready || settings.SPECULATIVE_RUNG !== true || settings.STREAM_LADDER !== true) return preview;
  const state = await deps.stateOf(upload.uploadId);
  if (state !== 'awaiting_payment') return preview;

  const input = join(settings.STAGING_DIR, upload.staged.source);
  const paid = watchUntilPaid(deps, upload.uploadId, context);
  try {
    const source = await deps.media.probe(input);
    assertWithinLimits(source, settings, input);
    const rung = await encodeSpeculativeRung(deps, settings, upload.uploadId, input, source, paid.signal, context.log);
    return { ...preview, rung };
  } catch (error) {
    if (context.signal?.aborted) throw error;
    if (paid.signal.aborted) {
      context.log.info('speculative lowest rung abandoned: the upload left awaiting_payment, the paid path encodes it');
      return { ...preview, rung: { outcome: 'stopped-paid' } };
    }
    throw error;
  } finally {
    paid.stop();
  }
}

/** An abort signal raised when the upload leaves awaiting_payment (or the replica shuts down). */
function watchUntilPaid(deps: PreviewSpeculativeDeps, uploadId: string, context: StageContext): { signal: AbortSignal; stop: () => void } {
  const paid = new AbortController();
  const stopOnShutdown = () => paid.abort();
  context.signal?.addEventListener('abort', stopOnShutdown);
  const watcher = setInterval(() => {
    deps.stateOf(uploadId).then(
      (now) => {
        if (now !== 'awaiting_payment') paid.abort();
      },
      (error: unknown) => context.log.warn('upload state not read; the speculative work goes on', { error: String(error) }),
    );
  }, deps.pollMs ?? 250);
  return {
    signal: paid.signal,
    stop: () => {
      clearInterval(watcher);
      context.signal?.removeEventListener('abort', stopOnShutdown);
    },
  };
}

/**
 * Cuts the preview and poster while the person is still paying, into the upload's speculative
 * staging folder, and stores both under private keys; the record it writes last tells the paid path
 * (handlePaymentConfirmed) to publish them by copy instead of cutting. Runs only while the upload
 * awaits payment, and stops its ffmpeg as soon as that ends (paid: the paid path cuts it itself;
 * expired: nobody needs it). A source the paid path would refuse is left alone: that refusal is the
 * paid path's to report, with a reason, once someone paid.
 */
async function cutSpeculativePreview(
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

  const paid = watchUntilPaid(deps, uploadId, context);

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
    paid.stop();
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
