import type { Bus, StageContext } from '@reelboard/bus';
import type { UploadReceived } from '@reelboard/contracts';
import type { PaymentLedger } from './payment-ledger.js';

/**
 * An upload now waits for its payment: list it under its owner so the block scan can match a
 * payment to it, and schedule its expiry at the quote's deadline.
 */
export async function handleUploadReceived(deps: { bus: Bus; ledger: PaymentLedger }, upload: UploadReceived, context: StageContext): Promise<void> {
  await deps.ledger.openUpload(upload.owner, upload.uploadId, upload.quote.expiresAt);
  const delayMs = Math.max(0, Date.parse(upload.quote.expiresAt) - Date.now());
  await deps.bus.publish('upload.expire', { uploadId: upload.uploadId }, { delayMs });
  context.log.info('awaiting payment', { amount: upload.quote.amount, token: upload.quote.token, to: upload.quote.to, expiresAt: upload.quote.expiresAt });
}
