import { z } from '@reelboard/config';
import { quoteSchema, statusEventNames, statusEventSchema, terminalEvents, uploadStates } from '@reelboard/contracts';
import { listingLifePaths, listingLifeSchemas, listingOwnerOperations } from './openapi-listing-life.js';

/** A JSON Schema or an OpenAPI object: plain JSON, checked by the document's own test. */
type Json = Record<string, unknown>;

/** Where a document schema comes from a zod contract, it is derived from it, never written twice. */
function fromZod(schema: z.ZodType, io: 'input' | 'output' = 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io }) as Json;
  return rest;
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (description: string, schema: Json): Json => ({ description, content: { 'application/json': { schema } } });
/** An error answer: always `{error, message}`, with the codes this route gives named in the description. */
const failure = (description: string): Json => json(description, ref('Error'));
const common = { '429': { $ref: '#/components/responses/RateLimited' }, '500': { $ref: '#/components/responses/Internal' } };
const serverOnly = { '500': { $ref: '#/components/responses/Internal' } };
const unauthenticated = failure('`unauthenticated` (no or malformed Bearer token) or `session_expired`');
const session = [{ siweSession: [] }];
const admin = [{ siweSession: [] }, { adminToken: [] }];

const uuidParam = (name: string, description: string): Json => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const query = (name: string, description: string, schema: Json): Json => ({ name, in: 'query', required: false, description, schema });
const pageQuery = [query('cursor', 'opaque cursor from the previous page\'s `nextCursor`', { type: 'string' }), query('limit', 'page size', { type: 'integer', minimum: 1, maximum: 100, default: 20 })];

const address = { type: 'string', pattern: '^0x[0-9a-f]{40}$', description: 'lower-case 0x-prefixed 20-byte address' };
const dateTime = { type: 'string', format: 'date-time' };

const schemas: Record<string, Json> = {
  Error: {
    type: 'object',
    description: 'Every error answer. `error` is a stable code clients switch on; `message` is for people.',
    required: ['error', 'message'],
    properties: {
      error: { type: 'string', examples: ['invalid_form', 'upload_not_found', 'rate_limited'] },
      message: { type: 'string' },
      fields: { type: 'object', description: 'per-field messages of an `invalid_form` answer', additionalProperties: { type: 'string' } },
      field: { type: 'string', description: 'the query or body parameter at fault' },
      tag: { type: 'string', description: 'the hashtag at fault' },
      refundTxHash: { type: 'string', description: 'the transaction that already refunded the payment (`already_refunded`)' },
      state: { type: 'string', description: 'the listing\'s state (`listing_state`, `listing_sold`, `listing_expired`) or the revision\'s (`revision_decided`)' },
      status: { type: 'string', description: 'the revision\'s status (`revision_decided`)' },
    },
  },
  StatusEvent: { ...fromZod(statusEventSchema), description: 'One step of an upload, as stored and as sent on the status stream.' },
  Quote: { ...fromZod(quoteSchema, 'input'), description: 'The payment asked for: at least `amount` (base units) to `to` on `chainId`, before `expiresAt`; `token` null for the native coin.' },
  PaymentRequest: {
    type: 'object',
    required: ['chainId', 'to', 'amount', 'token', 'expiresAt'],
    properties: {
      chainId: { type: 'integer' },
      to: { ...address, description: "the quote's own deposit address: whatever reaches it, from any wallet and by any route (a contract wallet, an EIP-7702 batch, an exchange), pays this upload; several payments add up" },
      amount: { type: 'string', pattern: '^\\d+$' },
      token: { anyOf: [address, { type: 'null' }] },
      expiresAt: dateTime,
    },
  },
  Listing: {
    type: 'object',
    required: ['id', 'title', 'description', 'hashtags', 'owner', 'location', 'video', 'previewUrl', 'posterUrl', 'logoUrl', 'createdAt'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      title: { type: 'string' },
      description: { type: 'string' },
      hashtags: { type: 'array', items: { type: 'string' } },
      owner: { type: 'object', required: ['wallet', 'displayName'], properties: { wallet: address, displayName: { type: ['string', 'null'] } } },
      location: { type: 'object', required: ['latitude', 'longitude'], properties: { latitude: { type: 'number', minimum: -90, maximum: 90 }, longitude: { type: 'number', minimum: -180, maximum: 180 } } },
      distanceKm: { type: 'number', minimum: 0, description: 'only when searched with `near`' },
      video: {
        type: 'object',
        required: ['url', 'width', 'height', 'durationSeconds', 'bytes'],
        properties: { url: { type: 'string', format: 'uri' }, width: { type: 'integer' }, height: { type: 'integer' }, durationSeconds: { type: 'number' }, bytes: { type: 'integer' } },
      },
      previewUrl: { type: 'string', format: 'uri' },
      posterUrl: { type: 'string', format: 'uri' },
      logoUrl: { type: ['string', 'null'], format: 'uri' },
      price: { anyOf: [ref('Price'), { type: 'null' }] },
      contact: { type: ['string', 'null'], description: 'how to reach the seller' },
      state: { type: 'string', enum: ['active', 'sold'], description: '`sold` while a sold listing is still shown (SOLD_DISPLAY_HOURS)' },
      soldAt: { anyOf: [dateTime, { type: 'null' }] },
      expiresAt: { anyOf: [dateTime, { type: 'null' }], description: 'the end of the paid period' },
      createdAt: dateTime,
    },
  },
  ...listingLifeSchemas,
  ListingPage: {
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: { items: { type: 'array', items: ref('Listing') }, nextCursor: { type: ['string', 'null'], description: 'null on the last page' } },
  },
  WebhookEndpoint: {
    type: 'object',
    description: 'A receiver of signed webhook deliveries (its secret is shown only when created or rotated).',
    required: ['id', 'url', 'events', 'enabled', 'disabledReason', 'createdBy', 'createdAt', 'previousSecretExpiresAt'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      url: { type: 'string', format: 'uri' },
      events: { type: 'array', items: { type: 'string' }, description: 'status event names, or `*` for every one' },
      enabled: { type: 'boolean' },
      disabledReason: { type: ['string', 'null'], description: 'why it stopped receiving (the receiver answered 410 Gone)' },
      createdBy: { type: 'string' },
      createdAt: dateTime,
      previousSecretExpiresAt: { anyOf: [dateTime, { type: 'null' }], description: 'after a rotation: until then deliveries carry a second `v1` signature with the old secret' },
    },
  },
  WebhookDelivery: {
    type: 'object',
    required: ['id', 'endpointId', 'uploadId', 'seq', 'event', 'payload', 'status', 'attempts', 'lastStatusCode', 'createdAt', 'finishedAt', 'attemptLog'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      endpointId: { type: 'string', format: 'uuid' },
      uploadId: { type: 'string', format: 'uuid' },
      seq: { type: 'integer', description: 'the event\'s per-upload sequence number' },
      event: { type: 'string' },
      payload: { type: 'object', description: 'the JSON body POSTed (and signed)' },
      status: { type: 'string', enum: ['pending', 'delivered', 'failed', 'gone'] },
      attempts: { type: 'integer' },
      lastStatusCode: { type: ['integer', 'null'] },
      createdAt: dateTime,
      finishedAt: { anyOf: [dateTime, { type: 'null' }] },
      attemptLog: {
        type: 'array',
        items: {
          type: 'object',
          required: ['attempt', 'at', 'statusCode', 'response', 'durationMs'],
          properties: {
            attempt: { type: 'integer' },
            at: dateTime,
            statusCode: { type: ['integer', 'null'], description: 'null when no answer came' },
            response: { type: ['string', 'null'], description: 'the start of the answer, or the network error' },
            durationMs: { type: 'integer' },
          },
        },
      },
    },
  },
};

const listingQuery = [
  query('tags', 'hashtags, comma- or space-separated, `#` optional (at most 10)', { type: 'string', examples: ['cars,#berlin'] }),
  query('match', 'whether a listing needs all the tags or any of them', { type: 'string', enum: ['all', 'any'], default: 'all' }),
  query('near', '`<latitude>,<longitude>`: nearest first, with `distanceKm`', { type: 'string', examples: ['52.52,13.405'] }),
  query('radiusKm', 'only within this distance of `near`', { type: 'number', minimum: 0.001, maximum: 20037 }),
  query('owner', 'only this wallet\'s listings', { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' }),
  query('priceMin', 'only listings with an asking price of at least this amount', { type: 'number', minimum: 0 }),
  query('priceMax', 'only listings with an asking price of at most this amount', { type: 'number', minimum: 0 }),
  query('currency', 'only listings priced in this ISO 4217 currency', { type: 'string', pattern: '^[A-Za-z]{3}$' }),
  ...pageQuery,
];

const sseDescription = [
  'Server-Sent Events. The first event is the current status (or, with `Last-Event-ID: n`, every event after `n`), then every change.',
  'Each event has `id` (the per-upload sequence number), `event` (its name) and `data` (a JSON `StatusEvent`).',
  `Event names: ${statusEventNames.map((name) => `\`${name}\``).join(', ')}.`,
  `The stream ends after ${[...terminalEvents].map((name) => `\`${name}\``).join(', ')}. Comment lines (\`: heartbeat\`) keep proxies from closing an idle stream.`,
  '`progress` events carry `progress` (percent); `payment.rejected` carries its code in `message`.',
].join(' ');

const paths: Record<string, Json> = {
  '/v1/auth/nonce': {
    get: {
      tags: ['sign-in'],
      summary: 'A single-use nonce for an EIP-4361 message (expires in NONCE_TTL_SECONDS)',
      responses: { '200': json('a fresh nonce', { type: 'object', required: ['nonce'], properties: { nonce: { type: 'string', pattern: '^[0-9a-zA-Z]{8,}$' } } }), ...common },
    },
  },
  '/v1/auth/verify': {
    post: {
      tags: ['sign-in'],
      summary: 'Sign in with Ethereum: the signed EIP-4361 message opens a session',
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { type: 'object', required: ['message', 'signature'], properties: { message: { type: 'string', maxLength: 4096 }, signature: { type: 'string', pattern: '^0x[0-9a-fA-F]+$' } } } } },
      },
      responses: {
        '200': json('signed in: send `Authorization: Bearer <token>`', { type: 'object', required: ['address', 'token', 'expiresAt'], properties: { address, token: { type: 'string' }, expiresAt: dateTime } }),
        '400': failure('`invalid_body` (message or signature missing or malformed) or `bad_request` (malformed JSON)'),
        '401': failure('`siwe_malformed`, `siwe_wrong_domain`, `siwe_wrong_uri`, `siwe_wrong_chain`, `siwe_not_yet_issued`, `siwe_no_expiration`, `siwe_expired`, `siwe_not_yet_valid`, `siwe_bad_nonce`, `siwe_bad_signature`'),
        '413': failure('`bad_request`: the JSON body is over 32 kB'),
        ...common,
      },
    },
  },
  '/v1/auth/logout': {
    post: { tags: ['sign-in'], summary: 'Ends the session on every replica', security: session, responses: { '204': { description: 'signed out' }, '401': unauthenticated, ...common } },
  },
  '/v1/uploads': {
    post: {
      tags: ['uploads'],
      summary: 'The listing form: files are streamed to staging; answers the payment quote',
      security: session,
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: ['video', 'title', 'latitude', 'longitude'],
              properties: {
                video: { type: 'string', format: 'binary', contentMediaType: 'video/*', description: 'a video container (MP4, MOV, WebM, MKV, ...), at most MAX_VIDEO_BYTES' },
                logo: { type: 'string', format: 'binary', contentMediaType: 'image/*', description: 'PNG, JPEG or WebP (no SVG), at most MAX_LOGO_BYTES and MAX_LOGO_SIDE pixels a side; stored as a square WebP' },
                title: { type: 'string', minLength: 1, maxLength: 120 },
                description: { type: 'string', maxLength: 5000 },
                hashtags: { type: 'string', description: 'e.g. `#cars #berlin` (at most 10)' },
                latitude: { type: 'string', pattern: '^-?\\d+(\\.\\d+)?$', description: 'decimal, -90..90' },
                longitude: { type: 'string', pattern: '^-?\\d+(\\.\\d+)?$', description: 'decimal, -180..180' },
                displayName: { type: 'string', maxLength: 80 },
                contact: { type: 'string', maxLength: 200 },
                priceAmount: { type: 'string', pattern: '^\\d{1,12}(\\.\\d{1,2})?$', description: 'the asking price (with priceCurrency), e.g. `120.50`' },
                priceCurrency: { type: 'string', pattern: '^[A-Za-z]{3}$', description: 'ISO 4217, e.g. `EUR`' },
              },
            },
            encoding: { video: { contentType: 'video/*, application/octet-stream' }, logo: { contentType: 'image/png, image/jpeg, image/webp' } },
          },
        },
      },
      responses: {
        '202': json('accepted: pay the quote, then send the tx hash', {
          type: 'object',
          required: ['uploadId', 'payment', 'links'],
          properties: {
            uploadId: { type: 'string', format: 'uuid' },
            payment: ref('PaymentRequest'),
            links: { type: 'object', required: ['status', 'events', 'payment'], properties: { status: { type: 'string' }, events: { type: 'string' }, payment: { type: 'string' } } },
          },
        }),
        '400': failure('`invalid_form` with `fields` naming each bad field (missing, out of range, sent twice, control characters); `unexpected_file`, `bad_request` (malformed multipart)'),
        '401': unauthenticated,
        '413': failure('`request_too_large` (Content-Length over the limits, refused before reading), `file_too_large`, `logo_too_large`, `field_too_large`, `too_many_parts`, `too_many_files`, `too_many_fields`; nothing stays on disk'),
        '415': failure('`expected_multipart`, `unsupported_video` (the first bytes are not a video container), `unsupported_logo`'),
        ...common,
      },
    },
  },
  '/v1/uploads/{id}': {
    get: {
      tags: ['uploads'],
      summary: 'The latest status of one of your uploads, and its quote',
      security: session,
      parameters: [uuidParam('id', 'upload id')],
      responses: {
        '200': json('the upload', { type: 'object', required: ['uploadId', 'status', 'payment'], properties: { uploadId: { type: 'string', format: 'uuid' }, status: { anyOf: [ref('StatusEvent'), { type: 'null' }] }, payment: { anyOf: [ref('Quote'), { type: 'null' }] } } }),
        '401': unauthenticated,
        '404': failure('`upload_not_found`: no such upload, or not yours'),
        ...common,
      },
    },
  },
  '/v1/uploads/{id}/preview': {
    get: {
      tags: ['uploads'],
      summary: 'The preview loop and poster of one of your uploads, as soon as they are stored (after the `preview.ready` event)',
      security: session,
      parameters: [uuidParam('id', 'upload id')],
      responses: {
        '200': json('URLs of the stored preview and poster', { type: 'object', required: ['uploadId', 'previewUrl', 'posterUrl'], properties: { uploadId: { type: 'string', format: 'uuid' }, previewUrl: { type: 'string', format: 'uri' }, posterUrl: { type: 'string', format: 'uri' } } }),
        '401': unauthenticated,
        '404': failure('`upload_not_found`: no such upload, or not yours; `preview_not_ready`: not stored yet'),
        ...common,
      },
    },
  },
  '/v1/uploads/{id}/payment': {
    post: {
      tags: ['uploads'],
      summary: 'A hint: the hash of a transaction that paid the quote, so its block is checked at once (the deposit address is watched anyway)',
      description: 'Idempotent. While the upload awaits payment the hash is followed (202) and what it did arrives on the status stream (`payment.confirmed`, `payment.received` for a part of the price, or `payment.rejected` with `no_payment`, `reverted`, `not_found`, `unverifiable`). Once the upload is past waiting for payment, any hash answers 200 with its state.',
      security: session,
      parameters: [uuidParam('id', 'upload id')],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['txHash'], properties: { txHash: { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$' } } } } } },
      responses: {
        '200': json('the upload no longer waits for payment: where it stands', {
          type: 'object',
          required: ['uploadId', 'txHash', 'state', 'status'],
          properties: { uploadId: { type: 'string', format: 'uuid' }, txHash: { type: 'string' }, state: { anyOf: [{ type: 'string', enum: [...uploadStates] }, { type: 'null' }] }, status: { anyOf: [ref('StatusEvent'), { type: 'null' }] } },
        }),
        '202': json('followed: the watcher checks the transaction once it is confirmed', { type: 'object', required: ['uploadId', 'txHash', 'state'], properties: { uploadId: { type: 'string', format: 'uuid' }, txHash: { type: 'string' }, state: { type: 'string', enum: ['awaiting_payment'] } } }),
        '400': failure('`invalid_tx_hash`, or `bad_request` (malformed JSON)'),
        '401': unauthenticated,
        '404': failure('`upload_not_found`'),
        ...common,
        '429': failure('`too_many_hashes`: MAX_PAYMENT_HINTS other transactions are being checked for this upload; or `rate_limited` (see the other routes)'),
      },
    },
  },
  '/v1/uploads/{id}/events': {
    get: {
      tags: ['uploads'],
      summary: 'Live status of one of your uploads (Server-Sent Events)',
      description: sseDescription,
      security: session,
      parameters: [uuidParam('id', 'upload id'), { name: 'Last-Event-ID', in: 'header', required: false, description: 'resume after this event id', schema: { type: 'string', pattern: '^\\d+$' } }],
      responses: {
        '200': {
          description: sseDescription,
          content: { 'text/event-stream': { schema: { type: 'string' }, 'x-event-names': [...statusEventNames], 'x-event-data': ref('StatusEvent') } },
        },
        '401': unauthenticated,
        '404': failure('`upload_not_found`: no such upload, or not yours'),
        ...common,
      },
    },
  },
  '/v1/me/uploads': {
    get: {
      tags: ['uploads'],
      summary: 'Your uploads (newest first) with their latest status',
      security: session,
      responses: {
        '200': json('your uploads', { type: 'object', required: ['items'], properties: { items: { type: 'array', items: { type: 'object', required: ['uploadId', 'status'], properties: { uploadId: { type: 'string', format: 'uuid' }, status: { anyOf: [ref('StatusEvent'), { type: 'null' }] } } } } } }),
        '401': unauthenticated,
        ...common,
      },
    },
  },
  '/v1/listings': {
    get: {
      tags: ['listings'],
      summary: 'Approved listings by hashtags, distance and owner; nearest first with `near`, else newest first',
      parameters: listingQuery,
      responses: { '200': json('a page of listings', ref('ListingPage')), '400': failure('`invalid_query` (with `field`), `invalid_hashtag` (with `tag`), `invalid_cursor`'), ...common },
    },
  },
  '/v1/listings/{id}': {
    get: {
      tags: ['listings'],
      summary: 'One public listing (approved, inside its paid period; a sold one while it is still shown)',
      parameters: [uuidParam('id', 'listing id (the upload id)')],
      responses: {
        '200': json('the listing', ref('Listing')),
        '404': failure('`listing_not_found`'),
        '410': failure('`listing_expired` or `listing_sold` (with `state` and `title`): it was public and is no longer shown'),
        ...common,
      },
    },
  },
  '/v1/hashtags': {
    get: {
      tags: ['listings'],
      summary: 'Hashtag autocomplete, most used first',
      parameters: [query('prefix', 'the start of a hashtag, `#` optional', { type: 'string' }), query('limit', 'how many', { type: 'integer', minimum: 1, maximum: 50, default: 10 })],
      responses: {
        '200': json('matching hashtags', { type: 'object', required: ['prefix', 'hashtags'], properties: { prefix: { type: 'string' }, hashtags: { type: 'array', items: { type: 'object', required: ['tag', 'listings'], properties: { tag: { type: 'string' }, listings: { type: 'integer', minimum: 0 } } } } } }),
        '400': failure('`invalid_hashtag` (the prefix is not a hashtag start) or `invalid_query`'),
        ...common,
      },
    },
  },
  '/v1/users/{wallet}': {
    get: {
      tags: ['listings'],
      summary: 'A user\'s public profile and approved listings',
      parameters: [{ name: 'wallet', in: 'path', required: true, schema: { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' } }, ...pageQuery],
      responses: {
        '200': json('the profile', {
          type: 'object',
          required: ['wallet', 'displayName', 'contact', 'logoUrl', 'memberSince', 'listingCount', 'listings'],
          properties: { wallet: address, displayName: { type: ['string', 'null'] }, contact: { type: ['string', 'null'] }, logoUrl: { type: ['string', 'null'] }, memberSince: dateTime, listingCount: { type: 'integer', minimum: 0 }, listings: ref('ListingPage') },
        }),
        '400': failure('`invalid_query` (wallet or paging), `invalid_cursor`'),
        '404': failure('`user_not_found`'),
        ...common,
      },
    },
  },
  '/v1/admin/listings': {
    get: {
      tags: ['admin'],
      summary: 'The moderation queue: listings by moderation status',
      security: admin,
      parameters: [query('status', 'moderation status', { type: 'string', enum: ['pending', 'approved', 'rejected'], default: 'pending' }), ...pageQuery],
      responses: {
        '200': json('a page of listings', ref('ListingPage')),
        '400': failure('`invalid_query`, `invalid_cursor`'),
        '401': unauthenticated,
        '403': failure('`forbidden`: not an admin wallet, or a wrong admin token'),
        ...common,
      },
    },
  },
  '/v1/admin/listings/{id}/approve': { post: moderation('approve') },
  '/v1/admin/listings/{id}/reject': { post: moderation('reject') },
  '/v1/push/vapid-public-key': {
    get: {
      tags: ['notifications'],
      summary: 'The VAPID public key to subscribe to Web Push with (`applicationServerKey`)',
      responses: {
        '200': json('the key', { type: 'object', required: ['publicKey'], properties: { publicKey: { type: 'string', pattern: '^[A-Za-z0-9_-]{87}$' } } }),
        '503': failure('`push_not_configured`: this server has no VAPID key'),
        ...common,
      },
    },
  },
  '/v1/me/push-subscriptions': {
    post: {
      tags: ['notifications'],
      summary: 'Stores this browser\'s push subscription for the signed-in wallet',
      description: 'The body is the browser\'s `PushSubscription` as JSON. The wallet\'s browsers are then told when a payment is confirmed, refused or late, when the listing is saved, approved or rejected, and when processing failed or the upload expired. The endpoint must be on a known push service (PUSH_ALLOWED_HOSTS).',
      security: session,
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['endpoint', 'keys'],
              properties: {
                endpoint: { type: 'string', format: 'uri', pattern: '^https://' },
                expirationTime: { type: ['number', 'null'] },
                keys: { type: 'object', required: ['p256dh', 'auth'], properties: { p256dh: { type: 'string' }, auth: { type: 'string' } } },
              },
            },
          },
        },
      },
      responses: {
        '201': json('stored', { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } }),
        '200': json('already stored (keys updated)', { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } }),
        '400': failure('`invalid_body` (endpoint not https or not a known push service, keys missing or malformed) or `bad_request`'),
        '401': unauthenticated,
        '503': failure('`push_not_configured`'),
        ...common,
      },
    },
    delete: {
      tags: ['notifications'],
      summary: 'Removes this browser\'s subscription (by endpoint) from the signed-in wallet',
      security: session,
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['endpoint'], properties: { endpoint: { type: 'string' } } } } } },
      responses: {
        '204': { description: 'removed' },
        '400': failure('`invalid_body`: endpoint is required'),
        '401': unauthenticated,
        '404': failure('`subscription_not_found`'),
        ...common,
      },
    },
  },
  '/v1/admin/webhooks': {
    post: {
      tags: ['webhooks'],
      summary: 'Registers a webhook endpoint; the answer holds its signing secret (shown once)',
      description:
        'Each status event the endpoint wants is POSTed as JSON `{id, type, uploadId, seq, createdAt, data}` with `Reelboard-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, `Reelboard-Event` and `Reelboard-Delivery`. Any 2xx delivers; 410 disables the endpoint; anything else is retried with exponential backoff for WEBHOOK_RETRY_FOR_SECONDS (a day). Events of one upload arrive in `seq` order.',
      security: admin,
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['url', 'events'],
              properties: {
                url: { type: 'string', format: 'uri' },
                events: { type: 'array', minItems: 1, items: { type: 'string', enum: ['*', ...statusEventNames.filter((name) => name !== 'progress')] } },
                secret: { type: 'string', minLength: 24, description: 'generated (`whsec_...`) when not given' },
              },
            },
          },
        },
      },
      responses: {
        '201': json('registered', { allOf: [ref('WebhookEndpoint'), { type: 'object', required: ['secret'], properties: { secret: { type: 'string' } } }] }),
        '400': failure('`invalid_body` (url, events or secret) or `bad_request`'),
        '401': unauthenticated,
        '403': failure('`forbidden`'),
        ...common,
      },
    },
    get: {
      tags: ['webhooks'],
      summary: 'Every webhook endpoint (without secrets)',
      security: admin,
      responses: {
        '200': json('the endpoints', { type: 'object', required: ['endpoints'], properties: { endpoints: { type: 'array', items: ref('WebhookEndpoint') } } }),
        '401': unauthenticated,
        '403': failure('`forbidden`'),
        ...common,
      },
    },
  },
  '/v1/admin/webhooks/{id}': {
    patch: {
      tags: ['webhooks'],
      summary: 'Changes an endpoint\'s URL or events, or enables it again (after a 410) or disables it',
      security: admin,
      parameters: [uuidParam('id', 'webhook endpoint id')],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { url: { type: 'string', format: 'uri' }, events: { type: 'array', items: { type: 'string' } }, enabled: { type: 'boolean' } } } } } },
      responses: { '200': json('the endpoint', ref('WebhookEndpoint')), '400': failure('`invalid_body`'), '401': unauthenticated, '403': failure('`forbidden`'), '404': failure('`webhook_not_found`'), ...common },
    },
    delete: {
      tags: ['webhooks'],
      summary: 'Removes an endpoint and its delivery log',
      security: admin,
      parameters: [uuidParam('id', 'webhook endpoint id')],
      responses: { '204': { description: 'removed' }, '401': unauthenticated, '403': failure('`forbidden`'), '404': failure('`webhook_not_found`'), ...common },
    },
  },
  '/v1/admin/webhooks/{id}/rotate-secret': {
    post: {
      tags: ['webhooks'],
      summary: 'Replaces the signing secret; the old one keeps signing (a second `v1`) for `overlapSeconds` (default a day)',
      security: admin,
      parameters: [uuidParam('id', 'webhook endpoint id')],
      requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { overlapSeconds: { type: 'integer', minimum: 0, maximum: 604800 } } } } } },
      responses: {
        '200': json('the new secret (shown once)', { allOf: [ref('WebhookEndpoint'), { type: 'object', required: ['secret'], properties: { secret: { type: 'string' } } }] }),
        '400': failure('`invalid_body`'),
        '401': unauthenticated,
        '403': failure('`forbidden`'),
        '404': failure('`webhook_not_found`'),
        ...common,
      },
    },
  },
  '/v1/admin/webhooks/{id}/deliveries': {
    get: {
      tags: ['webhooks'],
      summary: 'An endpoint\'s deliveries, newest first, each with every attempt and its answer',
      security: admin,
      parameters: [uuidParam('id', 'webhook endpoint id'), query('status', 'only deliveries in this state', { type: 'string', enum: ['pending', 'delivered', 'failed', 'gone'] }), query('limit', 'at most this many', { type: 'integer', minimum: 1, maximum: 200, default: 50 })],
      responses: {
        '200': json('the deliveries', { type: 'object', required: ['deliveries'], properties: { deliveries: { type: 'array', items: ref('WebhookDelivery') } } }),
        '400': failure('`invalid_query`'),
        '401': unauthenticated,
        '403': failure('`forbidden`'),
        '404': failure('`webhook_not_found`'),
        ...common,
      },
    },
  },
  '/v1/admin/webhooks/deliveries/{deliveryId}/replay': {
    post: {
      tags: ['webhooks'],
      summary: 'Sends a delivery again (delivered, failed or gone), with the same body and a fresh signature',
      security: admin,
      parameters: [uuidParam('deliveryId', 'webhook delivery id')],
      responses: {
        '202': json('queued', { type: 'object', required: ['deliveryId', 'status'], properties: { deliveryId: { type: 'string', format: 'uuid' }, status: { const: 'pending' } } }),
        '401': unauthenticated,
        '403': failure('`forbidden`'),
        '404': failure('`delivery_not_found`'),
        '409': failure('`delivery_pending`: it is still being sent'),
        ...common,
      },
    },
  },
  '/admin/queues': {
    get: {
      tags: ['admin'],
      summary: 'bull-board: the dashboard of every work queue (an HTML page for browsers)',
      description: 'Browsers sign in with HTTP Basic auth: any user name, the admin token as password. API clients may use a Bearer session of an admin wallet or `X-Admin-Token`.',
      security: [{ adminBasic: [] }, ...admin],
      responses: {
        '200': { description: 'the dashboard page', content: { 'text/html': { schema: { type: 'string' } } } },
        '401': { ...failure('`unauthenticated`, `session_expired` or `invalid_credentials`'), headers: { 'WWW-Authenticate': { schema: { type: 'string' }, description: 'asks a browser for the admin token' } } },
        '403': failure('`forbidden`: not an admin, or a cross-site change'),
        ...serverOnly,
      },
    },
  },
  '/healthz': { get: { tags: ['operations'], summary: 'Liveness', responses: { '200': json('the process answers', { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } }), ...serverOnly } } },
  '/readyz': {
    get: {
      tags: ['operations'],
      summary: 'Readiness: Redis and Postgres answer (RPC and S3 are reported, not gating)',
      responses: {
        '200': json('Redis and Postgres answer; `degraded` is true when the RPC or S3 does not', ref('Readiness')),
        '503': json('Redis or Postgres does not answer; `checks` names it with its error', ref('Readiness')),
        ...serverOnly,
      },
    },
  },
  '/metrics': { get: { tags: ['operations'], summary: 'Prometheus metrics', responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...serverOnly } } },
  '/openapi.json': { get: { tags: ['documentation'], summary: 'This document', responses: { '200': json('OpenAPI 3.1', { type: 'object', required: ['openapi', 'paths'] }), ...serverOnly } } },
  '/docs': { get: { tags: ['documentation'], summary: 'This document, browsable (a page for browsers; works offline)', responses: { '200': { description: 'Swagger UI', content: { 'text/html': { schema: { type: 'string' } } } }, ...serverOnly } } },
};

const amount = { type: 'string', pattern: '^\\d+$', description: 'base units (wei), a decimal string' };
const txHash = { type: 'string', pattern: '^0x[0-9a-f]{64}$' };
const nullable = (schema: Json): Json => ({ anyOf: [schema, { type: 'null' }] });
const paymentStatuses = ['partial', 'paid', 'overpaid', 'late', 'unmatched', 'unfulfilled', 'refunded'];

schemas.Payment = {
  type: 'object',
  description:
    'One row of the payment ledger: an increase of a quote\'s deposit address total (or one transfer of it, where the chain shows the transfers), or an `unmatched` transfer to the plain merchant address. `status` is where it stands now, `creditStatus` how it stood when it was seen.',
  required: [
    'id', 'quoteId', 'uploadId', 'listingId', 'owner', 'chainId', 'depositAddress', 'to', 'token', 'amount', 'status', 'creditStatus', 'refundDue', 'refundedAmount',
    'txHash', 'logIndex', 'from', 'fromBlock', 'toBlock', 'blockTime', 'failureReason', 'failedStage', 'refundTxHash', 'refundedAt', 'refundedBy', 'quote', 'recordedAt',
  ],
  properties: {
    id: { type: 'integer', minimum: 1, description: 'the ledger row id (refunds name it)' },
    quoteId: nullable({ type: 'string', format: 'uuid' }),
    uploadId: nullable({ type: 'string', format: 'uuid' }),
    listingId: nullable({ type: 'string', format: 'uuid' }),
    owner: nullable({ ...address, description: 'the quote\'s owner; null for an unmatched transfer (see `from`)' }),
    chainId: { type: 'integer' },
    depositAddress: nullable(address),
    to: { ...address, description: 'where the money arrived: the deposit address, or the merchant address' },
    token: nullable(address),
    amount,
    status: { type: 'string', enum: paymentStatuses },
    creditStatus: nullable({ type: 'string', enum: paymentStatuses }),
    refundDue: { ...amount, description: 'what is still due back' },
    refundedAmount: { ...amount, description: 'what refunds paid back so far' },
    txHash: nullable({ ...txHash, description: 'null where the chain shows no transaction (an internal transfer)' }),
    logIndex: nullable({ type: 'integer', minimum: 0 }),
    from: nullable(address),
    fromBlock: nullable({ type: 'string', pattern: '^\\d+$' }),
    toBlock: nullable({ type: 'string', pattern: '^\\d+$' }),
    blockTime: dateTime,
    failureReason: nullable({ type: 'string' }),
    failedStage: nullable({ type: 'string' }),
    refundTxHash: nullable(txHash),
    refundedAt: nullable(dateTime),
    refundedBy: nullable({ type: 'string' }),
    quote: nullable({
      type: 'object',
      required: ['amount', 'state', 'expiresAt', 'creditedTotal'],
      properties: { amount, state: { type: 'string', enum: ['open', 'paid', 'expired'] }, expiresAt: dateTime, creditedTotal: amount },
    }),
    recordedAt: dateTime,
  },
};
schemas.PaymentPage = {
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: { items: { type: 'array', items: ref('Payment') }, nextCursor: { type: ['string', 'null'], description: 'null on the last page' } },
};

paths['/v1/admin/payments'] = {
  get: {
    tags: ['admin'],
    summary: 'The payment ledger, newest first: what is due back (`refund_due`) or rows of one status',
    security: admin,
    parameters: [query('status', '`refund_due` (every row with something due back) or a status; all rows when absent', { type: 'string', enum: ['refund_due', ...paymentStatuses] }), ...pageQuery],
    responses: {
      '200': json('a page of ledger rows', ref('PaymentPage')),
      '400': failure('`invalid_query` (with `field`), `invalid_cursor`'),
      '401': unauthenticated,
      '403': failure('`forbidden`: not an admin wallet, or a wrong admin token'),
      ...common,
    },
  },
};
paths['/v1/admin/payments/{id}/refund'] = {
  post: {
    tags: ['admin'],
    summary: 'Records that what a ledger row had due back was refunded by a transaction',
    description:
      'Audited in `payment_events`. The row becomes `refunded`; the upload\'s owner gets `refund.sent` on its status stream. The same refund sent again answers 200 with `repeated: true` and changes nothing.',
    security: admin,
    parameters: [{ name: 'id', in: 'path', required: true, description: 'ledger row id', schema: { type: 'string', pattern: '^[1-9]\\d*$' } }],
    requestBody: {
      required: true,
      content: { 'application/json': { schema: { type: 'object', required: ['txHash'], properties: { txHash: { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$' }, note: { type: 'string', maxLength: 500 } } } } },
    },
    responses: {
      '200': json('the refund', {
        type: 'object',
        required: ['payment', 'refunded', 'repeated'],
        properties: { payment: ref('Payment'), refunded: { ...amount, description: 'what this refund paid back' }, repeated: { type: 'boolean', description: 'recorded before with the same transaction' } },
      }),
      '400': failure('`invalid_body` (with `field`: `txHash` missing or malformed, `note` too long) or `bad_request` (malformed JSON)'),
      '401': unauthenticated,
      '403': failure('`forbidden`'),
      '404': failure('`payment_not_found`'),
      '409': failure('`not_refundable` (nothing is due back on the row) or `already_refunded` (refunded by another transaction, named in `refundTxHash`)'),
      ...common,
    },
  },
};

schemas.Readiness = {
  type: 'object',
  required: ['ok', 'checks', 'degraded'],
  properties: {
    ok: { type: 'boolean', description: 'every gating dependency (Redis, Postgres) answers' },
    checks: { type: 'object', additionalProperties: { type: 'string' }, description: '`ok` or the error of each dependency, gating or reported' },
    degraded: { type: 'boolean', description: 'a reported dependency (RPC, S3) does not answer' },
  },
};

function moderation(action: 'approve' | 'reject'): Json {
  return {
    tags: ['admin'],
    summary: action === 'approve' ? 'Approves a listing: it becomes public' : 'Rejects a listing with a reason the owner is told',
    description: 'Audited in `moderation_events`; the owner gets `moderation.approved` / `moderation.rejected` on the upload\'s status.',
    security: admin,
    parameters: [uuidParam('id', 'listing id')],
    requestBody: {
      required: action === 'reject',
      content: { 'application/json': { schema: { type: 'object', ...(action === 'reject' ? { required: ['reason'] } : {}), properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } } } } },
    },
    responses: {
      '200': json('the decision', {
        type: 'object',
        required: ['listingId', 'status', 'previousStatus', 'actor', 'reason', 'decidedAt'],
        properties: {
          listingId: { type: 'string', format: 'uuid' },
          status: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
          previousStatus: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
          actor: { type: 'string', description: 'the admin wallet, or `admin-token`' },
          reason: { type: ['string', 'null'] },
          decidedAt: dateTime,
        },
      }),
      '400': failure(action === 'reject' ? '`invalid_body`: a reason (1-500 characters) is required' : '`bad_request` (malformed JSON)'),
      '401': unauthenticated,
      '403': failure('`forbidden`'),
      '404': failure('`listing_not_found`'),
      ...common,
    },
  };
}

/** The gateway's OpenAPI 3.1 document: every route, its answers and its error codes. */
export function openApiDocument(publicUrl: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Reelboard API',
      version: '1.0.0',
      description:
        'The gateway of Reelboard, a board of paid video listings: Sign-In with Ethereum, the listing form, payment, live status, the public read API and moderation. Every error is JSON `{error, message}` with a stable `error` code. `/v1/*` is rate limited per IP (and uploads per wallet): over a limit the answer is 429 with `Retry-After`. The web client at `/` and `/assets/*` is pages, not API, and not listed here.',
    },
    servers: [{ url: publicUrl }],
    tags: [
      { name: 'sign-in', description: 'Sign-In with Ethereum (EIP-4361)' },
      { name: 'uploads', description: 'The listing form, payment and status (the owner only)' },
      { name: 'listings', description: 'The public read API' },
      { name: 'my listings', description: "The owner's listings and profile: edit (moderated), sold, withdraw, remove, renew" },
      { name: 'admin', description: 'Moderation, the payment ledger and the queue dashboard' },
      { name: 'notifications', description: 'Web Push: the person is told when something happens to an upload, even with the tab closed' },
      { name: 'webhooks', description: 'Signed webhooks for integrators (admins register endpoints)' },
      { name: 'operations', description: 'Probes and metrics' },
      { name: 'documentation', description: 'This document' },
    ],
    paths: { ...paths, '/v1/listings/{id}': { ...paths['/v1/listings/{id}'], ...listingOwnerOperations }, ...listingLifePaths },
    components: {
      schemas,
      responses: {
        RateLimited: {
          description: '`rate_limited`: too many requests',
          headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } },
          content: { 'application/json': { schema: ref('Error') } },
        },
        Internal: failure('`internal`: an unexpected failure (logged)'),
      },
      securitySchemes: {
        siweSession: { type: 'http', scheme: 'bearer', description: 'the token from `POST /v1/auth/verify`' },
        adminToken: { type: 'apiKey', in: 'header', name: 'X-Admin-Token', description: 'ADMIN_TOKEN, for automation' },
        adminBasic: { type: 'http', scheme: 'basic', description: 'any user name, ADMIN_TOKEN as password (the dashboard in a browser)' },
      },
    },
  };
}
