import type { StatusEventName, UploadState } from '@reelboard/contracts';

/** One allowed change of an upload's state, and the status event that announces it. */
export interface Transition {
  /** States it may leave; '-' is "not registered yet". */
  from: readonly (UploadState | '-')[];
  to: UploadState;
  event: StatusEventName;
}

/**
 * Every way an upload's state may change. Nothing else writes the state: the status store applies
 * one of these atomically with its event, guarded by `from`, so events never go backwards.
 */
export const transitions = {
  /** The gateway accepted the form and issued a quote. */
  register: { from: ['-'], to: 'awaiting_payment', event: 'upload.received' },
  /** The deposit address received the quoted amount in time (payment-watcher). */
  pay: { from: ['awaiting_payment'], to: 'paid', event: 'payment.confirmed' },
  /** The media work began (the transcoder; again on a retried job). */
  start: { from: ['paid', 'processing'], to: 'processing', event: 'progress' },
  /** An operator runs a failed upload's stage again (pnpm failed-uploads retry). */
  retry: { from: ['failed'], to: 'processing', event: 'progress' },
  /** The listing is in Postgres (profile-writer). */
  save: { from: ['processing'], to: 'saved', event: 'profile.saved' },
  /** A paid renewal extended its listing (profile-writer, after the ledger write): nothing is uploaded or encoded. */
  renew: { from: ['paid'], to: 'saved', event: 'listing.renewed' },
  /** A stage gave up for good; a paid upload's payment is kept `unfulfilled` for retry or refund. */
  fail: { from: ['awaiting_payment', 'paid', 'processing'], to: 'failed', event: 'failed' },
  /** The quote ran out with nothing received. */
  expire: { from: ['awaiting_payment'], to: 'expired', event: 'expired' },
  /** The quote ran out with part of the price received: that part is due back. */
  expireOwingRefund: { from: ['awaiting_payment'], to: 'refund_due', event: 'refund.due' },
  /** Its owner cancelled the unpaid upload (nothing received): it ends at once, its staging freed. */
  cancel: { from: ['awaiting_payment'], to: 'expired', event: 'expired' },
  /** Its owner cancelled an upload that had received part of the price: that part is due back. */
  cancelOwingRefund: { from: ['awaiting_payment'], to: 'refund_due', event: 'refund.due' },
  /** Money arrived after an upload expired with nothing received: it is due back. */
  oweRefund: { from: ['expired'], to: 'refund_due', event: 'refund.due' },
  /** An admin sent the money back. */
  refund: { from: ['refund_due', 'failed'], to: 'refunded', event: 'refund.sent' },
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof transitions;

/**
 * A listing's state as its owner sees it; packages/db derives it from the row (lifecycleStateOf):
 * `active` listings are pending, approved, rejected or expired by moderation and expiry.
 */
export const listingStates = ['pending', 'approved', 'rejected', 'sold', 'withdrawn', 'expired', 'removed'] as const;
export type ListingState = (typeof listingStates)[number];

/**
 * How a payment changes a listing. One rule for each: the gateway checks it when it issues the
 * quote and the ledger again when the money arrives, since the listing may change in between
 * (sold, withdrawn, removed): a renewal refused then is recorded for refund.
 */
export const listingTransitions = {
  /** A paid renewal extends the listing: only an approved one, running or run out. */
  renew: { from: ['approved', 'expired'] },
} as const satisfies Record<string, { from: readonly ListingState[] }>;

/** Whether a listing in `state` may take the listing transition `name`. */
export function listingMay(name: keyof typeof listingTransitions, state: ListingState): boolean {
  return (listingTransitions[name].from as readonly ListingState[]).includes(state);
}
