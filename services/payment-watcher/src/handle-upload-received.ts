import type { Bus, StageContext } from '@reelboard/bus';
import type { UploadReceived } from '@reelboard/contracts';

/** An upload now waits for its payment: schedule its expiry at the quote's deadline. */
export async function handleUploadReceived(bus: Bus, upload: UploadReceived, context: StageContext): Promise<void> {
  const delayMs = Math.max(0, Date.parse(upload.quote.expiresAt) - Date.now());
  await bus.publish('upload.expire', { uploadId: upload.uploadId }, { delayMs });
  context.log.info('awaiting payment', { amount: upload.quote.amount, to: upload.quote.to, expiresAt: upload.quote.expiresAt });
}
