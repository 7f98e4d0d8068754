import type { Bus } from '@reelboard/bus';
import type { StatusEvent, UploadState } from '@reelboard/contracts';
import type { Uploads } from '@reelboard/lifecycle';

/** No upload of that id belongs to the caller: to anyone else an upload does not exist. */
export class UploadNotFoundError extends Error {
  override readonly name = 'UploadNotFoundError';
  constructor(readonly uploadId: string) {
    super('no such upload');
  }
}

/** `limit` other transactions are already being checked for the upload (MAX_PAYMENT_HINTS). */
export class PaymentHintLimitError extends Error {
  override readonly name = 'PaymentHintLimitError';
  constructor(
    readonly uploadId: string,
    readonly limit: number,
  ) {
    super(`${limit} other transactions are already being checked for this upload; wait for their verdicts`);
  }
}

/** The hint names a chain on which the upload's quote offers no payment. */
export class ChainNotOfferedError extends Error {
  override readonly name = 'ChainNotOfferedError';
  constructor(
    readonly chainId: number,
    readonly offered: number[],
  ) {
    super(`chainId ${chainId} is not a chain this upload's quote offers; it offers chain ${offered.join(', ')}`);
  }
}

export interface SubmitPaymentDeps {
  uploads: Uploads;
  bus: Bus;
  /** How many transactions of one upload may be followed at once (MAX_PAYMENT_HINTS). */
  maxHints: number;
}

export interface SubmitPaymentParameters {
  uploadId: string;
  /** The signed-in wallet (lower case): only the upload's owner may hint its payment. */
  owner: `0x${string}`;
  /** Lower case. */
  txHash: `0x${string}`;
  /** The chain of the offer paid; absent (an older client): the quote's own chain. */
  chainId?: number | undefined;
}

export type SubmitPaymentReturnType =
  /** Followed: the watcher checks the transaction once it is confirmed; its verdict arrives on the status stream. */
  | { followed: true; state: 'awaiting_payment' }
  /** The upload no longer waits for payment: where it stands (the hash changes nothing). */
  | { followed: false; state: UploadState | null; status: StatusEvent | null };

/**
 * A hint, not a claim: the deposit address's balance decides what was paid. Sending the same hash
 * again (or after the watcher found the payment) answers with the current state, never an error.
 */
export async function submitPayment(deps: SubmitPaymentDeps, { uploadId, owner, txHash, chainId }: SubmitPaymentParameters): Promise<SubmitPaymentReturnType> {
  if ((await deps.uploads.owner(uploadId)) !== owner) throw new UploadNotFoundError(uploadId);
  if (chainId !== undefined) {
    // Only a chain the quote offers can have paid it: refused here, so the watcher never looks for it elsewhere.
    const subject = await deps.uploads.quoteOf(uploadId);
    if (subject) {
      const offered = [...new Set([subject.quote.chainId, ...(subject.quote.offers ?? []).map((offer) => offer.chainId)])];
      if (!offered.includes(chainId)) throw new ChainNotOfferedError(chainId, offered);
    }
  }
  const state = await deps.uploads.state(uploadId);
  if (state !== 'awaiting_payment') return { followed: false, state: state ?? null, status: (await deps.uploads.latest(uploadId)) ?? null };
  const followed = await deps.uploads.followHint(uploadId, txHash, deps.maxHints);
  if (followed === 'limit') throw new PaymentHintLimitError(uploadId, deps.maxHints);
  await deps.bus.publish('payment.submitted', { uploadId, txHash, round: followed.round, ...(chainId !== undefined ? { chainId } : {}) });
  return { followed: true, state };
}
