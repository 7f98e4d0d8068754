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
]);

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
  /** A short human-readable note (e.g. "1 of 2 confirmations"). */
  message: z.string().optional(),
  at: z.iso.datetime(),
});
export type StatusEvent = z.infer<typeof statusEventSchema>;
