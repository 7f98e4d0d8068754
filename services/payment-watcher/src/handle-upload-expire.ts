import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RetryLaterError, type Bus, type StageContext } from '@reelboard/bus';
import type { UploadExpire } from '@reelboard/contracts';
import { EXPIRED_CLAIM, type PaymentLedger } from './payment-ledger.js';

export interface UploadExpireDeps {
  bus: Bus;
  ledger: PaymentLedger;
  stagingDir: string;
  pollIntervalMs: number;
  /** The longest an expiry waits past the quote's deadline for payments in flight and the block scan. */
  maxDelayMs: number;
}

/**
 * Why an upload whose quote ran out cannot expire yet: a payment mined in time may still be
 * confirming, or the block scan has not yet read the chain as it stood at the deadline.
 */
async function reasonToWait(deps: UploadExpireDeps, uploadId: string, expiresAt: number): Promise<string | undefined> {
  if ((await deps.ledger.inFlightCount(uploadId)) > 0) return 'a payment is still being verified';
  const cursor = await deps.ledger.scanCursor();
  if (!cursor || cursor.headReadAt < expiresAt) return 'the block scan has not reached the deadline yet';
  return undefined;
}

/**
 * At the quote's deadline an unpaid upload expires and its staged files are removed. It waits
 * (up to `maxDelayMs`) while a payment may still prove it was paid in time: such an upload
 * proceeds rather than being expired and refunded.
 */
export async function handleUploadExpire(deps: UploadExpireDeps, { uploadId }: UploadExpire, context: StageContext): Promise<void> {
  const upload = await deps.bus.status.getUpload(uploadId);
  const expiresAt = upload ? Date.parse(upload.quote.expiresAt) : 0;
  const claim = await deps.ledger.paidBy(uploadId);
  if (claim === undefined && Date.now() < expiresAt + deps.maxDelayMs) {
    const wait = await reasonToWait(deps, uploadId, expiresAt);
    if (wait) {
      context.log.info('expiry waits', { reason: wait });
      throw new RetryLaterError(deps.pollIntervalMs, wait);
    }
  }
  // Claiming the upload as "expired" is atomic with a payment claiming it as paid: one wins.
  if (!(await deps.ledger.markPaid(uploadId, EXPIRED_CLAIM))) {
    context.log.info('upload was paid; not expiring');
    return;
  }
  await rm(join(deps.stagingDir, uploadId), { recursive: true, force: true });
  await context.status('expired', 'expired', { reason: 'not paid before the quote expired' });
  context.log.info('upload expired');
}
