import type { Bus } from '@reelboard/bus';
import type { UploadReceived } from '@reelboard/contracts';
import { recordQuote, type Knex } from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';

/**
 * Accepts a validated, staged upload: its quote goes to the Postgres ledger first (every deposit
 * address ever issued is known to reconciliation before anyone can pay it), then the upload is
 * registered (awaiting_payment, its first status event) and handed to the payment-watcher.
 */
export async function acceptUpload({ db, uploads, bus }: { db: Knex; uploads: Uploads; bus: Bus }, upload: UploadReceived): Promise<void> {
  const { quote } = upload;
  await recordQuote(db, {
    quoteId: upload.uploadId,
    uploadId: upload.uploadId,
    owner: upload.owner,
    chainId: quote.chainId,
    depositAddress: quote.to,
    token: quote.token,
    amount: quote.amount,
    createdAt: quote.createdAt,
    expiresAt: quote.expiresAt,
  });
  await uploads.register(upload, 'api-gateway');
  await bus.publish('upload.received', upload);
}
