import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bus, StageContext } from '@reelboard/bus';
import type { UploadExpire } from '@reelboard/contracts';
import type { PaymentLedger } from './payment-ledger.js';

/** At the quote's deadline an unpaid upload expires and its staged files are removed. */
export async function handleUploadExpire(
  deps: { bus: Bus; ledger: PaymentLedger; stagingDir: string },
  { uploadId }: UploadExpire,
  context: StageContext,
): Promise<void> {
  // Claiming the upload as "expired" is atomic with a payment claiming it as paid: one wins.
  if (!(await deps.ledger.markPaid(uploadId, 'expired'))) {
    context.log.info('upload was paid; not expiring');
    return;
  }
  await rm(join(deps.stagingDir, uploadId), { recursive: true, force: true });
  await context.status('expired', 'expired', { reason: 'not paid before the quote expired' });
  context.log.info('upload expired');
}
