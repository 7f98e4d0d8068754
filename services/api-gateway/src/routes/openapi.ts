import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { api, openApiPath, type RouteSpec, schemas } from '@reelboard/api';

/** A JSON Schema or an OpenAPI object: plain JSON, checked by the document's own test. */
type Json = Record<string, unknown>;

const errorContent = { 'application/json': { schema: schemas.errorBody } };
const failure = (description: string) => ({ description, content: errorContent });

/** Who may call a route, said on every operation: a public one says `[]` (no credentials), not nothing. */
const SECURITY: Record<RouteSpec['auth'], Json[]> = {
  public: [],
  session: [{ siweSession: [] }],
  admin: [{ siweSession: [] }, { adminToken: [] }],
};

/** One row of the route table as an OpenAPI operation (zod-openapi renders the schemas); its name in the table is its operationId. */
function operation(operationId: string, route: RouteSpec): ZodOpenApiOperationObject {
  const responses: Record<string, Json> = {};
  for (const [status, answer] of Object.entries(route.responses)) {
    const content = answer.schema
      ? { 'application/json': { schema: answer.schema } }
      : answer.media
        ? { [answer.media.type]: { schema: { type: 'string' } as Json, ...answer.media.extra } }
        : undefined;
    responses[status] = { description: answer.description, ...(content ? { content } : {}), ...(answer.headers ? { headers: answer.headers } : {}) };
  }
  // What every row of its kind can answer: refused sign-in, refused admin, rate limits, failures.
  const errors: Record<string, string> = {};
  if (route.auth !== 'public') errors['401'] = '`unauthenticated` (no or malformed Bearer token) or `session_expired`';
  if (route.auth === 'admin') errors['403'] = '`forbidden`: not an admin wallet, or a wrong admin token';
  for (const [status, description] of Object.entries(route.errors)) if (description) errors[status] = description;
  for (const [status, description] of Object.entries(errors)) responses[status] = failure(description);
  if (route.path.startsWith('/v1/')) {
    responses['429'] ??= {
      description: '`rate_limited`: too many requests',
      headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } },
      content: errorContent,
    };
  }
  responses['500'] = failure('`internal`: an unexpected failure (logged)');

  const requestParams = {
    ...(route.params ? { path: route.params } : {}),
    ...(route.query ? { query: route.query } : {}),
    ...(route.headers ? { header: route.headers } : {}),
  };
  const requestBody = route.body
    ? { required: route.bodyRequired ?? true, content: { 'application/json': { schema: route.body } } }
    : route.raw
      ? { required: true, description: route.raw.description, content: { [route.raw.type]: { schema: { type: 'string', format: 'binary' } as Json } } }
      : route.form
        ? {
            required: true,
            content: { 'multipart/form-data': { schema: route.form.schema, ...(route.form.encoding ? { encoding: route.form.encoding } : {}) } },
          }
        : undefined;
  return {
    operationId,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    security: SECURITY[route.auth],
    ...(Object.keys(requestParams).length ? { requestParams } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
    ...route.openapi,
  } as ZodOpenApiOperationObject;
}

/** The gateway's OpenAPI 3.1 document, rendered from the route table: every route, its answers and its error codes. */
export function openApiDocument(publicUrl: string): Json {
  const paths: ZodOpenApiPathsObject = {};
  for (const [name, route] of Object.entries(api) as [string, RouteSpec][]) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operation(name, route) };
  }
  return createDocument({
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
    paths,
    components: {
      securitySchemes: {
        siweSession: { type: 'http', scheme: 'bearer', description: 'the token from `POST /v1/auth/verify`' },
        adminToken: { type: 'apiKey', in: 'header', name: 'X-Admin-Token', description: 'ADMIN_TOKEN, for automation' },
        adminBasic: { type: 'http', scheme: 'basic', description: 'any user name, ADMIN_TOKEN as password (the dashboard in a browser)' },
      },
    },
  }) as unknown as Json;
}
