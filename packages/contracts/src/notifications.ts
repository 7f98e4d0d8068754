import type { StatusCodeOf, StatusEvent } from './status.js';

/**
 * What the person is told about a status event: in their words, with the page to open. The one
 * table from status event to notification; an event it lacks (a new or unknown name) is not pushed
 * to the person, while webhooks still receive every event.
 */
export interface PersonNotification {
  title: string;
  body: string;
  /** `listing`: the listing's page (`/listings/<id>`); `upload`: the upload's status page (`/uploads/<id>`); `mine`: My listings (`/mine`). */
  page: 'listing' | 'upload' | 'mine';
}

/** The event as the table reads it: a name that may be newer than this code, and its fields. */
export type NotifiableEvent = Pick<StatusEvent, 'uploadId' | 'seq'> & {
  event: string;
  code?: string;
  reason?: string;
  message?: string;
  stage?: string;
  state?: string;
};

/** Why a transaction a person pointed at was refused, in their words (codes of `payment.rejected`). */
const REJECTION_WORDS: Readonly<Record<string, string>> = {
  no_payment: "that transaction sent nothing to this listing's payment address",
  reverted: 'the transaction failed on chain',
  not_found: 'the transaction was not found on chain',
  not_mined: 'the transaction was not mined before the payment request expired',
  unverifiable: 'it could not be checked for now (the payment address is still watched)',
} satisfies Record<StatusCodeOf<'payment.rejected'>, string>;

type Describe = (event: NotifiableEvent, title: string) => PersonNotification;

/** The `stage` of a decision on a profile edit (`revision.approved` / `revision.rejected` under the revision's id, no listing). */
export const PROFILE_MODERATION_STAGE = 'profile-moderation';

/** Status event name -> what the person is told. Add a row to notify a new event. */
export const personNotifications: Readonly<Record<string, Describe>> = {
  'payment.confirmed': (e, title) =>
    e.code === 'renewal'
      ? { title: 'Renewal paid', body: `The renewal of "${title}" is paid; we will tell you when the listing runs longer.`, page: 'upload' }
      : { title: 'Payment confirmed', body: `"${title}" is paid. Your video is being converted; we will tell you when the listing is saved.`, page: 'upload' },
  // The refusal's `code` says why in the person's words; `reason` explains it for an unknown code.
  'payment.rejected': (e, title) => ({
    title: 'Payment not found',
    body: `The transaction you sent for "${title}" does not pay it: ${REJECTION_WORDS[e.code ?? ''] ?? e.reason ?? 'it could not be verified'}. Whatever reaches the payment address still counts, until the payment request expires.`,
    page: 'upload',
  }),
  // Money reached the payment address that does not complete the payment (`code` says how).
  'payment.received': (e, title) =>
    e.code === 'partial'
      ? {
          title: 'Part of the payment arrived',
          body: `Part of the price for "${title}" arrived. Send the rest to the same address before the payment request expires.`,
          page: 'upload',
        }
      : e.code === 'late'
        ? {
            title: 'Payment arrived late',
            body: `A payment for "${title}" arrived after the payment request expired. It is recorded for a refund; send the form again to list the video.`,
            page: 'upload',
          }
        : e.code === 'not_offered'
          ? {
              title: 'Paid in a coin not asked for',
              body: `Money for "${title}" arrived in a coin or on a network its payment request did not offer. It does not pay the listing and is recorded for a refund; pay one of the offered coins to list the video.`,
              page: 'upload',
            }
          : {
              title: 'Paid more than needed',
              body: `"${title}" was already paid, so the extra amount is recorded for a refund. Nothing else to do.`,
              page: 'upload',
            },
  'payment.reversed': (_e, title) => ({
    title: 'Payment taken back by the network',
    body: `The blockchain dropped the payment for "${title}" (a reorganisation), so the listing is hidden for now. If the same transaction is confirmed again it comes back by itself; otherwise pay again to the same address.`,
    page: 'upload',
  }),
  'refund.due': (e, title) =>
    e.code === 'cancelled'
      ? { title: 'Upload cancelled', body: `You cancelled "${title}". What you had sent is recorded for a refund to the wallet it came from.`, page: 'upload' }
      : {
          title: 'Payment incomplete',
          body: `The payment request for "${title}" expired before the full price arrived. What you sent is recorded for a refund; send the form again to list the video.`,
          page: 'upload',
        },
  'refund.sent': (_e, title) => ({ title: 'Refund sent', body: `A refund for "${title}" was sent back on chain.`, page: 'upload' }),
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
  expired: (e, title) =>
    e.code === 'cancelled'
      ? { title: 'Upload cancelled', body: `You cancelled "${title}". Nothing was charged.`, page: 'upload' }
      : {
          title: 'Upload expired',
          body: `No payment for "${title}" arrived in time, so the upload expired. Nothing was charged; send the form again to list it.`,
          page: 'upload',
        },
  // No stage emits this one yet; the row is ready for when one does.
  'listing.expiring': (_e, title) => ({ title: 'Listing expires soon', body: `"${title}" expires soon.`, page: 'listing' }),
  'listing.expired': (_e, title) => ({
    title: 'Listing expired',
    body: `"${title}" has expired and is no longer shown. Renew it from My listings to show it again.`,
    page: 'mine',
  }),
  'listing.renewed': (e, title) => ({ title: 'Listing renewed', body: `"${title}" is renewed${e.message ? ` (${e.message})` : ''}.`, page: 'listing' }),
  'listing.removed': (e, title) => ({ title: 'Listing removed', body: `"${title}" was removed${e.reason ? `: ${e.reason}` : ''}.`, page: 'mine' }),
  'revision.approved': (e, title) =>
    e.stage === PROFILE_MODERATION_STAGE
      ? { title: 'Profile changes approved', body: 'Your profile changes were approved and are public now.', page: 'mine' }
      : { title: 'Changes approved', body: `Your changes to "${title}" were approved and are public now.`, page: 'listing' },
  'revision.rejected': (e, title) =>
    e.stage === PROFILE_MODERATION_STAGE
      ? {
          title: 'Profile changes not approved',
          body: `Your profile changes were not approved${e.reason ? `: ${e.reason}` : ''}. Your profile stays as it was.`,
          page: 'mine',
        }
      : {
          title: 'Changes not approved',
          body: `Your changes to "${title}" were not approved${e.reason ? `: ${e.reason}` : ''}. The listing stays as it was.`,
          page: 'mine',
        },
  'listing.held': (_e, title) => ({
    title: 'Listing on hold for review',
    body: `"${title}" was reported by several people, so it is hidden until a moderator reviews it. Nothing to do for now; we will tell you the outcome.`,
    page: 'mine',
  }),
  'listing.released': (_e, title) => ({
    title: 'Listing shown again',
    body: `A moderator reviewed the reports on "${title}" and dismissed them: it is public again.`,
    page: 'listing',
  }),
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
  // A listing's later events (weeks after its upload, whose status history may be gone) lead to My listings.
  const page = text.page === 'listing' ? `listings/${event.uploadId}` : text.page === 'mine' ? 'mine' : `uploads/${event.uploadId}`;
  return { title: text.title, body: text.body, url: `${publicUrl.replace(/\/$/, '')}/${page}`, tag: event.uploadId, event: event.event, seq: event.seq };
}
