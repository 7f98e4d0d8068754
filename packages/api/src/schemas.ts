import { z } from 'zod';
import { fiatPriceSchema, quoteOfferSchema, quoteSchema, REPORT_REASONS, reportReasonLabels, statusEventSchema, uploadStates } from '@reelboard/contracts';

/**
 * The shapes the API reads and answers, as zod schemas. The route table (`routes.ts`) refers to
 * them; validation, the OpenAPI document and the client types all come from here. A schema with
 * `.meta({ id })` becomes a named component of the document.
 */

export const uuid = z.uuid();
/** A lower-case 0x-prefixed 20-byte address, as answers carry it. */
export const address = z
  .string()
  .regex(/^0x[0-9a-f]{40}$/)
  .meta({ description: 'lower-case 0x-prefixed 20-byte address' }) as unknown as z.ZodType<`0x${string}`, `0x${string}`>;
export const dateTime = z.iso.datetime({ offset: true });
/** Base units (wei), a decimal string: JSON has no bigint. */
export const amount = z.string().regex(/^\d+$/).meta({ description: 'base units (wei), a decimal string' });
const txHash = z.string().regex(/^0x[0-9a-f]{64}$/);

/** Every error answer. */
export const errorBody = z
  .object({
    error: z.string().meta({ description: 'a stable code clients switch on', examples: ['invalid_form', 'upload_not_found', 'rate_limited'] }),
    message: z.string().meta({ description: 'for people' }),
    fields: z.record(z.string(), z.string()).optional().meta({ description: 'per-field messages of an `invalid_form` answer' }),
    field: z.string().optional().meta({ description: 'the query, path or body parameter at fault' }),
    tag: z.string().optional().meta({ description: 'the hashtag at fault' }),
    refundTxHash: z.string().optional().meta({ description: 'the transaction that already refunded the payment (`already_refunded`)' }),
    freeBytes: z.number().int().optional().meta({ description: 'bytes free on the staging volume (`insufficient_storage`)' }),
    limit: z.number().int().optional().meta({ description: 'the limit that was reached' }),
    state: z.string().optional().meta({ description: "the listing's state (`listing_state`, `listing_sold`, `listing_expired`)" }),
    status: z.string().optional().meta({ description: "the revision's status (`revision_decided`)" }),
    title: z.string().optional().meta({ description: "the listing's title (`listing_sold`, `listing_expired`)" }),
  })
  .meta({ id: 'Error', description: 'Every error answer. `error` is a stable code clients switch on; `message` is for people.' });

export const statusEvent = statusEventSchema.meta({ id: 'StatusEvent', description: 'One step of an upload, as stored and as sent on the status stream.' });

export const quote = quoteSchema.meta({
  id: 'Quote',
  description: 'The payment asked for: at least `amount` (base units) to `to` on `chainId`, before `expiresAt`; `token` null for the native coin.',
});

/** One (chain, asset) a quote accepts, at its own amount. */
export const paymentOffer = quoteOfferSchema.meta({
  id: 'PaymentOffer',
  description:
    "One (chain, asset) the quote accepts: `amount` base units of `token` (null: the chain's native coin) on `chainId`, to the quote's deposit address, which is the same on every chain. One offer covered pays the quote; money sent in another offer or asset is recorded and due back.",
});

/** What the form's answer asks to be paid. */
export const paymentRequest = z
  .object({
    chainId: z.number().int(),
    to: address.meta({
      description:
        "the quote's own deposit address: whatever reaches it, from any wallet and by any route (a contract wallet, an EIP-7702 batch, an exchange), pays this upload; several payments add up",
    }),
    amount,
    token: address.nullable(),
    expiresAt: dateTime,
    price: fiatPriceSchema
      .optional()
      .meta({ description: 'the listing price in a fiat currency that `amount` stands for (PRICE); absent when the price is set in base units' }),
    offers: z.array(paymentOffer).optional().meta({
      description:
        'every (chain, asset) this quote accepts, the first being `chainId`/`token`/`amount`; pay one of them in full. Absent on quotes made before offers existed (they accept only the top-level asset).',
    }),
  })
  .meta({ id: 'PaymentRequest' });

export const acceptedUpload = z
  .object({
    uploadId: uuid,
    payment: paymentRequest,
    links: z.object({ status: z.string(), events: z.string(), payment: z.string() }),
  })
  .meta({ id: 'AcceptedUpload', description: 'accepted: pay the quote, then (optionally) send the tx hash' });

export const uploadView = z.object({ uploadId: uuid, status: statusEvent.nullable(), payment: quote.nullable() });

/** An asking price: a decimal amount (at most 2 decimals) and an ISO 4217 currency. */
export const price = z
  .object({ amount: z.string().regex(/^\d{1,12}(\.\d{1,2})?$/), currency: z.string().regex(/^[A-Z]{3}$/) })
  .meta({ id: 'Price', description: 'An asking price: a decimal amount (at most 2 decimals) in an ISO 4217 currency.' });

export const listing = z
  .object({
    id: uuid,
    title: z.string(),
    description: z.string(),
    hashtags: z.array(z.string()),
    owner: z.object({ wallet: address, displayName: z.string().nullable() }),
    location: z.object({ latitude: z.number().min(-90).max(90), longitude: z.number().min(-180).max(180) }),
    distanceKm: z.number().min(0).optional().meta({ description: 'only when searched with `near`' }),
    video: z.object({
      url: z.url().meta({ description: 'the progressive VP9/Opus WebM: the fallback for players without Media Source Extensions' }),
      width: z.number().int(),
      height: z.number().int(),
      durationSeconds: z.number(),
      bytes: z.number().int(),
      manifestUrl: z.string().nullable().meta({
        description: 'the DASH manifest (a path on this API) for adaptive playback; null for a listing saved before the rendition ladder',
      }),
      renditions: z
        .array(z.object({ width: z.number().int(), height: z.number().int(), bitrateKbps: z.number().int() }))
        .meta({ description: 'the rungs the manifest lists, lowest first (empty without a manifest)' }),
      startUrl: z.url().nullable().meta({
        description:
          "the lowest rung's file (VP9 WebM, video only): a page's `<video src>` plays it at once, before the adaptive player has loaded; null without a manifest",
      }),
    }),
    previewUrl: z.url(),
    posterUrl: z.url(),
    storyboardUrl: z.string().nullable().meta({
      description: 'a WebVTT index of thumbnail sprites for scrubbing (a path on this API); null when none was made',
    }),
    logoUrl: z.url().nullable(),
    price: price.nullable(),
    contact: z.string().nullable().meta({ description: 'how to reach the seller' }),
    state: z.enum(['active', 'sold']).meta({ description: '`sold` while a sold listing is still shown (SOLD_DISPLAY_HOURS)' }),
    soldAt: dateTime.nullable(),
    expiresAt: dateTime.nullable().meta({ description: 'the end of the paid period' }),
    createdAt: dateTime,
  })
  .meta({ id: 'Listing' });

export const listingPage = z
  .object({
    items: z.array(listing),
    nextCursor: z.string().nullable().meta({ description: 'null on the last page' }),
    matched: z
      .enum(['words', 'similar'])
      .optional()
      .meta({ description: 'with `q`: `words` (full-text matches) or `similar` (no word matched; close spellings of title and hashtags)' }),
  })
  .meta({ id: 'ListingPage' });

export const userProfile = z.object({
  wallet: address,
  displayName: z.string().nullable(),
  contact: z.string().nullable(),
  logoUrl: z.string().nullable(),
  memberSince: dateTime,
  listingCount: z.number().int().min(0),
  listings: listingPage,
});

export const hashtagSuggestions = z.object({
  prefix: z.string(),
  hashtags: z.array(z.object({ tag: z.string(), listings: z.number().int().min(0) })),
});

export const placeSuggestions = z
  .object({
    q: z.string(),
    places: z.array(
      z.object({
        name: z.string(),
        country: z.string().meta({ description: 'ISO 3166-1 alpha-2' }),
        countryName: z.string().meta({ description: "the country's English name" }),
        adminCode: z.string().meta({ description: "GeoNames' first-level admin code (state or region), empty when unknown" }),
        latitude: z.number(),
        longitude: z.number(),
        population: z.number().int().min(0),
      }),
    ),
  })
  .meta({ id: 'PlaceSuggestions' });

export const uploadPreview = z.object({ uploadId: uuid, previewUrl: z.url(), posterUrl: z.url() });

export const moderationStatuses = ['pending', 'approved', 'rejected'] as const;
export const moderationStatus = z.enum(moderationStatuses);
export const moderationDecision = z.object({
  listingId: uuid,
  status: moderationStatus,
  previousStatus: moderationStatus,
  actor: z.string().meta({ description: 'the admin wallet, or `admin-token`' }),
  reason: z.string().nullable(),
  decidedAt: dateTime,
  expiresAt: dateTime.nullable().meta({ description: 'the end of the paid period once approved (LISTING_DAYS from the first approval)' }),
});

/** Where one of your listings stands. */
export const listingLifecycleState = z
  .enum(['pending', 'approved', 'rejected', 'sold', 'withdrawn', 'expired', 'removed'])
  .meta({ description: 'pending (waiting for a moderator), approved (public), rejected (see rejectionReason), sold, withdrawn, expired (renew it), removed' });

export const ownListing = z
  .object({
    id: uuid,
    title: z.string(),
    state: listingLifecycleState,
    moderationStatus: moderationStatus,
    rejectionReason: z.string().nullable(),
    removalReason: z.string().nullable(),
    price: price.nullable(),
    contact: z.string().nullable(),
    hashtags: z.array(z.string()),
    createdAt: dateTime,
    approvedAt: dateTime.nullable(),
    expiresAt: dateTime.nullable().meta({ description: 'the end of the paid period (set at approval, moved by renewals)' }),
    soldAt: dateTime.nullable(),
    visibleUntil: dateTime.nullable().meta({ description: 'until when the public sees it' }),
    pendingRevision: z
      .object({ id: uuid, createdAt: dateTime, changes: z.record(z.string(), z.unknown()) })
      .nullable()
      .meta({ description: 'your edit waiting for a moderator' }),
    payments: z
      .array(
        z.object({
          quoteId: uuid,
          purpose: z.enum(['upload', 'renewal']),
          amount,
          token: address.nullable(),
          state: z.string(),
          creditedTotal: amount,
          createdAt: dateTime,
        }),
      )
      .meta({ description: 'the quotes that paid it: the upload, then each renewal' }),
    previewUrl: z.string().nullable().meta({ description: 'null once its objects are deleted' }),
    posterUrl: z.string().nullable(),
    logoUrl: z.string().nullable(),
    status: statusEvent.nullable().meta({ description: "the upload's latest status event (processing, moderation, expiry)" }),
  })
  .meta({ id: 'OwnListing', description: 'One of your listings, whatever its state.' });

export const listingEditOutcome = z.object({
  listingId: uuid,
  mode: z
    .enum(['applied', 'revision'])
    .meta({ description: '`applied`: not public yet, changed at once; `revision`: waits for a moderator, the approved version stays public' }),
  revisionId: uuid.nullable(),
  state: listingLifecycleState,
});

export const revisionStatuses = ['pending', 'approved', 'rejected', 'superseded'] as const;
export const revision = z
  .object({
    id: uuid,
    kind: z.enum(['listing', 'profile']),
    listingId: uuid.nullable(),
    owner: address,
    status: z.enum(revisionStatuses),
    reason: z.string().nullable(),
    createdAt: dateTime,
    decidedAt: dateTime.nullable(),
    decidedBy: z.string().nullable(),
    diff: z
      .array(
        z.object({
          field: z.string(),
          public: z.unknown(),
          proposed: z.unknown(),
          publicUrl: z.string().nullable().optional().meta({ description: 'for `logoKey`: where a moderator sees the public logo (null: none)' }),
          proposedUrl: z.string().nullable().optional().meta({ description: 'for `logoKey`: where a moderator sees the proposed logo' }),
        }),
      )
      .meta({ description: 'only the fields that differ from the public version; a logo change carries image URLs beside its object keys' }),
  })
  .meta({ id: 'Revision', description: 'A change waiting for a moderator (or decided), as a diff against what the public sees.' });

export const renewalQuote = z
  .object({
    renewalId: uuid,
    listingId: uuid,
    days: z.number().int().min(1),
    currentExpiresAt: dateTime.nullable(),
    payment: paymentRequest,
    links: z.object({ status: z.string(), events: z.string(), payment: z.string() }),
  })
  .meta({ id: 'RenewalQuote', description: "A renewal's quote: pay it like an upload's; follow and hint it through `links`." });

export const removedListing = z.object({
  listingId: uuid,
  state: z.literal('removed'),
  objectsDeleted: z.boolean().meta({ description: 'false: S3 failed; the listing job deletes them later' }),
});

export const ownProfile = z.object({
  wallet: address,
  displayName: z.string().nullable(),
  contact: z.string().nullable(),
  logoUrl: z.string().nullable(),
  pendingRevision: z.object({ id: uuid, changes: z.record(z.string(), z.unknown()), createdAt: dateTime }).nullable(),
});

export const paymentStatuses = ['partial', 'paid', 'overpaid', 'late', 'unmatched', 'unfulfilled', 'refunded', 'reversed'] as const;
const paymentStatus = z.enum(paymentStatuses);
const nullableTimestamp = dateTime.nullable();

export const payment = z
  .object({
    id: z.number().int().min(1).meta({ description: 'the ledger row id (refunds name it)' }),
    quoteId: uuid.nullable(),
    uploadId: uuid.nullable(),
    listingId: uuid.nullable(),
    owner: address.nullable().meta({ description: "the quote's owner; null for an unmatched transfer (see `from`)" }),
    chainId: z.number().int(),
    depositAddress: address.nullable(),
    to: address.meta({ description: 'where the money arrived: the deposit address, or the merchant address' }),
    token: address.nullable(),
    amount,
    status: paymentStatus,
    creditStatus: paymentStatus.nullable(),
    refundDue: amount.meta({ description: 'what is still due back' }),
    refundedAmount: amount.meta({ description: 'what refunds paid back so far' }),
    txHash: txHash.nullable().meta({ description: 'null where the chain shows no transaction (an internal transfer)' }),
    logIndex: z.number().int().min(0).nullable(),
    from: address.nullable(),
    fromBlock: z.string().regex(/^\d+$/).nullable(),
    toBlock: z.string().regex(/^\d+$/).nullable(),
    blockTime: dateTime,
    failureReason: z.string().nullable(),
    failedStage: z.string().nullable(),
    refundTxHash: txHash.nullable(),
    refundTo: address.nullable().meta({ description: 'where the last refund was paid' }),
    refundedAt: nullableTimestamp,
    refundedBy: z.string().nullable(),
    quote: z.object({ amount, state: z.enum(['open', 'paid', 'expired']), expiresAt: dateTime, creditedTotal: amount }).nullable(),
    recordedAt: dateTime,
  })
  .meta({
    id: 'Payment',
    description:
      "One row of the payment ledger: an increase of a quote's deposit address total (or one transfer of it, where the chain shows the transfers), or an `unmatched` transfer to the plain merchant address. `status` is where it stands now, `creditStatus` how it stood when it was seen.",
  });

export const paymentPage = z
  .object({ items: z.array(payment), nextCursor: z.string().nullable().meta({ description: 'null on the last page' }) })
  .meta({ id: 'PaymentPage' });

export const refundOutcome = z.object({
  payment,
  refunded: amount.meta({ description: 'what this refund paid back' }),
  repeated: z.boolean().meta({ description: 'recorded before with the same transaction' }),
});

export const refundSend = z
  .object({
    id: z.number().int().min(1).meta({ description: 'the refund send id' }),
    paymentId: z.number().int().min(1),
    chainId: z.number().int(),
    token: address.nullable().meta({ description: "the asset: the ERC-20's address, null for the chain's native coin" }),
    recipient: address.meta({ description: "who it pays: the quote's owner, else the row's sender" }),
    amount: amount.meta({ description: 'base units of the asset' }),
    state: z.enum(['approved', 'sending', 'sent', 'failed', 'cancelled']),
    approvedBy: z.string().meta({ description: "an admin's wallet, `admin-token`, `cli:<user>` or `policy:REFUND_AUTO_APPROVE_MAX`" }),
    approvedAt: dateTime,
    from: address.nullable().meta({ description: 'the refund wallet that signed it' }),
    nonce: z.number().int().min(0).nullable(),
    txHash: txHash.nullable(),
    sentAt: nullableTimestamp,
    confirmedAt: nullableTimestamp,
    failures: z.number().int().min(0),
    lastError: z.string().nullable().meta({ description: 'why the last attempt failed or waits (an empty wallet, the daily limit, the gas cap)' }),
  })
  .meta({
    id: 'RefundSend',
    description:
      'A refund the refund wallet pays: approved, then sending (signed and recorded before broadcast), then sent once confirmed and recorded in the ledger.',
  });

export const refundApproval = z.object({
  send: refundSend,
  repeated: z.boolean().meta({ description: 'the refund was already approved (or is being sent): nothing changed' }),
});

export const webhookEndpoint = z
  .object({
    id: uuid,
    url: z.url(),
    events: z.array(z.string()).meta({ description: 'status event names, or `*` for every one' }),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().meta({ description: 'why it stopped receiving (the receiver answered 410 Gone)' }),
    createdBy: z.string(),
    createdAt: dateTime,
    previousSecretExpiresAt: nullableTimestamp.meta({
      description: 'after a rotation: until then deliveries carry a second `v1` signature with the old secret',
    }),
  })
  .meta({ id: 'WebhookEndpoint', description: 'A receiver of signed webhook deliveries (its secret is shown only when created or rotated).' });

export const webhookEndpointWithSecret = webhookEndpoint
  .extend({ secret: z.string() })
  .meta({ id: 'WebhookEndpointWithSecret', description: 'An endpoint with its signing secret (shown once).' });

export const webhookDeliveryStatuses = ['pending', 'delivered', 'failed', 'gone'] as const;
export const webhookDelivery = z
  .object({
    id: uuid,
    endpointId: uuid,
    uploadId: uuid,
    seq: z.number().int().meta({ description: "the event's per-upload sequence number" }),
    event: z.string(),
    payload: z.record(z.string(), z.unknown()).meta({ description: 'the JSON body POSTed (and signed)' }),
    status: z.enum(webhookDeliveryStatuses),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    createdAt: dateTime,
    finishedAt: nullableTimestamp,
    attemptLog: z.array(
      z.object({
        attempt: z.number().int(),
        at: dateTime,
        statusCode: z.number().int().nullable().meta({ description: 'null when no answer came' }),
        response: z.string().nullable().meta({ description: 'the start of the answer, or the network error' }),
        durationMs: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'WebhookDelivery' });

export const uploadState = z.enum(uploadStates);

export const reportReason = z.enum(REPORT_REASONS).meta({
  description: Object.entries(reportReasonLabels)
    .map(([reason, label]) => `\`${reason}\`: ${label}`)
    .join('; '),
});
export const filedReport = z.object({
  id: uuid,
  listingId: uuid,
  reason: reportReason,
  createdAt: dateTime,
});
export const report = z
  .object({
    id: uuid,
    reason: reportReason,
    details: z.string().nullable(),
    reporter: address.nullable().meta({ description: "the reporter's wallet; null for an anonymous report" }),
    status: z.enum(['open', 'dismissed', 'actioned']),
    resolution: z.enum(['dismiss', 'reject', 'remove']).nullable(),
    resolvedBy: z.string().nullable(),
    resolvedAt: dateTime.nullable(),
    resolutionReason: z.string().nullable(),
    createdAt: dateTime,
  })
  .meta({ id: 'Report', description: 'A report on a listing, and how a moderator resolved it.' });
export const reportedListing = z
  .object({
    listingId: uuid,
    title: z.string(),
    heldAt: dateTime.nullable().meta({ description: 'when its open reports put it on hold (REPORTS_HOLD_THRESHOLD); null when not held' }),
    moderationStatus: moderationStatus,
    state: z.string(),
    listing: listing.nullable().meta({ description: 'the listing with its media (held or not); null once removed' }),
    reports: z.array(report),
  })
  .meta({ id: 'ReportedListing', description: 'A listing with its reports: a decision is about the listing, so reports are grouped by it.' });
export const reportResolution = z.object({
  listingId: uuid,
  decision: z.enum(['dismiss', 'reject', 'remove']),
  resolved: z.number().int().min(1).meta({ description: 'how many open reports this resolved' }),
  released: z.boolean().meta({ description: 'the listing was on hold and is not any more (public again after a dismissal)' }),
});
// ----- buyers: favourites and saved searches (issue 27) -----
export const favouritesList = z
  .object({ items: z.array(listing).meta({ description: 'public listings, most recently favourited first' }) })
  .meta({ id: 'Favourites' });

export const savedSearch = z
  .object({
    id: uuid,
    name: z.string(),
    query: z.string().meta({ description: "the browse page's query string (`tags=bikes&near=52.52,13.405&radiusKm=10`): open `/?<query>` to run it" }),
    createdAt: dateTime,
  })
  .meta({ id: 'SavedSearch', description: 'A search whose new matching listings are announced by Web Push, once each.' });

export const savedSearchList = z.object({ items: z.array(savedSearch) }).meta({ id: 'SavedSearches' });
/** What a listing costs before anything is uploaded (`GET /v1/pricing`). */
export const pricing = z
  .object({
    chainId: z.number().int(),
    amount: amount.meta({ description: "the fee in the coin's base units (wei for ETH)" }),
    token: address.nullable().meta({ description: 'the ERC-20 paid with, or null for the native coin' }),
    symbol: z.string().meta({ description: "the coin's ticker", examples: ['ETH'] }),
    decimals: z.number().int().min(0).meta({ description: 'base units per coin as a power of ten: the fee is amount / 10^decimals' }),
    quoteTtlSeconds: z.number().int().positive().meta({ description: 'how long a quote can be paid once the form is sent' }),
    price: fiatPriceSchema
      .nullable()
      .meta({ description: 'the listing price in a fiat currency (PRICE); null when it is set in base units (PRICE_WEI / PRICE_TOKEN_UNITS)' }),
    offers: z
      .array(
        quoteOfferSchema.extend({
          rpcUrls: z
            .array(z.string())
            .optional()
            .meta({ description: "public RPC endpoints a wallet may add the chain with (CHAINS' `publicRpcUrls`); absent when none is configured" }),
        }),
      )
      .meta({
        description:
          'every (chain, asset) the next quote will accept, the first being the top-level `chainId`/`token`/`amount`. A native coin priced in fiat is at the feed rate read now (the quote locks its own); one whose feed is stale is left out.',
      }),
  })
  .meta({ id: 'Pricing', description: 'The fee of one listing, as the next quote will ask it.' });

/** One of the wallet's uploads still waiting for its payment. */
export const unpaidUpload = z
  .object({
    uploadId: uuid,
    title: z.string(),
    receivedAt: dateTime,
    payment: paymentRequest,
    received: amount.meta({ description: "what the upload's deposit address received so far, as the ledger holds it" }),
    remaining: amount.meta({ description: 'what is still to pay: amount - received (0 once covered)' }),
    offers: z
      .array(
        quoteOfferSchema.extend({
          received: amount.meta({ description: 'what arrived in this (chain, asset) so far, as the ledger holds it' }),
          remaining: amount.meta({
            description: 'what is still to pay in this offer: its amount - received (0 once covered). Assets are never added: pay the rest of one offer',
          }),
        }),
      )
      .optional()
      .meta({
        description:
          "each (chain, asset) the quote accepts, with what arrived and remains in it; absent on quotes made before offers (`received`/`remaining` above are the first offer's)",
      }),
  })
  .meta({ id: 'UnpaidUpload', description: 'An upload awaiting its payment: pay the rest to `payment.to` before `payment.expiresAt`, or cancel it.' });

/** What cancelling an unpaid upload did. */
export const cancelledUpload = z
  .object({
    uploadId: uuid,
    state: z.enum(['expired', 'refund_due']).meta({ description: '`refund_due` when part of the price had arrived: it is due back' }),
    refundDue: amount.meta({ description: "what is due back in the quote's own asset (0 when nothing had arrived in it)" }),
    refundsDue: z.array(z.object({ chainId: z.number().int().positive(), token: address.nullable(), amount })).meta({
      description:
        'what is due back in each (chain, asset) that received money: the quote’s own, its other offers, and assets it did not offer (each in its own base units, never added together); empty when nothing had arrived',
    }),
  })
  .meta({ id: 'CancelledUpload' });
