import type { StatusEvent } from './status.js';

/**
 * What the person is told about a status event: in their words, with the page to open. The one
 * table from status event to notification; an event it lacks (a new or unknown name) is not pushed
 * to the person, while webhooks still receive every event.
 */
export interface PersonNotification {
  title: string;
  body: string;
  /** `listing`: the listing's page (`#/listing/<id>`); `upload`: the upload's status page (`#/upload/<id>`). */
  page: 'listing' | 'upload';
}

/** The event as the table reads it: a name that may be newer than this code, and its fields. */
export type NotifiableEvent = Pick<StatusEvent, 'uploadId' | 'seq'> & { event: string; reason?: string; message?: string; stage?: string; state?: string };

/** Why a payment was refused, in the person's words (codes of `payment.rejected`). */
const REJECTION_WORDS: Record<string, string> = {
  wrong_sender: 'it was sent from another wallet than the one signed in',
  wrong_chain: 'it was sent on another network',
  reverted: 'the transaction failed on chain',
  wrong_recipient: 'it was not sent to the payment address',
  wrong_token: 'it was paid in another token',
  underpaid: 'the amount was less than the price',
  predates_quote: 'the transaction is older than the payment request',
  late: 'it arrived after the payment request expired',
  tx_reused: 'that transaction already paid for another listing',
  already_paid: 'this listing was already paid',
  not_found: 'the transaction was not found on chain',
};

type Describe = (event: NotifiableEvent, title: string) => PersonNotification;

/** Status event name -> what the person is told. Add a row to notify a new event. */
export const personNotifications: Readonly<Record<string, Describe>> = {
  'payment.confirmed': (_e, title) => ({
    title: 'Payment confirmed',
    body: `"${title}" is paid. Your video is being converted; we will tell you when the listing is saved.`,
    page: 'upload',
  }),
  // The watcher puts the refusal's code in `message` and its explanation in `reason`.
  'payment.rejected': (e, title) =>
    e.message === 'late'
      ? {
          title: 'Payment arrived late',
          body: `The payment for "${title}" arrived after the payment request expired. It is recorded for a refund; send the form again to list the video.`,
          page: 'upload',
        }
      : e.message === 'already_paid'
        ? {
            title: 'Paid twice',
            body: `"${title}" was already paid, so this second payment is recorded for a refund. Nothing else to do.`,
            page: 'upload',
          }
        : {
            title: 'Payment not accepted',
            body: `The payment for "${title}" was not accepted: ${REJECTION_WORDS[e.message ?? ''] ?? e.reason ?? 'it could not be verified'}. You can pay again until the payment request expires.`,
            page: 'upload',
          },
  'profile.saved': (_e, title) => ({
    title: 'Listing saved',
    body: `"${title}" is converted and saved. A moderator reviews it next; we will tell you when it is live.`,
    page: 'upload',
  }),
  'moderation.approved': (_e, title) => ({ title: 'Your listing is live', body: `"${title}" was approved and is public now.`, page: 'listing' }),
  'moderation.rejected': (e, title) => ({
    title: 'Listing not approved',
    body: `"${title}" was not approved${e.reason ? `: ${e.reason}` : ''}.`,
    page: 'upload',
  }),
  failed: (e, title) => ({
    title: 'Processing failed',
    body: `"${title}" could not be processed${e.reason ? ` (${e.reason})` : ''}. A confirmed payment is kept on record, to be retried or refunded.`,
    page: 'upload',
  }),
  expired: (_e, title) => ({
    title: 'Upload expired',
    body: `No payment for "${title}" arrived in time, so the upload expired. Nothing was charged; send the form again to list it.`,
    page: 'upload',
  }),
  // No stage emits these yet (listings do not expire today); the rows are ready for when one does.
  'listing.expiring': (_e, title) => ({ title: 'Listing expires soon', body: `"${title}" expires soon.`, page: 'listing' }),
  'listing.expired': (_e, title) => ({ title: 'Listing expired', body: `"${title}" has expired and is no longer shown.`, page: 'upload' }),
};

/** Status events never sent to anyone: running progress, not a change of state. */
export const unnotifiedEvents: ReadonlySet<string> = new Set(['progress']);

/** What the person's browser receives in a push message; small, and nothing private but the title. */
export interface PushMessage {
  title: string;
  body: string;
  /** Absolute link to the page to open when the notification is clicked. */
  url: string;
  /** One notification per upload: a newer one replaces the older. */
  tag: string;
  event: string;
  seq: number;
}

/** The push message for an event, or undefined if the person is not told about it. */
export function pushMessageFor(event: NotifiableEvent, listingTitle: string | undefined, publicUrl: string): PushMessage | undefined {
  const describe = Object.hasOwn(personNotifications, event.event) ? personNotifications[event.event] : undefined;
  if (!describe) return undefined;
  const title = listingTitle && listingTitle.length <= 80 ? listingTitle : listingTitle ? `${listingTitle.slice(0, 79)}…` : 'your listing';
  const text = describe(event, title);
  const page = text.page === 'listing' ? `#/listing/${event.uploadId}` : `#/upload/${event.uploadId}`;
  return { title: text.title, body: text.body, url: `${publicUrl.replace(/\/$/, '')}/${page}`, tag: event.uploadId, event: event.event, seq: event.seq };
}
