import { z } from 'zod';

/** The names of events on the status stream: the channels, plus what is not a channel. */
export const statusEventNames = [
  'upload.received',
  'payment.confirmed',
  // The preview and poster are cut from the source (transcoder), then in S3 under their final keys (uploader).
  'preview.early',
  'preview.ready',
  'video.transcoded',
  'preview.extracted',
  'assets.stored',
  'profile.saved',
  'progress',
  'payment.rejected',
  'failed',
  'expired',
  'moderation.approved',
  'moderation.rejected',
  'payment.received',
  // A reorg deeper than the confirmations took a credited payment back off the chain: the listing is held.
  'payment.reversed',
  'refund.due',
  'refund.sent',
  // A listing's life after it was saved (on the listing's stream; `listing.renewed` also ends a renewal's own).
  'listing.expired',
  'listing.renewed',
  'listing.removed',
  'revision.approved',
  'revision.rejected',
  // Reports put a public listing on hold until a moderator reviews them; released when they are dismissed.
  'listing.held',
  'listing.released',
  // A rung of the rendition ladder joined the listing's DASH manifest (the lowest: the full video plays).
  'rendition.ready',
] as const;
export type StatusEventName = (typeof statusEventNames)[number];

/**
 * Where an upload stands as a whole: its lifecycle state (packages/lifecycle owns the transitions).
 * awaiting_payment -> paid -> processing -> saved; awaiting_payment -> expired (nothing received) or
 * refund_due (expired with part of the price received); paid/processing -> failed (the payment is
 * kept `unfulfilled`; an operator retries it back to processing); refund_due/failed -> refunded.
 */
export const uploadStates = ['awaiting_payment', 'paid', 'processing', 'saved', 'failed', 'expired', 'refund_due', 'refunded'] as const;
export type UploadState = (typeof uploadStates)[number];

/** Events after which nothing more happens to an upload; a status stream closes on them. */
export const terminalEvents: ReadonlySet<StatusEventName> = new Set(['profile.saved', 'failed', 'expired', 'refund.due', 'listing.renewed']);

/** Upload states in which the pipeline has ended (an operator may still retry a failed one). */
export const endedStates: ReadonlySet<UploadState> = new Set(['saved', 'failed', 'expired', 'refund_due', 'refunded']);

/**
 * Events that still reach the owner after the upload ended: moderation decisions on the saved
 * listing, money that arrives after the end (recorded for refund) and refunds.
 */
export const afterTerminalEvents: ReadonlySet<StatusEventName> = new Set([
  'moderation.approved',
  'moderation.rejected',
  'payment.received',
  // A reorg takes back the payment of a listing long saved: its owner is told all the same.
  'payment.reversed',
  'refund.due',
  'refund.sent',
  'listing.expired',
  'listing.renewed',
  'listing.removed',
  'revision.approved',
  'revision.rejected',
  'listing.held',
  'listing.released',
]);

/**
 * The typed `code` of the status events that carry one: what happened, for notifications, webhooks
 * and the web client to branch on. `message` and `reason` are for people and may change wording.
 */
export const statusEventCodes = {
  /** Why a transaction a person pointed at does not pay the quote. */
  'payment.rejected': ['not_found', 'not_mined', 'reverted', 'no_payment', 'unverifiable'],
  /** How money reached the deposit address without completing the payment. */
  'payment.received': ['partial', 'late', 'overpaid', 'not_offered'],
  /** What took a credited payment back: a reorg deeper than the confirmations. */
  'payment.reversed': ['reorg'],
  /** What the payment paid for: an upload's quote or a renewal's. */
  'payment.confirmed': ['upload', 'renewal'],
  /** Its owner ended an unpaid upload before its quote ran out (the unpaid-uploads view's Cancel). */
  expired: ['cancelled'],
  /** Its owner cancelled an upload that had received part of the price: that part is due back. */
  'refund.due': ['cancelled'],
  /** A rung joined the manifest (its height and the manifest's key are in `rendition`). */
  'rendition.ready': ['rendition.ready'],
} as const satisfies Partial<Record<StatusEventName, readonly string[]>>;
export type StatusCodeOf<E extends keyof typeof statusEventCodes> = (typeof statusEventCodes)[E][number];
export type StatusCode = StatusCodeOf<keyof typeof statusEventCodes>;
/** Every code, of whichever event. */
export const statusCodes = [...new Set(Object.values(statusEventCodes).flat())] as [StatusCode, ...StatusCode[]];
/**
 * Events that are never published without their code. `payment.confirmed` may be (a stage's own
 * step, announced by the bus as it queues the next one): only the lifecycle's `pay` names one.
 */
export const codedEvents: ReadonlySet<StatusEventName> = new Set(['payment.rejected', 'payment.received', 'payment.reversed']);

/** Why an event's code does not fit it (required and missing, or not one of its codes), or undefined when it does. */
export function statusCodeProblem(event: StatusEventName, code: string | undefined): string | undefined {
  const allowed = (statusEventCodes as Partial<Record<StatusEventName, readonly string[]>>)[event];
  if (code === undefined) return codedEvents.has(event) ? `a ${event} event needs a code: one of ${allowed?.join(', ')}` : undefined;
  if (!allowed) return `a ${event} event carries no code (got ${code})`;
  return allowed.includes(code) ? undefined : `code ${code} is not one of ${event}'s: ${allowed.join(', ')}`;
}

export const statusEventSchema = z.object({
  /** Per-upload sequence number, increasing by one: the SSE event id. */
  seq: z.number().int().positive(),
  uploadId: z.uuid(),
  event: z.enum(statusEventNames),
  /** The service that reports it. */
  stage: z.string(),
  state: z.enum(uploadStates),
  /** Percent (0-100) of the running stage, on `progress` events. */
  progress: z.number().min(0).max(100).optional(),
  /** Why, on `payment.rejected`, `failed` and `expired`. */
  reason: z.string().optional(),
  /**
   * What happened, typed, on the events that have codes (statusEventCodes): `payment.rejected`
   * (not_found, not_mined, reverted, no_payment, unverifiable), `payment.received` (partial, late,
   * overpaid, not_offered), `payment.reversed` (reorg), `payment.confirmed` (upload, renewal). Read this, not `message`.
   */
  code: z.enum(statusCodes).optional(),
  /** A short human-readable note (e.g. "1 of 2 confirmations"); its wording may change: branch on `code`. */
  message: z.string().optional(),
  /** On `rendition.ready`: the rung that joined the manifest (its name, the short side) and the manifest's object key. */
  rendition: z.object({ height: z.number().int().positive(), manifest: z.string().min(1) }).optional(),
  at: z.iso.datetime(),
});
export type StatusEvent = z.infer<typeof statusEventSchema>;
