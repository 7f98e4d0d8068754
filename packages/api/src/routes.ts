import { z } from 'zod';
import {
  HashtagError,
  LISTING_LIMITS,
  normalizeHashtag,
  type Price,
  parseHashtags,
  priceSchema,
  REPORT_DETAILS_MAX,
  REPORT_REASONS,
  statusEventNames,
  terminalEvents,
  unnotifiedEvents,
  uploadStates,
} from '@reelboard/contracts';
import { defineRoute, documentedAs, numberParam, refusal, single } from './route.js';
import * as s from './schemas.js';

/**
 * THE ROUTE TABLE: every route of the gateway, once. A row names its method, path, who may call it,
 * its parameters, query, body and answers as zod schemas, and the error codes it gives.
 * - validation: `bindRoute(router, api.<name>, handler)` checks auth, params, query and body
 *   against the row before the handler runs (the gateway's src/routes/bind.ts);
 * - the OpenAPI 3.1 document is rendered from these rows (the gateway's src/routes/openapi.ts);
 * - clients import the types (`ResponseBody<typeof api.getListing, 200>`, types.ts).
 * - a row's name is its operationId in the document, verb first (`searchListings`, `createUpload`):
 *   what a generated client calls the method.
 * 401 (auth), 403 (admin), 429 (rate limits, /v1 only) and 500 are added to every row that can give them.
 */

const uploadId = z.object({ id: s.uuid.meta({ description: 'upload id' }) });
const uploadNotFound = { status: 404, code: 'upload_not_found', message: 'no such upload' };
const webhookId = z.object({ id: s.uuid.meta({ description: 'webhook endpoint id' }) });
const webhookNotFound = { status: 404, code: 'webhook_not_found', message: 'no such webhook endpoint' };
const listingId = z.object({ id: s.uuid.meta({ description: 'listing id (the upload id)' }) });
const listingNotFound = { status: 404, code: 'listing_not_found', message: 'no such listing' };

const resumableId = z.object({ id: s.uuid.meta({ description: 'resumable upload id (it becomes the upload id)' }) });
const resumableNotFound = { status: 404, code: 'upload_not_found', message: 'no such resumable upload' };
/** The tus headers every resumable request carries, and a route's own. */
const tusHeaders = (own: Record<string, z.ZodType>) =>
  z.object({ 'tus-resumable': z.string().optional().meta({ description: 'the tus protocol version: 1.0.0 (412 otherwise)' }), ...own });

const cursor = single('cursor').optional().meta({ description: "opaque cursor from the previous page's `nextCursor`" });
const pageQuery = { cursor, limit: numberParam('limit', 1, 100).default(20).meta({ description: 'page size' }) };

/** `tags=cars,#Berlin`: normalised tags; a bad tag answers `invalid_hashtag` naming it. */
const tagsParam = single('tags')
  .transform((raw, ctx) => {
    const parts = raw.split(/[\s,]+/).filter((part) => part !== '');
    if (parts.length === 0) return undefined;
    try {
      const tags = [...new Set(parts.map(normalizeHashtag))];
      if (tags.length > 10) {
        ctx.addIssue({ code: 'custom', message: 'at most 10 tags per search' });
        return z.NEVER;
      }
      return tags;
    } catch (error) {
      if (!(error instanceof HashtagError)) throw error;
      ctx.addIssue(refusal('invalid_hashtag', error.message, { tag: error.tag }));
      return z.NEVER;
    }
  })
  .optional()
  .meta({ description: 'hashtags, comma- or space-separated, `#` optional (at most 10)', examples: ['cars,#berlin'] });

const nearParam = single('near')
  .transform((raw, ctx) => {
    const match = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(raw);
    const latitude = Number(match?.[1]);
    const longitude = Number(match?.[2]);
    if (!match || latitude < -90 || latitude > 90 || longitude < -180 || longitude > 180) {
      ctx.addIssue({ code: 'custom', message: 'near must be "<latitude>,<longitude>" with latitude in -90..90 and longitude in -180..180' });
      return z.NEVER;
    }
    return { latitude, longitude };
  })
  .optional()
  .meta({ description: '`<latitude>,<longitude>`: nearest first, with `distanceKm`', examples: ['52.52,13.405'] });

const walletParam = single('owner').regex(/^0x[0-9a-fA-F]{40}$/, { error: 'owner must be a 0x-prefixed 20-byte wallet address' });

/** The longest `q`: a search is a few words; 10 KB of text is refused, not sent to Postgres. */
export const SEARCH_TEXT_MAX = 200;

const searchTextParam = single('q')
  .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), { error: 'q contains control characters' })
  .refine((value) => value.length <= SEARCH_TEXT_MAX, { error: `q must be at most ${SEARCH_TEXT_MAX} characters` })
  .transform((value) => value.trim() || undefined)
  .optional()
  .meta({
    description: `words to find in title, hashtags and description (at most ${SEARCH_TEXT_MAX} characters): \`"exact phrase"\`, \`or\`, \`-without\`; close spellings when no word matches`,
    examples: ['red bike -kids'],
  });

export const listingSorts = ['relevance', 'newest', 'nearest', 'price_asc', 'price_desc'] as const;

export const listingQuery = z
  .object({
    q: searchTextParam,
    language: single('language')
      .transform((value) => value.toLowerCase())
      .pipe(z.string().regex(/^[a-z]{2}$/, { error: 'language must be an ISO 639-1 code such as en or de' }))
      .optional()
      .meta({
        description: "the searcher's language (ISO 639-1): its stemming joins the language-neutral match",
        override: { type: 'string', pattern: '^[A-Za-z]{2}$' },
      }),
    sort: z
      .enum(listingSorts, { error: `sort must be one of ${listingSorts.join(', ')}` })
      .optional()
      .meta({ description: 'default: relevance with `q`, nearest with `near`, else newest. Price sorts put listings without a price last' }),
    tags: tagsParam,
    match: z
      .enum(['all', 'any'], { error: 'match must be all or any' })
      .default('all')
      .meta({ description: 'whether a listing needs all the tags or any of them' }),
    near: nearParam,
    radiusKm: numberParam('radiusKm', 0.001, 20_037, false).optional().meta({ description: 'only within this distance of `near`' }),
    owner: walletParam
      .transform((value) => value.toLowerCase())
      .optional()
      .meta({ description: "only this wallet's listings" }),
    priceMin: numberParam('priceMin', 0, 1e12, false).optional().meta({ description: 'only listings with an asking price of at least this amount' }),
    priceMax: numberParam('priceMax', 0, 1e12, false).optional().meta({ description: 'only listings with an asking price of at most this amount' }),
    currency: single('currency')
      .transform((value) => value.toUpperCase())
      .pipe(z.string().regex(/^[A-Z]{3}$/, { error: 'currency must be an ISO 4217 code such as EUR' }))
      .optional()
      .meta({ description: 'only listings priced in this ISO 4217 currency', override: { type: 'string', pattern: '^[A-Za-z]{3}$' } }),
    ...pageQuery,
  })
  .superRefine((query, ctx) => {
    if (query.sort === 'relevance' && !query.q) ctx.addIssue({ code: 'custom', path: ['sort'], message: 'sort=relevance needs q' });
    if (query.sort === 'nearest' && !query.near) ctx.addIssue({ code: 'custom', path: ['sort'], message: 'sort=nearest needs near' });
    if (query.radiusKm !== undefined && !query.near) ctx.addIssue({ code: 'custom', path: ['radiusKm'], message: 'radiusKm needs near' });
    if (query.priceMin !== undefined && query.priceMax !== undefined && query.priceMin > query.priceMax)
      ctx.addIssue({ code: 'custom', path: ['priceMin'], message: 'priceMin must not be above priceMax' });
  });

const sseDescription = [
  'Server-Sent Events. The first event is the current status (or, with `Last-Event-ID: n`, every event after `n`), then every change.',
  'Each event has `id` (the per-upload sequence number), `event` (its name) and `data` (a JSON `StatusEvent`).',
  `Event names: ${statusEventNames.map((name) => `\`${name}\``).join(', ')}.`,
  `The stream ends after ${[...terminalEvents].map((name) => `\`${name}\``).join(', ')}. Comment lines (\`: heartbeat\`) keep proxies from closing an idle stream.`,
  '`progress` events carry `progress` (percent); `payment.rejected` carries its code in `message`.',
].join(' ');

const base64url = (bytes: number) =>
  z.string().regex(new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((bytes * 4) / 3)}}={0,2}$`), { error: `must be ${bytes} bytes in base64url` });

/** A browser's PushSubscription as `JSON.stringify(subscription)` gives it. */
export const pushSubscription = z.object({
  endpoint: z.url({ protocol: /^https$/, error: 'endpoint must be an https URL (the browser push service)' }).max(2048),
  expirationTime: z.number().nullable().optional(),
  keys: z.object({ p256dh: base64url(65), auth: base64url(16) }, { error: 'keys.p256dh and keys.auth are required' }),
});

/** Names a webhook may subscribe to: every status event that changes a state, or `*`. */
export const webhookEventNames = statusEventNames.filter((name) => !unnotifiedEvents.has(name));
const webhookEvents = z
  .array(z.string())
  .min(1, { error: 'events must name at least one event, or "*"' })
  .max(50)
  .refine((events) => events.every((event) => event === '*' || (webhookEventNames as readonly string[]).includes(event)), {
    error: `events must be "*" or among: ${webhookEventNames.join(', ')}`,
  })
  .meta({ description: `\`*\` or status event names: ${webhookEventNames.join(', ')}` });
const webhookUrl = z.url({ protocol: /^https?$/, error: 'url must be an http or https URL' }).max(2048);

/** The listing form's text fields as they arrive (multipart strings). */
const finite = (name: string, min: number, max: number) =>
  z
    .string({ error: `${name} is required` })
    .trim()
    .regex(/^-?\d+(\.\d+)?$/, { error: `${name} must be a decimal number` })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `${name} must be between ${min} and ${max}` })
        .max(max, { error: `${name} must be between ${min} and ${max}` }),
    )
    .meta({ description: `decimal, ${min}..${max}` });
const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max, { error: `must be at most ${max} characters` })
    .optional()
    .transform((value) => (value === '' ? undefined : value));

export const listingFormFields = z.object({
  title: z
    .string({ error: 'title is required' })
    .trim()
    .min(1, { error: 'title is required' })
    .max(LISTING_LIMITS.title, { error: `title must be at most ${LISTING_LIMITS.title} characters` }),
  description: z
    .string()
    .trim()
    .max(LISTING_LIMITS.description, { error: `description must be at most ${LISTING_LIMITS.description} characters` })
    .default(''),
  hashtags: z
    .string()
    .default('')
    .meta({ description: `e.g. \`#cars #berlin\` (at most ${LISTING_LIMITS.hashtags})` }),
  latitude: finite('latitude', -90, 90),
  longitude: finite('longitude', -180, 180),
  displayName: optionalText(LISTING_LIMITS.displayName),
  contact: optionalText(LISTING_LIMITS.contact),
  priceAmount: optionalText(20).meta({ description: 'the asking price (with priceCurrency), e.g. `120.50`' }),
  priceCurrency: optionalText(3).meta({ description: 'ISO 4217, e.g. `EUR`' }),
  language: optionalText(16)
    .transform((value) => value?.toLowerCase())
    .pipe(
      z
        .string()
        .regex(/^[a-z]{2}$/, { error: 'language must be an ISO 639-1 code such as en or de' })
        .optional(),
    )
    .meta({ description: "the listing's language (ISO 639-1, e.g. `de`): search by words stems in it; without it, words match as written" }),
});

/** Text that would corrupt logs or terminals: C0 controls except tab and newline, and DEL. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
export const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/**
 * An asking price from its two parts: both or neither (undefined); the amount a decimal with at most 2
 * places, the currency ISO 4217 (any case). The amount is written one way, as Postgres stores it (`120`
 * and `120.0` are `120.00`), so a revision's diff never shows a change that is none.
 */
export function parsePrice(
  amount: string | undefined,
  currency: string | undefined,
): { price: Price } | { errors: { amount?: string; currency?: string } } | undefined {
  if (amount === undefined && currency === undefined) return undefined;
  if (amount === undefined) return { errors: { amount: 'a price needs both an amount and a currency' } };
  if (currency === undefined) return { errors: { currency: 'a price needs both an amount and a currency' } };
  const parsed = priceSchema.safeParse({ amount, currency: currency.toUpperCase() });
  if (!parsed.success) {
    const errors: { amount?: string; currency?: string } = {};
    for (const issue of parsed.error.issues) errors[issue.path[0] === 'amount' ? 'amount' : 'currency'] ??= issue.message;
    return { errors };
  }
  const [whole = '0', fraction = ''] = parsed.data.amount.split('.');
  return { price: { amount: `${BigInt(whole).toString()}.${fraction.padEnd(2, '0')}`, currency: parsed.data.currency } };
}

/** A text field of a JSON body: a string without control characters. */
const plainText = (key: string, typeError = `${key} must be text`) =>
  z.string({ error: typeError }).refine((value) => !CONTROL_CHARACTERS.test(value), { error: `${key} contains control characters` });

/** Optional contact-like text: null or empty clears it, otherwise trimmed and at most `max` characters. */
const clearableText = (key: string, max: number) =>
  plainText(key, `${key} must be text or null`)
    .transform((value) => value.trim())
    .pipe(z.string().max(max, { error: `${key} must be at most ${max} characters` }))
    .transform((value) => (value === '' ? null : value))
    .nullable();

/** A coordinate of an edit: a JSON number, or a decimal string as the form sends it. */
const editCoordinate = (key: 'latitude' | 'longitude') =>
  z
    .union([z.number(), z.string()], { error: `${key} must be a decimal number` })
    .transform(String)
    .pipe(listingFormFields.shape[key]);

const EDITABLE = ['title', 'description', 'hashtags', 'latitude', 'longitude', 'price', 'contact'] as const;

/** A body check that runs even when a field's transform refused it (so every bad field is named in one answer), as long as the body is an object. */
const evenWithBadFields = { when: ({ value }: { value: unknown }) => typeof value === 'object' && value !== null && !Array.isArray(value) };

/**
 * An edit of a listing (JSON), validated like the form: the same limits and messages, every bad field
 * named in one `invalid_form`. Absent fields stay; null clears the price or the contact. The video cannot
 * be swapped (a new paid listing), nor the display name (a profile edit). The handler receives the
 * changes as the database takes them (`location` from the two coordinates).
 */
export const listingEditBody = z
  .object(
    {
      title: plainText('title')
        .pipe(listingFormFields.shape.title)
        .optional()
        .meta({ override: { type: 'string', minLength: 1, maxLength: LISTING_LIMITS.title } }),
      description: plainText('description')
        .pipe(listingFormFields.shape.description.unwrap())
        .optional()
        .meta({ override: { type: 'string', maxLength: LISTING_LIMITS.description } }),
      hashtags: z
        .union([z.string(), z.array(z.string())], { error: 'hashtags must be text ("#cars #berlin") or a list' })
        .transform((value, ctx) => {
          try {
            return parseHashtags(Array.isArray(value) ? value.join(' ') : value);
          } catch (error) {
            if (!(error instanceof HashtagError)) throw error;
            ctx.addIssue({ code: 'custom', message: error.message });
            return z.NEVER;
          }
        })
        .optional()
        .meta({
          override: {
            anyOf: [
              { type: 'string', description: '`#cars #berlin`' },
              { type: 'array', items: { type: 'string' } },
            ],
          },
        }),
      latitude: editCoordinate('latitude')
        .optional()
        .meta(documentedAs({ type: 'number', minimum: -90, maximum: 90 })),
      longitude: editCoordinate('longitude')
        .optional()
        .meta(documentedAs({ type: 'number', minimum: -180, maximum: 180 })),
      price: z
        .object(
          { amount: z.union([z.string(), z.number().transform(String)]).optional(), currency: z.string().optional() },
          { error: 'price must be {amount, currency} or null' },
        )
        .transform((value, ctx) => {
          const parsed = parsePrice(value.amount, value.currency);
          if (parsed && 'errors' in parsed) {
            ctx.addIssue({ code: 'custom', message: [parsed.errors.amount, parsed.errors.currency].filter(Boolean).join('; ') });
            return z.NEVER;
          }
          return parsed?.price;
        })
        .nullable()
        .optional()
        .meta({ override: { anyOf: [{ $ref: '#/components/schemas/Price' }, { type: 'null' }], description: 'null removes the price' } }),
      contact: clearableText('contact', LISTING_LIMITS.contact)
        .optional()
        .meta(documentedAs({ type: ['string', 'null'], maxLength: LISTING_LIMITS.contact })),
    },
    { error: 'send the changes as a JSON object' },
  )
  .catchall(z.unknown())
  .superRefine((body, ctx) => {
    for (const key of Object.keys(body)) {
      if ((EDITABLE as readonly string[]).includes(key)) continue;
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: key === 'video' ? 'the video cannot be changed: upload a new listing' : `${key} cannot be edited (editable: ${EDITABLE.join(', ')})`,
      });
    }
    // A location is both coordinates: one alone names the other as missing.
    if ((body.latitude === undefined) !== (body.longitude === undefined)) {
      const missing = body.latitude === undefined ? 'latitude' : 'longitude';
      ctx.addIssue({ code: 'custom', path: [missing], message: `${missing} is required` });
    }
  }, evenWithBadFields)
  .transform(({ title, description, hashtags, latitude, longitude, price, contact }, ctx) => {
    const changes = {
      ...(title !== undefined ? { title } : {}),
      ...(description !== undefined ? { description } : {}),
      ...(hashtags !== undefined ? { hashtags } : {}),
      ...(latitude !== undefined && longitude !== undefined ? { location: { latitude, longitude } } : {}),
      ...(price !== undefined ? { price } : {}),
      ...(contact !== undefined ? { contact } : {}),
    };
    if (Object.keys(changes).length === 0) {
      ctx.addIssue({ code: 'custom', message: `nothing to change: send at least one of ${EDITABLE.join(', ')}` });
      return z.NEVER;
    }
    return changes;
  })
  .meta({
    id: 'ListingEdit',
    description: 'What an edit may change, validated like the form; absent fields stay. The video cannot be swapped (that is a new paid listing).',
  });

/** A profile edit (JSON): a new display name or contact, each trimmed; null or empty clears it. */
export const profileEditBody = z
  .object(
    {
      displayName: clearableText('displayName', LISTING_LIMITS.displayName)
        .optional()
        .meta({ override: { anyOf: [{ type: 'string', maxLength: LISTING_LIMITS.displayName }, { type: 'null' }] } }),
      contact: clearableText('contact', LISTING_LIMITS.contact)
        .optional()
        .meta({ override: { anyOf: [{ type: 'string', maxLength: LISTING_LIMITS.contact }, { type: 'null' }] } }),
    },
    { error: 'send the changes as a JSON object' },
  )
  .catchall(z.unknown())
  .superRefine((body, ctx) => {
    for (const key of Object.keys(body)) {
      if (key !== 'displayName' && key !== 'contact')
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} cannot be edited here (displayName, contact; the logo comes with a listing)` });
    }
  }, evenWithBadFields)
  .transform(({ displayName, contact }, ctx) => {
    const changes = { ...(displayName !== undefined ? { displayName } : {}), ...(contact !== undefined ? { contact } : {}) };
    if (Object.keys(changes).length === 0) {
      ctx.addIssue({ code: 'custom', message: 'nothing to change: send displayName or contact' });
      return z.NEVER;
    }
    return changes;
  })
  // Other fields are refused (each named), which the document says as a closed object.
  .meta({
    override: ({ jsonSchema }: { jsonSchema: Record<string, unknown> }) => {
      jsonSchema.additionalProperties = false;
    },
  });

const reasonRequired = (what: string) =>
  z.object({
    reason: z
      .string({ error: `reason is required to ${what} (1-500 characters): the owner is told why` })
      .trim()
      .min(1, { error: `reason is required to ${what} (1-500 characters): the owner is told why` })
      .max(500, { error: `reason is required to ${what} (1-500 characters): the owner is told why` }),
  });
const revisionId = z.object({ id: s.uuid.meta({ description: 'revision id' }) });
const revisionNotFound = { status: 404, code: 'revision_not_found', message: 'no such revision' };
const ownListingErrors = {
  404: '`listing_not_found`: no such listing, or not yours',
  409: '`listing_state` (with `state`): the listing cannot do that in its state',
};

/** Filters that say nothing by themselves: a saved search needs at least one other. */
const NEUTRAL_FILTERS = new Set(['match', 'sort']);

/**
 * A saved search: a name, and the browse page's query string checked as the read API's search checks
 * its query (so a filter the search gains, such as words, can be saved with no change here). The handler
 * receives the canonical query string and the filters the search runs with.
 */
export const savedSearchBody = z.object({
  name: plainText('name', 'name is required')
    .transform((value) => value.trim())
    .pipe(z.string().min(1, { error: 'name is required' }).max(80, { error: 'name must be at most 80 characters' }))
    .meta(documentedAs({ type: 'string', minLength: 1, maxLength: 80 })),
  query: z
    .string({ error: 'query is required' })
    .max(2000, { error: 'query must be at most 2000 characters' })
    .transform((raw, ctx) => {
      const params = new URLSearchParams(raw.replace(/^\?/, ''));
      const given: Record<string, string | string[]> = {};
      for (const key of new Set(params.keys())) {
        if (key === 'cursor' || key === 'limit' || !Object.hasOwn(listingQuery.shape, key)) continue;
        const values = params.getAll(key);
        given[key] = values.length === 1 ? (values[0] as string) : values;
      }
      const parsed = listingQuery.safeParse(given);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue?.path.map(String).join('.');
        // A refusal with its own code (`invalid_hashtag`, naming the tag) keeps it, as the search answers it.
        const { code, ...extra } = (issue?.code === 'custom' ? (issue.params as Record<string, unknown> | undefined) : undefined) ?? {};
        ctx.addIssue(
          refusal(typeof code === 'string' ? code : 'invalid_query', `query: ${issue?.message ?? 'not a valid search'}`, {
            field: field ? `query.${field}` : 'query',
            ...extra,
          }),
        );
        return z.NEVER;
      }
      const { cursor: _cursor, limit: _limit, ...filters } = parsed.data;
      const defined = Object.entries(filters).filter(([key, value]) => value !== undefined && !NEUTRAL_FILTERS.has(key));
      if (defined.length === 0) {
        ctx.addIssue(refusal('empty_search', 'a saved search needs at least one filter (hashtags, place, price, seller...)', { field: 'query' }));
        return z.NEVER;
      }
      const canonical = new URLSearchParams();
      for (const [key, value] of Object.entries(given)) for (const one of Array.isArray(value) ? value : [value]) canonical.append(key, one);
      return { query: canonical.toString(), filters: Object.fromEntries(Object.entries(filters).filter(([, value]) => value !== undefined)) };
    })
    .meta(documentedAs({ type: 'string', maxLength: 2000, examples: ['tags=bikes&near=52.52,13.405&radiusKm=10&priceMax=300'] })),
});

const file = (description: string, contentMediaType: string) => z.string().meta({ format: 'binary', contentMediaType, description });

export const api = {
  // ----- sign-in -----
  getNonce: defineRoute({
    method: 'get',
    path: '/v1/auth/nonce',
    auth: 'public',
    tag: 'sign-in',
    summary: 'A single-use nonce for an EIP-4361 message (expires in NONCE_TTL_SECONDS)',
    responses: { 200: { description: 'a fresh nonce', schema: z.object({ nonce: z.string().regex(/^[0-9a-zA-Z]{8,}$/) }) } },
    errors: {},
  }),
  signIn: defineRoute({
    method: 'post',
    path: '/v1/auth/verify',
    auth: 'public',
    tag: 'sign-in',
    summary: 'Sign in with Ethereum: the signed EIP-4361 message opens a session',
    body: z.object({
      message: z
        .string({ error: 'message must be the EIP-4361 text (at most 4096 characters)' })
        .max(4096, { error: 'message must be the EIP-4361 text (at most 4096 characters)' }),
      signature: z.string({ error: 'signature must be 0x-prefixed hex' }).regex(/^0x[0-9a-fA-F]+$/, { error: 'signature must be 0x-prefixed hex' }),
    }),
    responses: {
      200: {
        description: 'signed in: send `Authorization: Bearer <token>`',
        schema: z.object({ address: s.address, token: z.string(), expiresAt: s.dateTime }),
      },
    },
    errors: {
      400: '`invalid_body` (message or signature missing or malformed) or `bad_request` (malformed JSON)',
      401: '`siwe_malformed`, `siwe_wrong_domain`, `siwe_wrong_uri`, `siwe_wrong_chain`, `siwe_not_yet_issued`, `siwe_no_expiration`, `siwe_expired`, `siwe_not_yet_valid`, `siwe_bad_nonce`, `siwe_bad_signature`',
      413: '`bad_request`: the JSON body is over 32 kB',
    },
  }),
  signOut: defineRoute({
    method: 'post',
    path: '/v1/auth/logout',
    auth: 'session',
    tag: 'sign-in',
    summary: 'Ends the session on every replica',
    responses: { 204: { description: 'signed out' } },
    errors: {},
  }),

  // ----- uploads -----
  createUpload: defineRoute({
    method: 'post',
    path: '/v1/uploads',
    auth: 'session',
    tag: 'uploads',
    summary: 'The listing form: files are streamed to staging; answers the payment quote',
    description:
      'The video comes in the form (`video`), or, for large files and slow links, as a finished resumable upload (`POST /v1/resumable-uploads`, tus) named by `?videoUpload=<id>`; the form then carries no video.',
    query: z.object({ videoUpload: s.uuid.optional().meta({ description: 'a finished resumable upload of yours: its bytes are the video' }) }),
    form: {
      schema: listingFormFields.extend({
        video: file(
          'a video container (MP4, MOV, WebM, MKV, ...), at most MAX_VIDEO_BYTES; required unless `videoUpload` names a resumable upload',
          'video/*',
        ).optional(),
        logo: file('PNG, JPEG or WebP (no SVG), at most MAX_LOGO_BYTES and MAX_LOGO_SIDE pixels a side; stored as a square WebP', 'image/*').optional(),
      }),
      encoding: { video: { contentType: 'video/*, application/octet-stream' }, logo: { contentType: 'image/png, image/jpeg, image/webp' } },
    },
    responses: { 202: { description: 'accepted: pay the quote, then send the tx hash', schema: s.acceptedUpload } },
    errors: {
      400: '`invalid_form` with `fields` naming each bad field (missing, out of range, sent twice, control characters); `unexpected_file`, `bad_request` (malformed multipart)',
      413: '`request_too_large` (Content-Length over the limits, refused before reading), `file_too_large`, `logo_too_large`, `field_too_large`, `too_many_parts`, `too_many_files`, `too_many_fields`; nothing stays on disk',
      409: '`upload_incomplete` (the resumable upload is not finished), `upload_taken` (it already belongs to a listing)',
      415: '`expected_multipart`, `unsupported_video` (the first bytes are not a video container), `unsupported_logo`',
      429: '`unpaid_uploads_limit`, `unpaid_bytes_limit` (the wallet holds too many unpaid uploads or bytes in staging; with `limit`), or `rate_limited`',
      507: '`insufficient_storage`: the staging volume is at its reserve for paid work (with `freeBytes`)',
    },
  }),
  getUpload: defineRoute({
    method: 'get',
    path: '/v1/uploads/:id',
    auth: 'session',
    tag: 'uploads',
    summary: 'The latest status of one of your uploads, and its quote',
    params: uploadId,
    invalid: { params: uploadNotFound },
    responses: { 200: { description: 'the upload', schema: s.uploadView } },
    errors: { 404: '`upload_not_found`: no such upload, or not yours' },
  }),
  getUploadPreview: defineRoute({
    method: 'get',
    path: '/v1/uploads/:id/preview',
    auth: 'session',
    tag: 'uploads',
    summary: 'The preview loop and poster of one of your uploads, as soon as they are stored (after the `preview.ready` event)',
    params: uploadId,
    invalid: { params: uploadNotFound },
    responses: { 200: { description: 'URLs of the stored preview and poster', schema: s.uploadPreview } },
    errors: { 404: '`upload_not_found`: no such upload, or not yours; `preview_not_ready`: not stored yet' },
  }),
  getUploadManifest: defineRoute({
    method: 'get',
    path: '/v1/uploads/:id/stream/manifest.mpd',
    auth: 'session',
    tag: 'uploads',
    summary: "One of your uploads' DASH manifest, as soon as its lowest rung is stored (after the first `rendition.ready` event)",
    description:
      'The stored MPD with each segment file named by a URL the client fetches directly from object storage (presigned or public, with Range requests). Higher rungs join it as they are stored: fetch it again after each `rendition.ready`.',
    params: uploadId,
    invalid: { params: uploadNotFound },
    responses: { 200: { description: 'the MPD (not cached: rungs join it)', media: { type: 'application/dash+xml' } } },
    errors: { 404: '`upload_not_found`: no such upload, or not yours; `manifest_not_ready`: no rung stored yet' },
  }),
  submitPayment: defineRoute({
    method: 'post',
    path: '/v1/uploads/:id/payment',
    auth: 'session',
    tag: 'uploads',
    summary: 'A hint: the hash of a transaction that paid the quote, so its block is checked at once (the deposit address is watched anyway)',
    description:
      "Idempotent. While the upload awaits payment the hash is followed (202) and what it did arrives on the status stream (`payment.confirmed`, `payment.received` for a part of the price, or `payment.rejected` with `no_payment`, `reverted`, `not_found`, `unverifiable`). Once the upload is past waiting for payment, any hash answers 200 with its state. A transaction on another chain than the quote's own names it in `chainId` (the chain of the offer paid), so the watcher of that chain checks it.",
    params: uploadId,
    body: z.object({
      txHash: z
        .string({ error: 'txHash must be a 0x-prefixed 32-byte hex string' })
        .regex(/^0x[0-9a-fA-F]{64}$/, { error: 'txHash must be a 0x-prefixed 32-byte hex string' })
        .transform((value) => value.toLowerCase() as `0x${string}`)
        .meta({ override: { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$' } }),
      chainId: z
        .unknown()
        .superRefine((value, ctx) => {
          if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) > 0))
            ctx.addIssue(refusal('invalid_chain_id', 'chainId must be the positive integer id of the chain the transaction was sent on'));
        })
        .transform((value) => value as number | undefined)
        .optional()
        .meta({
          override: { type: 'integer', minimum: 1 },
          description: "The chain of the offer paid (one of the quote's `offers`); absent: the quote's own `chainId`.",
        }),
    }),
    invalid: { params: uploadNotFound, body: 'invalid_tx_hash' },
    responses: {
      200: {
        description: 'the upload no longer waits for payment: where it stands',
        schema: z.object({ uploadId: s.uuid, txHash: z.string(), state: s.uploadState.nullable(), status: s.statusEvent.nullable() }),
      },
      202: {
        description: 'followed: the watcher checks the transaction once it is confirmed',
        schema: z.object({ uploadId: s.uuid, txHash: z.string(), state: z.literal('awaiting_payment') }),
      },
    },
    errors: {
      400: '`invalid_tx_hash`; `invalid_chain_id`; `chain_not_offered` (the quote offers no payment on `chainId`: `offered` lists the chains it does); or `bad_request` (malformed JSON)',
      404: '`upload_not_found`',
      429: '`too_many_hashes`: MAX_PAYMENT_HINTS other transactions are being checked for this upload; or `rate_limited` (see the other routes)',
    },
  }),
  followUpload: defineRoute({
    method: 'get',
    path: '/v1/uploads/:id/events',
    auth: 'session',
    tag: 'uploads',
    summary: 'Live status of one of your uploads (Server-Sent Events)',
    description: sseDescription,
    params: uploadId,
    headers: z.object({
      'last-event-id': z
        .string()
        .regex(/^\d*$/, { error: 'Last-Event-ID must be an event id (a number)' })
        .optional()
        .meta({ description: 'resume after this event id' }),
    }),
    invalid: { params: uploadNotFound },
    responses: {
      200: {
        description: sseDescription,
        media: { type: 'text/event-stream', extra: { 'x-event-names': [...statusEventNames], 'x-event-data': { $ref: '#/components/schemas/StatusEvent' } } },
      },
    },
    errors: { 400: '`invalid_header`: Last-Event-ID is not an event id', 404: '`upload_not_found`: no such upload, or not yours' },
  }),
  listMyUploads: defineRoute({
    method: 'get',
    path: '/v1/me/uploads',
    auth: 'session',
    tag: 'uploads',
    summary: 'Your uploads (newest first) with their latest status',
    responses: { 200: { description: 'your uploads', schema: z.object({ items: z.array(z.object({ uploadId: s.uuid, status: s.statusEvent.nullable() })) }) } },
    errors: {},
  }),
  listMyUnpaidUploads: defineRoute({
    method: 'get',
    path: '/v1/me/unpaid-uploads',
    auth: 'session',
    tag: 'uploads',
    summary: 'Your uploads still waiting for their payment (newest first), with what was received, what remains and the deadline',
    description:
      "Each holds a place in the wallet's unpaid-staging limits (STAGING_MAX_UNPAID_UPLOADS_PER_WALLET) until it is paid, expires or is cancelled (`DELETE /v1/uploads/{id}`).",
    responses: { 200: { description: 'your unpaid uploads', schema: z.object({ items: z.array(s.unpaidUpload) }) } },
    errors: {},
  }),
  cancelUpload: defineRoute({
    method: 'delete',
    path: '/v1/uploads/:id',
    auth: 'session',
    tag: 'uploads',
    summary: 'Cancels one of your unpaid uploads: it ends at once, its staged files go and its place in your unpaid limits is free',
    description:
      'Its quote is closed in the ledger like an expired one: what had reached its deposit address is due back (`refund_due`), and money that arrives later is recorded as late, due back too. An upload already paid (or ended) cannot be cancelled: 409 `upload_state`.',
    params: uploadId,
    invalid: { params: uploadNotFound },
    responses: { 200: { description: 'cancelled', schema: s.cancelledUpload } },
    errors: {
      404: '`upload_not_found`: no such upload, or not yours',
      409: '`upload_state`: the upload is no longer awaiting payment (`state` says where it is)',
    },
  }),

  // ----- resumable uploads (tus 1.0.0: https://tus.io/protocols/resumable-upload) -----
  createResumableUpload: defineRoute({
    method: 'post',
    path: '/v1/resumable-uploads',
    auth: 'session',
    tag: 'uploads',
    summary: "Starts a resumable upload of a video (tus creation); the answer's Location is where its bytes go",
    description:
      "Refused before a byte is stored: over MAX_VIDEO_BYTES (413), over the wallet's unpaid uploads or bytes (429), or when the staging volume would go below its reserve (507). An unfinished upload expires after RESUMABLE_EXPIRY_SECONDS and its bytes are removed. Once finished, name it in the listing form: `POST /v1/uploads?videoUpload=<id>`.",
    headers: tusHeaders({
      'upload-length': z.string().regex(/^\d+$/).optional().meta({ description: "the video's size in bytes" }),
      'upload-defer-length': z.literal('1').optional(),
      'upload-metadata': z.string().optional().meta({ description: 'tus metadata, e.g. `filename <base64>`' }),
    }),
    responses: {
      201: {
        description: 'created',
        headers: {
          Location: { description: "the upload's URL", schema: { type: 'string' } },
          'Upload-Expires': { description: 'when an unfinished upload is removed', schema: { type: 'string' } },
        },
      },
    },
    errors: {
      400: '`bad_request`: Upload-Length or Upload-Metadata malformed',
      412: '`tus_version`: Tus-Resumable 1.0.0 required',
      413: '`file_too_large`: Upload-Length over MAX_VIDEO_BYTES',
      429: '`unpaid_uploads_limit`, `unpaid_bytes_limit` (with `limit`), or `rate_limited`',
      507: '`insufficient_storage`: the staging volume is at its reserve for paid work (with `freeBytes`)',
    },
  }),
  getResumableUploadOffset: defineRoute({
    method: 'head',
    path: '/v1/resumable-uploads/:id',
    auth: 'session',
    tag: 'uploads',
    summary: 'How many bytes of a resumable upload arrived (Upload-Offset): a client resumes from there',
    params: resumableId,
    headers: tusHeaders({}),
    invalid: { params: resumableNotFound },
    responses: { 200: { description: 'Upload-Offset and Upload-Length headers' } },
    errors: { 404: '`upload_not_found`: no such upload of yours (or it expired)', 410: '`upload_gone`', 412: '`tus_version`' },
  }),
  appendResumableUpload: defineRoute({
    method: 'patch',
    path: '/v1/resumable-uploads/:id',
    auth: 'session',
    tag: 'uploads',
    summary: 'Sends the next bytes of a resumable upload, from Upload-Offset',
    params: resumableId,
    headers: tusHeaders({ 'upload-offset': z.string().regex(/^\d+$/).meta({ description: "where these bytes start (the HEAD's offset)" }) }),
    raw: { type: 'application/offset+octet-stream', description: 'the bytes' },
    invalid: { params: resumableNotFound },
    responses: { 204: { description: 'stored; Upload-Offset is the new offset' } },
    errors: {
      400: '`invalid_header` or `bad_request`',
      404: '`upload_not_found`',
      409: '`offset_mismatch`: Upload-Offset is not where the upload stands (ask with HEAD)',
      412: '`tus_version`',
      413: '`file_too_large`: more bytes than Upload-Length',
      415: '`unsupported_video`: the finished upload is not a video container (it is removed)',
      423: '`upload_locked`: another request is writing this upload',
      507: '`insufficient_storage`: the staging volume is at its reserve for paid work',
    },
  }),
  cancelResumableUpload: defineRoute({
    method: 'delete',
    path: '/v1/resumable-uploads/:id',
    auth: 'session',
    tag: 'uploads',
    summary: 'Abandons a resumable upload: its bytes are removed (tus termination)',
    params: resumableId,
    headers: tusHeaders({}),
    invalid: { params: resumableNotFound },
    responses: { 204: { description: 'removed' } },
    errors: { 404: '`upload_not_found`', 412: '`tus_version`' },
  }),

  getPricing: defineRoute({
    method: 'get',
    path: '/v1/pricing',
    auth: 'public',
    tag: 'uploads',
    summary: 'The fee of one listing in every (chain, asset) it can be paid in: what the form shows before PAY',
    responses: { 200: { description: 'the fee', schema: s.pricing } },
    errors: { 503: '`price_unavailable`: priced in a fiat currency, and no asset can be quoted now (every feed stale and no stablecoin)' },
  }),

  // ----- the public read API -----
  searchListings: defineRoute({
    method: 'get',
    path: '/v1/listings',
    auth: 'public',
    tag: 'listings',
    summary: 'Approved listings by words, hashtags, distance, price and owner, sorted by relevance, newest, nearest or price',
    query: listingQuery,
    responses: { 200: { description: 'a page of listings', schema: s.listingPage } },
    errors: { 400: '`invalid_query` (with `field`), `invalid_hashtag` (with `tag`), `invalid_cursor`' },
  }),
  getListing: defineRoute({
    method: 'get',
    path: '/v1/listings/:id',
    auth: 'public',
    tag: 'listings',
    summary: 'One public listing (approved, inside its paid period; a sold one while it is still shown)',
    params: listingId,
    invalid: { params: listingNotFound },
    responses: { 200: { description: 'the listing', schema: s.listing } },
    errors: { 404: '`listing_not_found`', 410: '`listing_expired` or `listing_sold` (with `state` and `title`): it was public and is no longer shown' },
  }),
  getListingStoryboard: defineRoute({
    method: 'get',
    path: '/v1/listings/:id/storyboard.vtt',
    auth: 'public',
    tag: 'listings',
    summary: "A listing's storyboard: WebVTT thumbnail cues for scrubbing, each naming a sprite sheet's URL and `#xywh=x,y,w,h`",
    description:
      'Visible as the listing is: to anyone while it is public, otherwise to its owner (a session) and admins only. The sprite sheets are fetched from storage directly (public/CDN or presigned URLs, written into each cue).',
    params: listingId,
    invalid: { params: listingNotFound },
    responses: { 200: { description: 'the WebVTT index', media: { type: 'text/vtt' } } },
    errors: { 404: '`listing_not_found` (or not visible to the caller), `storyboard_not_found`: this listing has no storyboard' },
  }),

  getListingManifest: defineRoute({
    method: 'get',
    path: '/v1/listings/:id/stream/manifest.mpd',
    auth: 'public',
    tag: 'listings',
    summary: "A listing's DASH manifest (the listing's `video.manifestUrl`): its rendition ladder for adaptive playback",
    description:
      'The stored MPD with each segment file named by a URL the client fetches directly from object storage (presigned or public, with Range requests). Visible as the listing is: to anyone while it is public, otherwise to its owner (with a session) and admins. Cached for less than the segment URLs live.',
    params: listingId,
    invalid: { params: listingNotFound },
    responses: { 200: { description: 'the MPD', media: { type: 'application/dash+xml' } } },
    errors: {
      403: '`forbidden`: an `X-Admin-Token` that is not valid',
      404: '`listing_not_found`: no such listing, or not visible to you; `manifest_not_ready`: the listing has no stored ladder (play `video.url`)',
    },
  }),

  // ----- your listings: edit, sold, withdraw, remove, renew; your profile -----
  listMyListings: defineRoute({
    method: 'get',
    path: '/v1/me/listings',
    auth: 'session',
    tag: 'my listings',
    summary: 'Every listing of the signed-in wallet: its state, expiry, payments and the processing status of its upload',
    responses: { 200: { description: 'your listings, newest first', schema: z.object({ items: z.array(s.ownListing) }) } },
    errors: {},
  }),
  editListing: defineRoute({
    method: 'patch',
    path: '/v1/listings/:id',
    auth: 'session',
    tag: 'my listings',
    summary: 'Edits your listing, validated like the form',
    description:
      'A pending or rejected listing changes at once (a rejected one goes back to moderation). An approved listing keeps its approved version public until a moderator approves the revision (`GET /v1/admin/revisions`); rejecting it keeps the approved one. A newer edit folds into the pending revision. Sold, withdrawn and removed listings cannot be edited.',
    params: listingId,
    body: listingEditBody,
    invalid: { params: listingNotFound, body: 'invalid_form' },
    responses: { 200: { description: 'applied, or waiting for a moderator', schema: s.listingEditOutcome } },
    errors: { 400: '`invalid_form` with `fields` naming each bad field (as the form; `video` cannot be changed)', ...ownListingErrors },
  }),
  replaceListingLogo: defineRoute({
    method: 'put',
    path: '/v1/listings/:id/logo',
    auth: 'session',
    tag: 'my listings',
    summary: "Replaces your listing's logo, checked and normalised like the form's",
    description:
      'A pending or rejected listing takes the new logo at once (the old object is deleted; a rejected listing goes back to moderation). An approved listing keeps its approved logo public: the new one is stored under a new key as part of the pending revision (the diff shows `logoKey`), and is deleted if a moderator rejects it.',
    params: listingId,
    form: {
      schema: z.object({
        logo: file('PNG, JPEG or WebP (no SVG), at most MAX_LOGO_BYTES and MAX_LOGO_SIDE pixels a side; stored as a square WebP', 'image/*'),
      }),
      encoding: { logo: { contentType: 'image/png, image/jpeg, image/webp' } },
    },
    invalid: { params: listingNotFound },
    responses: { 200: { description: 'applied, or waiting for a moderator', schema: s.listingEditOutcome } },
    errors: {
      400: '`invalid_form` (no `logo` file), `unexpected_file`, `bad_multipart`',
      413: '`file_too_large` / `logo_too_large` (over MAX_LOGO_BYTES or MAX_LOGO_SIDE), `too_many_parts`, `too_many_files`, `too_many_fields`; nothing stays on disk',
      415: '`expected_multipart`, `unsupported_logo`',
      ...ownListingErrors,
    },
  }),
  markListingSold: defineRoute({
    method: 'post',
    path: '/v1/listings/:id/sold',
    auth: 'session',
    tag: 'my listings',
    summary: 'Marks your listing sold: shown as sold for SOLD_DISPLAY_HOURS, then hidden',
    params: listingId,
    invalid: { params: listingNotFound },
    responses: {
      200: { description: 'sold', schema: z.object({ listingId: s.uuid, state: z.literal('sold'), soldAt: s.dateTime, visibleUntil: s.dateTime.nullable() }) },
    },
    errors: ownListingErrors,
  }),
  withdrawListing: defineRoute({
    method: 'post',
    path: '/v1/listings/:id/withdraw',
    auth: 'session',
    tag: 'my listings',
    summary: 'Withdraws your listing: hidden at once',
    params: listingId,
    invalid: { params: listingNotFound },
    responses: { 200: { description: 'withdrawn', schema: z.object({ listingId: s.uuid, state: z.literal('withdrawn') }) } },
    errors: ownListingErrors,
  }),
  removeListing: defineRoute({
    method: 'delete',
    path: '/v1/listings/:id',
    auth: 'session',
    tag: 'my listings',
    summary: 'Removes your listing: gone from every read route, its S3 objects deleted; its payments and audit trail stay',
    params: listingId,
    invalid: { params: listingNotFound },
    responses: { 200: { description: 'removed', schema: s.removedListing } },
    errors: { 404: '`listing_not_found`: no such listing, or not yours' },
  }),
  renewListing: defineRoute({
    method: 'post',
    path: '/v1/listings/:id/renew',
    auth: 'session',
    tag: 'my listings',
    summary: 'A quote to renew your listing by LISTING_DAYS (from its expiry, or from now once expired); pay it like an upload',
    description:
      "The quote has its own deposit address and is paid, hinted (`POST /v1/uploads/{renewalId}/payment`), followed (`GET /v1/uploads/{renewalId}/events`) and recorded in the ledger like an upload's. Once paid the listing runs longer (`listing.renewed`), without uploading or encoding anything. Paid for a listing removed meanwhile, it is recorded for refund.",
    params: listingId,
    invalid: { params: listingNotFound },
    responses: { 202: { description: 'pay the quote', schema: s.renewalQuote } },
    errors: ownListingErrors,
  }),
  getMyProfile: defineRoute({
    method: 'get',
    path: '/v1/me/profile',
    auth: 'session',
    tag: 'my listings',
    summary: 'Your public profile and the edit waiting for a moderator',
    responses: { 200: { description: 'your profile', schema: s.ownProfile } },
    errors: {},
  }),
  editMyProfile: defineRoute({
    method: 'patch',
    path: '/v1/me/profile',
    auth: 'session',
    tag: 'my listings',
    summary: 'Asks for a new public display name or contact: public once a moderator approves it',
    body: profileEditBody,
    invalid: { body: 'invalid_form' },
    responses: {
      202: {
        description: 'waiting for a moderator',
        schema: z.object({ revisionId: s.uuid, status: z.literal('pending'), changes: z.record(z.string(), z.string().nullable()) }),
      },
    },
    errors: { 400: '`invalid_form` (with `field` or `fields`): an unknown field, a value too long, control characters, or nothing to change' },
  }),
  suggestHashtags: defineRoute({
    method: 'get',
    path: '/v1/hashtags',
    auth: 'public',
    tag: 'listings',
    summary: 'Hashtag autocomplete, most used first',
    query: z.object({
      prefix: single('prefix')
        .default('')
        .transform((raw, ctx) => {
          try {
            return normalizeHashtag(raw);
          } catch (error) {
            if (!(error instanceof HashtagError)) throw error;
            ctx.addIssue(refusal('invalid_hashtag', `prefix ${error.message}`, { tag: raw }));
            return z.NEVER;
          }
        })
        .meta({ description: 'the start of a hashtag, `#` optional' }),
      limit: numberParam('limit', 1, 50).default(10).meta({ description: 'how many' }),
    }),
    responses: { 200: { description: 'matching hashtags', schema: s.hashtagSuggestions } },
    errors: { 400: '`invalid_hashtag` (the prefix is not a hashtag start) or `invalid_query`' },
  }),
  suggestPlaces: defineRoute({
    method: 'get',
    path: '/v1/places',
    auth: 'public',
    tag: 'listings',
    summary: 'Place-name autocomplete (GeoNames cities of at least 1,000 people, offline), the most populous first',
    query: z.object({
      q: single('q')
        .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), { error: 'q contains control characters' })
        .pipe(z.string().trim().min(1, { error: 'q is required' }).max(100, { error: 'q must be at most 100 characters' }))
        .meta({ description: 'the start of a place name, accents optional; `Berlin, US` or `Paris, France` narrows by country', examples: ['Berl'] }),
      limit: numberParam('limit', 1, 20).default(8).meta({ description: 'how many' }),
    }),
    responses: { 200: { description: 'matching places', schema: s.placeSuggestions } },
    errors: { 400: '`invalid_query` (with `field`)' },
  }),
  getUser: defineRoute({
    method: 'get',
    path: '/v1/users/:wallet',
    auth: 'public',
    tag: 'listings',
    summary: "A user's public profile and approved listings",
    params: z.object({ wallet: z.string().regex(/^0x[0-9a-fA-F]{40}$/, { error: 'wallet must be a 0x-prefixed 20-byte address' }) }),
    query: z.object(pageQuery),
    invalid: { params: { status: 400, code: 'invalid_query' } },
    responses: { 200: { description: 'the profile', schema: s.userProfile } },
    errors: { 400: '`invalid_query` (wallet or paging), `invalid_cursor`', 404: '`user_not_found`' },
  }),

  // ----- notifications -----
  getVapidKey: defineRoute({
    method: 'get',
    path: '/v1/push/vapid-public-key',
    auth: 'public',
    tag: 'notifications',
    summary: 'The VAPID public key to subscribe to Web Push with (`applicationServerKey`)',
    responses: { 200: { description: 'the key', schema: z.object({ publicKey: z.string().regex(/^[A-Za-z0-9_-]{87}$/) }) } },
    errors: { 503: '`push_not_configured`: this server has no VAPID key' },
  }),
  subscribePush: defineRoute({
    method: 'post',
    path: '/v1/me/push-subscriptions',
    auth: 'session',
    tag: 'notifications',
    summary: "Stores this browser's push subscription for the signed-in wallet",
    description:
      "The body is the browser's `PushSubscription` as JSON. The wallet's browsers are then told when a payment is confirmed, refused or late, when the listing is saved, approved or rejected, and when processing failed or the upload expired. The endpoint must be on a known push service (PUSH_ALLOWED_HOSTS).",
    body: pushSubscription,
    responses: {
      201: { description: 'stored', schema: z.object({ id: s.uuid }) },
      200: { description: 'already stored (keys updated)', schema: z.object({ id: s.uuid }) },
    },
    errors: {
      400: '`invalid_body` (endpoint not https or not a known push service, keys missing or malformed) or `bad_request`',
      503: '`push_not_configured`',
    },
  }),
  unsubscribePush: defineRoute({
    method: 'delete',
    path: '/v1/me/push-subscriptions',
    auth: 'session',
    tag: 'notifications',
    summary: "Removes this browser's subscription (by endpoint) from the signed-in wallet",
    body: z.object({ endpoint: z.string({ error: 'endpoint is required' }).min(1, { error: 'endpoint is required' }) }),
    responses: { 204: { description: 'removed' } },
    errors: { 400: '`invalid_body`: endpoint is required', 404: '`subscription_not_found`' },
  }),

  // ----- buyers: favourites and saved searches (issue 27) -----
  listFavourites: defineRoute({
    method: 'get',
    path: '/v1/me/favourites',
    auth: 'session',
    tag: 'buyers',
    summary: 'Your favourite listings that are public now, most recently favourited first (at most 200)',
    responses: { 200: { description: 'your favourites', schema: s.favouritesList } },
    errors: {},
  }),
  addFavourite: defineRoute({
    method: 'put',
    path: '/v1/me/favourites/:id',
    auth: 'session',
    tag: 'buyers',
    summary: 'Marks a public listing as a favourite (again is fine)',
    params: listingId,
    invalid: { params: listingNotFound },
    responses: { 204: { description: 'it is a favourite' } },
    errors: { 404: '`listing_not_found`: no public listing with that id', 409: '`favourites_full` (with `limit`): remove one first' },
  }),
  removeFavourite: defineRoute({
    method: 'delete',
    path: '/v1/me/favourites/:id',
    auth: 'session',
    tag: 'buyers',
    summary: 'Removes a listing from your favourites',
    params: listingId,
    invalid: { params: { status: 404, code: 'favourite_not_found' } },
    responses: { 204: { description: 'removed' } },
    errors: { 404: '`favourite_not_found`' },
  }),
  listSavedSearches: defineRoute({
    method: 'get',
    path: '/v1/me/saved-searches',
    auth: 'session',
    tag: 'buyers',
    summary: 'Your saved searches (each alerts by Web Push when a new listing matches)',
    responses: { 200: { description: 'your saved searches', schema: s.savedSearchList } },
    errors: {},
  }),
  createSavedSearch: defineRoute({
    method: 'post',
    path: '/v1/me/saved-searches',
    auth: 'session',
    tag: 'buyers',
    summary: 'Saves a search: each new listing that matches it, once approved, is announced to your browsers by Web Push, once',
    description:
      "`query` is the browse page's query string, checked as `GET /v1/listings` checks its query (paging left out); a listing matches when that search would show it. Your own listings never alert you. Subscribe a browser with `POST /v1/me/push-subscriptions` to receive the alerts.",
    body: savedSearchBody,
    responses: { 201: { description: 'saved', schema: s.savedSearch } },
    errors: {
      400: '`invalid_query` (with `field`: a filter the search refuses), `empty_search` (no filter at all), `invalid_body` (name)',
      409: '`saved_search_name_taken`, `saved_searches_full` (with `limit`)',
    },
  }),
  deleteSavedSearch: defineRoute({
    method: 'delete',
    path: '/v1/me/saved-searches/:id',
    auth: 'session',
    tag: 'buyers',
    summary: 'Removes a saved search: its alerts stop at once',
    params: z.object({ id: s.uuid.meta({ description: 'saved search id' }) }),
    invalid: { params: { status: 404, code: 'saved_search_not_found' } },
    responses: { 204: { description: 'removed' } },
    errors: { 404: '`saved_search_not_found`' },
  }),

  // ----- admin: moderation -----
  listModeration: defineRoute({
    method: 'get',
    path: '/v1/admin/listings',
    auth: 'admin',
    tag: 'admin',
    summary: 'The moderation queue: listings by moderation status',
    query: z.object({
      status: z
        .enum(s.moderationStatuses, { error: `status must be one of ${s.moderationStatuses.join(', ')}` })
        .default('pending')
        .meta({ description: 'moderation status' }),
      ...pageQuery,
    }),
    responses: { 200: { description: 'a page of listings', schema: s.listingPage } },
    errors: { 400: '`invalid_query`, `invalid_cursor`' },
  }),
  approveListing: defineRoute({
    method: 'post',
    path: '/v1/admin/listings/:id/approve',
    auth: 'admin',
    tag: 'admin',
    summary: 'Approves a listing: it becomes public',
    description: "Audited in `moderation_events`; the owner gets `moderation.approved` on the upload's status.",
    params: listingId,
    body: z.object({ reason: z.string().trim().max(500).optional() }),
    bodyRequired: false,
    invalid: { params: listingNotFound },
    responses: { 200: { description: 'the decision', schema: s.moderationDecision } },
    errors: { 400: '`invalid_body` or `bad_request` (malformed JSON)', 404: '`listing_not_found`' },
  }),
  rejectListing: defineRoute({
    method: 'post',
    path: '/v1/admin/listings/:id/reject',
    auth: 'admin',
    tag: 'admin',
    summary: 'Rejects a listing with a reason the owner is told',
    description: "Audited in `moderation_events`; the owner gets `moderation.rejected` (with the reason) on the upload's status.",
    params: listingId,
    body: z.object({
      reason: z
        .string({ error: 'reason is required to reject (1-500 characters): the owner is told why' })
        .trim()
        .min(1, { error: 'reason is required to reject (1-500 characters): the owner is told why' })
        .max(500, { error: 'reason is required to reject (1-500 characters): the owner is told why' }),
    }),
    invalid: { params: listingNotFound },
    responses: { 200: { description: 'the decision', schema: s.moderationDecision } },
    errors: { 400: '`invalid_body`: a reason (1-500 characters) is required', 404: '`listing_not_found`' },
  }),
  adminRemoveListing: defineRoute({
    method: 'post',
    path: '/v1/admin/listings/:id/remove',
    auth: 'admin',
    tag: 'admin',
    summary: 'Removes a listing: gone from every read route, its S3 objects deleted; its payments and audit trail stay',
    description: "Audited in `listing_events`; the owner gets `listing.removed` (with the reason) on the upload's status.",
    params: listingId,
    body: reasonRequired('remove'),
    invalid: { params: listingNotFound },
    responses: { 200: { description: 'removed', schema: s.removedListing } },
    errors: { 400: '`invalid_body`: a reason (1-500 characters) is required', 404: '`listing_not_found`' },
  }),
  listRevisions: defineRoute({
    method: 'get',
    path: '/v1/admin/revisions',
    auth: 'admin',
    tag: 'admin',
    summary: 'Edits of approved listings and profile edits, each as a diff against the public version (pending: oldest first)',
    query: z.object({
      status: z.enum(s.revisionStatuses, { error: `status must be one of ${s.revisionStatuses.join(', ')}` }).default('pending'),
      limit: numberParam('limit', 1, 200).default(50).meta({ description: 'how many' }),
    }),
    responses: { 200: { description: 'revisions', schema: z.object({ items: z.array(s.revision) }) } },
    errors: { 400: '`invalid_query` (with `field`)' },
  }),
  approveRevision: defineRoute({
    method: 'post',
    path: '/v1/admin/revisions/:id/approve',
    auth: 'admin',
    tag: 'admin',
    summary: 'Approves a revision: it becomes the public version (audited; the owner gets `revision.approved`)',
    params: revisionId,
    body: z.object({ reason: z.string().trim().max(500).optional() }),
    bodyRequired: false,
    invalid: { params: revisionNotFound },
    responses: { 200: { description: 'decided', schema: s.revision } },
    errors: { 400: '`invalid_body`', 404: '`revision_not_found`', 409: '`revision_decided` (with `status`) or `listing_state` (the listing was removed)' },
  }),
  rejectRevision: defineRoute({
    method: 'post',
    path: '/v1/admin/revisions/:id/reject',
    auth: 'admin',
    tag: 'admin',
    summary: 'Rejects a revision: the public version stays (audited; the owner gets `revision.rejected` with the reason)',
    params: revisionId,
    body: reasonRequired('reject'),
    invalid: { params: revisionNotFound },
    responses: { 200: { description: 'decided', schema: s.revision } },
    errors: {
      400: '`invalid_body`: a reason (1-500 characters) is required',
      404: '`revision_not_found`',
      409: '`revision_decided` (with `status`) or `listing_state`',
    },
  }),

  // ----- reports (a listing reported by anyone; moderators resolve them) -----
  reportListing: defineRoute({
    method: 'post',
    path: '/v1/listings/:id/reports',
    auth: 'public',
    tag: 'listings',
    summary: 'Reports a public listing to the moderators: a reason from the list, and words of your own',
    description:
      'Signed in (`Authorization: Bearer`) or anonymous; anonymous reports have a stricter rate limit (RATE_LIMIT_ANONYMOUS_REPORTS_PER_IP_PER_HOUR, RATE_LIMIT_REPORTS_PER_WALLET_PER_HOUR). One open report per reporter and listing. A listing with REPORTS_HOLD_THRESHOLD open reports is hidden until a moderator resolves them; its owner gets `listing.held`.',
    params: listingId,
    body: z
      .object({
        reason: z.enum(REPORT_REASONS, { error: `reason must be one of ${REPORT_REASONS.join(', ')}` }).meta({ description: s.reportReason.description ?? '' }),
        details: plainText('details')
          .transform((value) => value.trim())
          .pipe(z.string().max(REPORT_DETAILS_MAX, { error: `details must be at most ${REPORT_DETAILS_MAX} characters` }))
          .optional()
          .meta({ override: { type: 'string', maxLength: REPORT_DETAILS_MAX }, description: 'what is wrong, in your words (required for `other`)' }),
      })
      .superRefine((body, ctx) => {
        if (body.reason === 'other' && !body.details)
          ctx.addIssue({ code: 'custom', path: ['details'], message: 'details are required when the reason is other: say what is wrong' });
      }),
    invalid: { params: listingNotFound },
    responses: { 201: { description: 'reported: a moderator reviews it', schema: s.filedReport } },
    errors: {
      400: '`invalid_body` (with `field`: `reason` not in the list, `details` too long or missing for `other`, control characters) or `bad_request`',
      401: '`session_expired` or `unauthenticated`: an Authorization header was sent but is not a valid session (send none to report anonymously)',
      404: '`listing_not_found`: no public listing with this id',
      409: '`report_exists`: you already have an open report on this listing',
      429: '`rate_limited`: too many reports from this wallet or address',
    },
  }),
  listReports: defineRoute({
    method: 'get',
    path: '/v1/admin/reports',
    auth: 'admin',
    tag: 'admin',
    summary: 'The report queue: listings with open reports (held ones first, then oldest), or with resolved ones (latest first)',
    query: z.object({
      status: z.enum(['open', 'resolved'], { error: 'status must be open or resolved' }).default('open'),
      limit: numberParam('limit', 1, 200).default(50).meta({ description: 'how many listings' }),
    }),
    responses: { 200: { description: 'reported listings', schema: z.object({ items: z.array(s.reportedListing) }) } },
    errors: { 400: '`invalid_query` (with `field`)' },
  }),
  resolveReports: defineRoute({
    method: 'post',
    path: '/v1/admin/listings/:id/reports/resolve',
    auth: 'admin',
    tag: 'admin',
    summary: 'Resolves every open report of a listing: dismisses them (a held listing is public again), or rejects or removes the listing',
    description:
      "Each report records the decision, who took it, when and why. `dismiss` is audited in `moderation_events` (action `dismiss`) and a held listing's owner gets `listing.released`; `reject` is a rejection (`moderation_events`, the owner gets `moderation.rejected` with the reason); `remove` a removal (`listing_events`, `listing.removed`). A hold and its release are audited in `listing_events`.",
    params: listingId,
    body: z
      .object({
        decision: z.enum(['dismiss', 'reject', 'remove'], { error: 'decision must be dismiss, reject or remove' }),
        reason: z
          .string({ error: 'reason must be text (1-500 characters)' })
          .trim()
          .max(500, { error: 'reason must be at most 500 characters' })
          .optional()
          .meta({ description: 'required to reject or remove (the owner is told why)' }),
      })
      .superRefine((body, ctx) => {
        if (body.decision !== 'dismiss' && !body.reason)
          ctx.addIssue({ code: 'custom', path: ['reason'], message: `reason is required to ${body.decision} (1-500 characters): the owner is told why` });
      }),
    invalid: { params: listingNotFound },
    responses: { 200: { description: 'resolved', schema: s.reportResolution } },
    errors: {
      400: '`invalid_body` (with `field`): decision not in the list, or no reason to reject or remove',
      404: '`listing_not_found`',
      409: '`no_open_reports`: nothing to resolve (resolved meanwhile)',
    },
  }),

  // ----- admin: the payment ledger -----
  listPayments: defineRoute({
    method: 'get',
    path: '/v1/admin/payments',
    auth: 'admin',
    tag: 'admin',
    summary: 'The payment ledger, newest first: what is due back (`refund_due`) or rows of one status',
    query: z.object({
      status: z
        .enum(['refund_due', ...s.paymentStatuses], { error: `status must be one of refund_due, ${s.paymentStatuses.join(', ')}` })
        .optional()
        .meta({ description: '`refund_due` (every row with something due back) or a status; all rows when absent' }),
      ...pageQuery,
    }),
    responses: { 200: { description: 'a page of ledger rows', schema: s.paymentPage } },
    errors: { 400: '`invalid_query` (with `field`), `invalid_cursor`' },
  }),
  refundPayment: defineRoute({
    method: 'post',
    path: '/v1/admin/payments/:id/refund',
    auth: 'admin',
    tag: 'admin',
    summary: 'Records that what a ledger row had due back was refunded by a transaction',
    description:
      "The transaction is checked on chain first: mined, successful, confirmed, paying the row's asset to the owner, the row's sender or the signed `to`, at least what is due; one transaction refunds one row. Audited in `payment_events`. The row becomes `refunded`; the upload's owner gets `refund.sent` on its status stream. The same refund sent again answers 200 with `repeated: true` and changes nothing.",
    params: z.object({
      id: z
        .string()
        .regex(/^[1-9]\d{0,17}$/)
        .transform(Number)
        .meta({ description: 'ledger row id' }),
    }),
    body: z.object({
      txHash: z
        .string({ error: 'txHash is required: the 0x-prefixed 32-byte hash of the refund transaction' })
        .regex(/^0x[0-9a-fA-F]{64}$/, { error: 'txHash is required: the 0x-prefixed 32-byte hash of the refund transaction' }),
      note: z
        .string({ error: 'note must be a string of at most 500 characters' })
        .max(500, { error: 'note must be a string of at most 500 characters' })
        .optional(),
      to: s.address
        .optional()
        .meta({ description: "where the refund went, when neither the quote's owner nor the row's sender (`from`): then `signature` is required" }),
      signature: z
        .string({ error: 'signature must be a 0x-prefixed hex signature' })
        .regex(/^0x[0-9a-fA-F]{130,}$/, { error: 'signature must be a 0x-prefixed hex signature' })
        .optional()
        .meta({
          description:
            "the owner's or sender's EIP-191 signature of `Reelboard refund\nSend the refund of payment <id> on chain <chainId> to <lower-case to>.`",
        }),
    }),
    invalid: { params: { status: 404, code: 'payment_not_found', message: 'no such payment' } },
    responses: { 200: { description: 'the refund', schema: s.refundOutcome } },
    errors: {
      400: '`invalid_body` (with `field`: `txHash` missing or malformed, `note` too long) or `bad_request` (malformed JSON)',
      404: '`payment_not_found`',
      409: '`not_refundable` (nothing is due back on the row), `already_refunded` (refunded by another transaction, named in `refundTxHash`) or `refund_tx_used` (the transaction refunded another row)',
      422: 'the chain does not show the transaction paying back what is due: `refund_tx_not_found`, `refund_tx_reverted`, `refund_tx_unconfirmed`, `refund_wrong_chain`, `refund_wrong_asset`, `refund_wrong_recipient`, `refund_amount_short`, `refund_recipient_unproven`',
    },
  }),
  approveRefund: defineRoute({
    method: 'post',
    path: '/v1/admin/payments/:id/refund/approve',
    auth: 'admin',
    tag: 'admin',
    summary: 'Approves the refund wallet to pay back what a ledger row has due',
    description:
      "The refund wallet (payment-watcher, REFUND_PRIVATE_KEY) pays it on the row's chain in its asset to the quote's owner (else the row's sender), follows the transaction to confirmation and records it as the row's refund. Audited: `approvedBy` is the caller, `approvedAt` the time. Approving a refund already approved or being sent answers 200 with `repeated: true`.",
    params: z.object({
      id: z
        .string()
        .regex(/^[1-9]\d{0,17}$/)
        .transform(Number)
        .meta({ description: 'ledger row id' }),
    }),
    invalid: { params: { status: 404, code: 'payment_not_found', message: 'no such payment' } },
    responses: { 200: { description: 'the approved refund', schema: s.refundApproval } },
    errors: {
      404: '`payment_not_found`',
      409: '`not_refundable` (nothing is due back on the row)',
      422: "`refund_recipient_unproven` (the row has no owner and no sender: record a refund sent by hand with the payer's signature)",
    },
  }),

  // ----- admin: webhooks -----
  createWebhook: defineRoute({
    method: 'post',
    path: '/v1/admin/webhooks',
    auth: 'admin',
    tag: 'webhooks',
    summary: 'Registers a webhook endpoint; the answer holds its signing secret (shown once)',
    description:
      'Each status event the endpoint wants is POSTed as JSON `{id, type, uploadId, seq, createdAt, data}` with `Reelboard-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, `Reelboard-Event` and `Reelboard-Delivery`. Any 2xx delivers; 410 disables the endpoint; anything else is retried with exponential backoff for WEBHOOK_RETRY_FOR_SECONDS (a day). Events of one upload arrive in `seq` order.',
    body: z.object({
      url: webhookUrl,
      events: webhookEvents,
      secret: z
        .string()
        .min(24, { error: 'secret must be at least 24 characters' })
        .max(200)
        .optional()
        .meta({ description: 'generated (`whsec_...`) when not given' }),
    }),
    responses: { 201: { description: 'registered', schema: s.webhookEndpointWithSecret } },
    errors: { 400: '`invalid_body` (url, events or secret) or `bad_request`' },
  }),
  listWebhooks: defineRoute({
    method: 'get',
    path: '/v1/admin/webhooks',
    auth: 'admin',
    tag: 'webhooks',
    summary: 'Every webhook endpoint (without secrets)',
    responses: { 200: { description: 'the endpoints', schema: z.object({ endpoints: z.array(s.webhookEndpoint) }) } },
    errors: {},
  }),
  updateWebhook: defineRoute({
    method: 'patch',
    path: '/v1/admin/webhooks/:id',
    auth: 'admin',
    tag: 'webhooks',
    summary: "Changes an endpoint's URL or events, or enables it again (after a 410) or disables it",
    params: webhookId,
    body: z.object({ url: webhookUrl.optional(), events: webhookEvents.optional(), enabled: z.boolean().optional() }).strict(),
    invalid: { params: webhookNotFound },
    responses: { 200: { description: 'the endpoint', schema: s.webhookEndpoint } },
    errors: { 400: '`invalid_body`', 404: '`webhook_not_found`' },
  }),
  deleteWebhook: defineRoute({
    method: 'delete',
    path: '/v1/admin/webhooks/:id',
    auth: 'admin',
    tag: 'webhooks',
    summary: 'Removes an endpoint and its delivery log',
    params: webhookId,
    invalid: { params: webhookNotFound },
    responses: { 204: { description: 'removed' } },
    errors: { 404: '`webhook_not_found`' },
  }),
  rotateWebhookSecret: defineRoute({
    method: 'post',
    path: '/v1/admin/webhooks/:id/rotate-secret',
    auth: 'admin',
    tag: 'webhooks',
    summary: 'Replaces the signing secret; the old one keeps signing (a second `v1`) for `overlapSeconds` (default a day)',
    params: webhookId,
    body: z
      .object({
        overlapSeconds: z
          .number()
          .int()
          .min(0)
          .max(7 * 24 * 3600)
          .optional(),
      })
      .strict(),
    bodyRequired: false,
    invalid: { params: webhookNotFound },
    responses: { 200: { description: 'the new secret (shown once)', schema: s.webhookEndpointWithSecret } },
    errors: { 400: '`invalid_body`', 404: '`webhook_not_found`' },
  }),
  listWebhookDeliveries: defineRoute({
    method: 'get',
    path: '/v1/admin/webhooks/:id/deliveries',
    auth: 'admin',
    tag: 'webhooks',
    summary: "An endpoint's deliveries, newest first, each with every attempt and its answer",
    params: webhookId,
    query: z.object({
      status: z
        .enum(s.webhookDeliveryStatuses, { error: `status must be one of ${s.webhookDeliveryStatuses.join(', ')}` })
        .optional()
        .meta({ description: 'only deliveries in this state' }),
      limit: numberParam('limit', 1, 200).default(50).meta({ description: 'at most this many' }),
    }),
    invalid: { params: webhookNotFound },
    responses: { 200: { description: 'the deliveries', schema: z.object({ deliveries: z.array(s.webhookDelivery) }) } },
    errors: { 400: '`invalid_query`', 404: '`webhook_not_found`' },
  }),
  replayWebhookDelivery: defineRoute({
    method: 'post',
    path: '/v1/admin/webhooks/deliveries/:deliveryId/replay',
    auth: 'admin',
    tag: 'webhooks',
    summary: 'Sends a delivery again (delivered, failed or gone), with the same body and a fresh signature',
    params: z.object({ deliveryId: s.uuid.meta({ description: 'webhook delivery id' }) }),
    invalid: { params: { status: 404, code: 'delivery_not_found', message: 'no such webhook delivery' } },
    responses: { 202: { description: 'queued', schema: z.object({ deliveryId: s.uuid, status: z.literal('pending') }) } },
    errors: { 404: '`delivery_not_found`', 409: '`delivery_pending`: it is still being sent' },
  }),

  // ----- documentation (the probes and /metrics are on each service's internal port, not here) -----
  getOpenApiDocument: defineRoute({
    method: 'get',
    path: '/openapi.json',
    auth: 'public',
    tag: 'documentation',
    summary: 'This document',
    responses: { 200: { description: 'OpenAPI 3.1', schema: z.object({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }).loose() } },
    errors: {},
  }),
  getDocsPage: defineRoute({
    method: 'get',
    path: '/docs',
    auth: 'public',
    tag: 'documentation',
    summary: 'This document, browsable (a page for browsers; works offline)',
    responses: { 200: { description: 'Swagger UI', media: { type: 'text/html' } } },
    errors: {},
  }),
  getQueueDashboard: defineRoute({
    method: 'get',
    path: '/admin/queues',
    auth: 'admin',
    tag: 'admin',
    summary: 'bull-board: the dashboard of every work queue (an HTML page for browsers)',
    description:
      'Browsers sign in with HTTP Basic auth: any user name, the admin token as password. API clients may use a Bearer session of an admin wallet or `X-Admin-Token`.',
    responses: { 200: { description: 'the dashboard page', media: { type: 'text/html' } } },
    errors: {
      401: '`unauthenticated`, `session_expired` or `invalid_credentials` (with `WWW-Authenticate`, which asks a browser for the admin token)',
      403: '`forbidden`: not an admin, or a cross-site change',
    },
    openapi: { security: [{ adminBasic: [] }, { siweSession: [] }, { adminToken: [] }] },
  }),
};

export type Api = typeof api;
export type RouteName = keyof Api;
export { uploadStates };
