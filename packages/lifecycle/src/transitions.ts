import type { StatusEventName, UploadState } from '@reelboard/contracts';

/** One allowed change of an upload's state, and the status event that announces it. */
export interface Transition {
  /** States it may leave; '-' is "not registered yet". */
  from: readonly (UploadState | '-')[];
  to: UploadState;
  event: StatusEventName;
  /** What it does to the upload's quote in the ledger (quoteTransitions); absent: nothing. */
  quote?: QuoteEvent;
}

/**
 * Every way an upload's state may change. Nothing else writes the state: the status store applies
 * one of these atomically with its event, guarded by `from`, so events never go backwards.
 */
export const transitions = {
  /** The gateway accepted the form and issued a quote. */
  register: { from: ['-'], to: 'awaiting_payment', event: 'upload.received' },
  /** The deposit address received the quoted amount in time (payment-watcher). */
  pay: { from: ['awaiting_payment'], to: 'paid', event: 'payment.confirmed', quote: 'cover' },
  /** The media work began (the transcoder; again on a retried job). */
  start: { from: ['paid', 'processing'], to: 'processing', event: 'progress' },
  /** An operator runs a failed upload's stage again (pnpm failed-uploads retry). */
  retry: { from: ['failed'], to: 'processing', event: 'progress' },
  /** The listing is in Postgres (profile-writer). */
  save: { from: ['processing'], to: 'saved', event: 'profile.saved' },
  /** A paid renewal extended its listing (profile-writer, after the ledger write): nothing is uploaded or encoded. */
  renew: { from: ['paid'], to: 'saved', event: 'listing.renewed', quote: 'renew' },
  /** A stage gave up for good; a paid upload's payment is kept `unfulfilled` for retry or refund. */
  fail: { from: ['awaiting_payment', 'paid', 'processing'], to: 'failed', event: 'failed', quote: 'close' },
  /** The quote ran out with nothing received. */
  expire: { from: ['awaiting_payment'], to: 'expired', event: 'expired', quote: 'close' },
  /** The quote ran out with part of the price received: that part is due back. */
  expireOwingRefund: { from: ['awaiting_payment'], to: 'refund_due', event: 'refund.due', quote: 'close' },
  /** Its owner cancelled the unpaid upload (nothing received): it ends at once, its staging freed. */
  cancel: { from: ['awaiting_payment'], to: 'expired', event: 'expired', quote: 'close' },
  /** Its owner cancelled an upload that had received part of the price: that part is due back. */
  cancelOwingRefund: { from: ['awaiting_payment'], to: 'refund_due', event: 'refund.due', quote: 'close' },
  /** Money arrived after an upload expired with nothing received: it is due back. */
  oweRefund: { from: ['expired'], to: 'refund_due', event: 'refund.due' },
  /** An admin sent the money back. */
  refund: { from: ['refund_due', 'failed'], to: 'refunded', event: 'refund.sent' },
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof transitions;

/** Whether the upload transition `name` closes the upload's quote in the ledger (so its part payments become due back). */
export function closesQuote(name: TransitionName): boolean {
  return (transitions[name] as Transition).quote === 'close';
}

/** A quote's state in the ledger (payment_quotes.state). */
export const quoteStates = ['open', 'paid', 'expired'] as const;
export type QuoteState = (typeof quoteStates)[number];

/**
 * Every way a quote's state may change, as (state, event) -> next state; a pair not listed is refused
 * (quoteNext throws QuoteTransitionError naming it). The ledger (packages/db payments.ts) applies
 * these inside its transaction, with the quote row locked.
 */
export const quoteTransitions = {
  /**
   * Money covering the price, judged in time at its block. An expired quote is paid too: the watcher
   * judges at the block the money arrived, so a payment made in time counts even if the close was
   * written first. A later covering credit (a reorged payment mined again) keeps it paid.
   */
  cover: { open: 'paid', expired: 'paid', paid: 'paid' },
  /**
   * A renewal quote's first covering credit: its listing is extended (if listingMay('renew') still
   * holds). Refused from `paid`: a renewal is applied once, however often its money is credited.
   */
  renew: { open: 'paid', expired: 'paid' },
  /**
   * The upload ended unpaid (expired, cancelled, failed or rejected by a stage; the terminal upload
   * transitions): the quote closes, what it received is due back. A quote covered meanwhile stays paid.
   */
  close: { open: 'expired', expired: 'expired', paid: 'paid' },
  /** A reorg took money back: the state stays (a paid quote stays paid, so the money coming back does not renew twice). */
  reverse: { open: 'open', paid: 'paid', expired: 'expired' },
} as const satisfies Record<string, Partial<Record<QuoteState, QuoteState>>>;

export type QuoteEvent = keyof typeof quoteTransitions;

/** A quote cannot take `event` in `state`: the message names both and what the event accepts. */
export class QuoteTransitionError extends Error {
  constructor(
    readonly state: QuoteState,
    readonly event: QuoteEvent,
    readonly quoteId?: string,
  ) {
    const from = Object.keys(quoteTransitions[event]).join(', ');
    super(`quote ${quoteId ? `${quoteId} ` : ''}is ${state}: it cannot take '${event}' (only from ${from})`);
    this.name = 'QuoteTransitionError';
  }
}

/** Whether a quote in `state` may take `event`. */
export function quoteMay(event: QuoteEvent, state: QuoteState): boolean {
  return state in quoteTransitions[event];
}

/** The state a quote in `state` moves to on `event`; throws QuoteTransitionError for a pair the table does not list. */
export function quoteNext(state: QuoteState, event: QuoteEvent, quoteId?: string): QuoteState {
  const next = (quoteTransitions[event] as Partial<Record<QuoteState, QuoteState>>)[state];
  if (next === undefined) throw new QuoteTransitionError(state, event, quoteId);
  return next;
}

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
