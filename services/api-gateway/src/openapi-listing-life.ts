/**
 * The OpenAPI entries of a listing's life after it is saved (issue 15): the owner's listings and
 * profile, edits and their moderation, sold, withdraw, remove, renew. Merged into the document by
 * openapi.ts.
 */
type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (description: string, schema: Json): Json => ({ description, content: { 'application/json': { schema } } });
const failure = (description: string): Json => json(description, ref('Error'));
const common = { '429': { $ref: '#/components/responses/RateLimited' }, '500': { $ref: '#/components/responses/Internal' } };
const session = [{ siweSession: [] }];
const admin = [{ siweSession: [] }, { adminToken: [] }];
const unauthenticated = failure('`unauthenticated` (no or malformed Bearer token) or `session_expired`');
const idParam = (description: string): Json => ({ name: 'id', in: 'path', required: true, description, schema: { type: 'string' } });
const dateTime = { type: 'string', format: 'date-time' };
const nullableDate = { anyOf: [dateTime, { type: 'null' }] };
const address = { type: 'string', pattern: '^0x[0-9a-f]{40}$' };
const uuid = { type: 'string', format: 'uuid' };
const lifecycleStates = ['pending', 'approved', 'rejected', 'sold', 'withdrawn', 'expired', 'removed'];

export const listingLifeSchemas: Record<string, Json> = {
  Price: {
    type: 'object',
    description: 'An asking price: a decimal amount (at most 2 decimals) in an ISO 4217 currency.',
    required: ['amount', 'currency'],
    properties: { amount: { type: 'string', pattern: '^\\d{1,12}(\\.\\d{1,2})?$' }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } },
  },
  ListingEdit: {
    type: 'object',
    description: 'What an edit may change, validated like the form; absent fields stay. The video cannot be swapped (a new paid listing).',
    additionalProperties: false,
    properties: {
      title: { type: 'string', minLength: 1, maxLength: 120 },
      description: { type: 'string', maxLength: 5000 },
      hashtags: { anyOf: [{ type: 'string', description: '`#cars #berlin`' }, { type: 'array', items: { type: 'string' } }] },
      latitude: { type: 'number', minimum: -90, maximum: 90 },
      longitude: { type: 'number', minimum: -180, maximum: 180 },
      price: { anyOf: [ref('Price'), { type: 'null' }], description: 'null removes the price' },
      contact: { type: ['string', 'null'], maxLength: 200 },
    },
  },
  OwnListing: {
    type: 'object',
    description: 'One of your listings, whatever its state.',
    required: ['id', 'title', 'state', 'moderationStatus', 'rejectionReason', 'expiresAt', 'price', 'pendingRevision', 'payments', 'previewUrl', 'posterUrl', 'status'],
    properties: {
      id: uuid,
      title: { type: 'string' },
      state: { type: 'string', enum: lifecycleStates, description: 'pending (waiting for a moderator), approved (public), rejected (see rejectionReason), sold, withdrawn, expired (renew it), removed' },
      moderationStatus: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
      rejectionReason: { type: ['string', 'null'] },
      removalReason: { type: ['string', 'null'] },
      price: { anyOf: [ref('Price'), { type: 'null' }] },
      contact: { type: ['string', 'null'] },
      hashtags: { type: 'array', items: { type: 'string' } },
      createdAt: dateTime,
      approvedAt: nullableDate,
      expiresAt: { ...nullableDate, description: 'the end of the paid period (set at approval, moved by renewals)' },
      soldAt: nullableDate,
      visibleUntil: { ...nullableDate, description: 'until when the public sees it' },
      pendingRevision: { anyOf: [{ type: 'object', required: ['id', 'createdAt', 'changes'], properties: { id: uuid, createdAt: dateTime, changes: { type: 'object' } } }, { type: 'null' }] },
      payments: {
        type: 'array',
        description: 'the quotes that paid it: the upload, then each renewal',
        items: {
          type: 'object',
          required: ['quoteId', 'purpose', 'amount', 'token', 'state', 'creditedTotal', 'createdAt'],
          properties: { quoteId: uuid, purpose: { type: 'string', enum: ['upload', 'renewal'] }, amount: { type: 'string' }, token: { anyOf: [address, { type: 'null' }] }, state: { type: 'string' }, creditedTotal: { type: 'string' }, createdAt: dateTime },
        },
      },
      previewUrl: { type: ['string', 'null'], description: 'null once its objects are deleted' },
      posterUrl: { type: ['string', 'null'] },
      logoUrl: { type: ['string', 'null'] },
      status: { anyOf: [ref('StatusEvent'), { type: 'null' }], description: "the upload's latest status event (processing, moderation, expiry)" },
    },
  },
  Revision: {
    type: 'object',
    description: 'A change waiting for a moderator (or decided), as a diff against what the public sees.',
    required: ['id', 'kind', 'listingId', 'owner', 'status', 'reason', 'createdAt', 'decidedAt', 'decidedBy', 'diff'],
    properties: {
      id: uuid,
      kind: { type: 'string', enum: ['listing', 'profile'] },
      listingId: { anyOf: [uuid, { type: 'null' }] },
      owner: address,
      status: { type: 'string', enum: ['pending', 'approved', 'rejected', 'superseded'] },
      reason: { type: ['string', 'null'] },
      createdAt: dateTime,
      decidedAt: nullableDate,
      decidedBy: { type: ['string', 'null'] },
      diff: { type: 'array', items: { type: 'object', required: ['field', 'public', 'proposed'], properties: { field: { type: 'string' }, public: {}, proposed: {} } } },
    },
  },
};

const notYours = failure('`listing_not_found`: no such listing, or not yours');
const badState = failure('`listing_state` (with `state`): the listing cannot do that now (e.g. edit a sold listing, renew a pending one)');

export const listingLifePaths: Record<string, Json> = {
  '/v1/me/listings': {
    get: {
      tags: ['my listings'],
      summary: 'Every listing of the signed-in wallet: its state, expiry, payments and the processing status of its upload',
      security: session,
      responses: { '200': json('your listings, newest first', { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('OwnListing') } } }), '401': unauthenticated, ...common },
    },
  },
  '/v1/me/profile': {
    get: {
      tags: ['my listings'],
      summary: 'Your public profile and the edit waiting for a moderator',
      security: session,
      responses: {
        '200': json('your profile', {
          type: 'object',
          required: ['wallet', 'displayName', 'contact', 'logoUrl', 'pendingRevision'],
          properties: { wallet: address, displayName: { type: ['string', 'null'] }, contact: { type: ['string', 'null'] }, logoUrl: { type: ['string', 'null'] }, pendingRevision: { anyOf: [{ type: 'object' }, { type: 'null' }] } },
        }),
        '401': unauthenticated,
        ...common,
      },
    },
    patch: {
      tags: ['my listings'],
      summary: 'Asks for a new public display name or contact: public once a moderator approves it',
      security: session,
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { displayName: { type: ['string', 'null'], maxLength: 80 }, contact: { type: ['string', 'null'], maxLength: 200 } } } } } },
      responses: {
        '202': json('waiting for a moderator', { type: 'object', required: ['revisionId', 'status', 'changes'], properties: { revisionId: uuid, status: { const: 'pending' }, changes: { type: 'object' } } }),
        '400': failure('`invalid_form` with `fields`'),
        '401': unauthenticated,
        ...common,
      },
    },
  },
  '/v1/listings/{id}/sold': {
    post: {
      tags: ['my listings'],
      summary: 'Marks your listing sold: shown as sold for SOLD_DISPLAY_HOURS, then hidden',
      security: session,
      parameters: [idParam('listing id')],
      responses: {
        '200': json('sold', { type: 'object', required: ['listingId', 'state', 'soldAt', 'visibleUntil'], properties: { listingId: uuid, state: { const: 'sold' }, soldAt: dateTime, visibleUntil: nullableDate } }),
        '401': unauthenticated,
        '404': notYours,
        '409': badState,
        ...common,
      },
    },
  },
  '/v1/listings/{id}/withdraw': {
    post: {
      tags: ['my listings'],
      summary: 'Withdraws your listing: hidden at once',
      security: session,
      parameters: [idParam('listing id')],
      responses: { '200': json('withdrawn', { type: 'object', required: ['listingId', 'state'], properties: { listingId: uuid, state: { const: 'withdrawn' } } }), '401': unauthenticated, '404': notYours, '409': badState, ...common },
    },
  },
  '/v1/listings/{id}/renew': {
    post: {
      tags: ['my listings'],
      summary: 'A quote to renew your listing by LISTING_DAYS (from its expiry, or from now once expired); pay it like an upload',
      description:
        'The quote has its own deposit address and is paid, hinted (`POST /v1/uploads/{renewalId}/payment`), followed (`GET /v1/uploads/{renewalId}/events`) and recorded in the ledger like an upload\'s. Once paid the listing runs longer (`listing.renewed`), without uploading or encoding anything. Paid for a listing removed meanwhile, it is recorded for refund.',
      security: session,
      parameters: [idParam('listing id')],
      responses: {
        '202': json('pay the quote', {
          type: 'object',
          required: ['renewalId', 'listingId', 'days', 'currentExpiresAt', 'payment', 'links'],
          properties: {
            renewalId: uuid,
            listingId: uuid,
            days: { type: 'integer', minimum: 1 },
            currentExpiresAt: nullableDate,
            payment: ref('PaymentRequest'),
            links: { type: 'object', required: ['status', 'events', 'payment'], properties: { status: { type: 'string' }, events: { type: 'string' }, payment: { type: 'string' } } },
          },
        }),
        '401': unauthenticated,
        '404': notYours,
        '409': badState,
        ...common,
      },
    },
  },
  '/v1/admin/listings/{id}/remove': {
    post: {
      tags: ['admin'],
      summary: 'Removes a listing: gone from every read route, its S3 objects deleted; its payments and audit trail stay',
      security: admin,
      parameters: [idParam('listing id')],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } } } } } },
      responses: {
        '200': json('removed', { type: 'object', required: ['listingId', 'state', 'objectsDeleted'], properties: { listingId: uuid, state: { const: 'removed' }, objectsDeleted: { type: 'boolean', description: 'false: S3 failed; the listing job deletes them later' } } }),
        '400': failure('`invalid_body`: a reason (1-500 characters) is required'),
        '401': unauthenticated,
        '403': failure('`forbidden`'),
        '404': failure('`listing_not_found`'),
        ...common,
      },
    },
  },
  '/v1/admin/revisions': {
    get: {
      tags: ['admin'],
      summary: 'Edits of approved listings and profile edits, each as a diff against the public version (pending: oldest first)',
      security: admin,
      parameters: [
        { name: 'status', in: 'query', required: false, schema: { type: 'string', enum: ['pending', 'approved', 'rejected', 'superseded'], default: 'pending' } },
        { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
      ],
      responses: {
        '200': json('revisions', { type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('Revision') } } }),
        '400': failure('`invalid_query` (with `field`)'),
        '401': unauthenticated,
        '403': failure('`forbidden`'),
        ...common,
      },
    },
  },
  '/v1/admin/revisions/{id}/approve': { post: revisionDecision('approve') },
  '/v1/admin/revisions/{id}/reject': { post: revisionDecision('reject') },
};

/** The owner's edit and removal: operations on the public listing's path (`/v1/listings/{id}`). */
export const listingOwnerOperations: Record<string, Json> = {
  patch: {
    tags: ['my listings'],
    summary: 'Edits your listing, validated like the form: a pending or rejected listing changes at once (a rejected one goes back to moderation); an approved one keeps its public version until a moderator approves the revision',
    security: session,
    parameters: [idParam('listing id')],
    requestBody: { required: true, content: { 'application/json': { schema: ref('ListingEdit') } } },
    responses: {
      '200': json('applied, or waiting for a moderator', {
        type: 'object',
        required: ['listingId', 'mode', 'revisionId', 'state'],
        properties: { listingId: uuid, mode: { type: 'string', enum: ['applied', 'revision'] }, revisionId: { anyOf: [uuid, { type: 'null' }] }, state: { type: 'string', enum: lifecycleStates } },
      }),
      '400': failure('`invalid_form` with `fields` naming each bad field (as the form; `video` cannot be changed)'),
      '401': unauthenticated,
      '404': notYours,
      '409': badState,
      ...common,
    },
  },
  delete: {
    tags: ['my listings'],
    summary: 'Removes your listing: gone from every read route, its S3 objects deleted; its payments and audit trail stay',
    security: session,
    parameters: [idParam('listing id')],
    responses: {
      '200': json('removed', { type: 'object', required: ['listingId', 'state', 'objectsDeleted'], properties: { listingId: uuid, state: { const: 'removed' }, objectsDeleted: { type: 'boolean' } } }),
      '401': unauthenticated,
      '404': notYours,
      ...common,
    },
  },
};

function revisionDecision(action: 'approve' | 'reject'): Json {
  return {
    tags: ['admin'],
    summary: action === 'approve' ? 'Approves a revision: it becomes the public version (audited; the owner is told)' : 'Rejects a revision: the public version stays (audited; the owner is told why)',
    security: admin,
    parameters: [idParam('revision id')],
    ...(action === 'reject' ? { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } } } } } } } : {}),
    responses: {
      '200': json('decided', ref('Revision')),
      '400': failure('`invalid_body`: a reason (1-500 characters) is required to reject'),
      '401': unauthenticated,
      '403': failure('`forbidden`'),
      '404': failure('`revision_not_found`'),
      '409': failure('`revision_decided` (with `status`) or `listing_state` (the listing was removed)'),
      ...common,
    },
  };
}
