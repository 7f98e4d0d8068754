import { z } from 'zod';

/**
 * One row of the route table: everything the gateway, the OpenAPI document and the clients know
 * about a route. Handlers are bound to rows in the route files (`bindRoute`); the document is
 * rendered from the rows (`openapi.ts`); clients import the types (`types.ts`).
 */
export interface RouteSpec {
  method: 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete';
  /** Express form (`/v1/uploads/:id`); the document writes `{id}`. */
  path: `/${string}`;
  /** Who may call it: anyone, a SIWE session (`res.locals.address`), or an admin (`res.locals.actor`). */
  auth: 'public' | 'session' | 'admin';
  /** The document's section. */
  tag: string;
  summary: string;
  description?: string;
  /** Path parameters, validated before the handler runs. */
  params?: z.ZodObject;
  /** Query parameters (strings as they arrive; transform them here). */
  query?: z.ZodObject;
  /** Request headers the route reads (documented, and validated like the rest). */
  headers?: z.ZodObject;
  /** A JSON body, validated before the handler runs. */
  body?: z.ZodType;
  /** Whether a JSON body must be sent (default: true when `body` is given). */
  bodyRequired?: boolean;
  /** A body of another media type, read by the handler itself (documented only). */
  raw?: { type: string; description: string };
  /** A multipart form, documented here and read by the handler itself (it streams files to disk). */
  form?: { schema: z.ZodObject; encoding?: Record<string, { contentType: string }> };
  /** The answers a call can succeed with, by status. */
  responses: Record<number, ResponseSpec>;
  /** The error statuses the route itself gives, each described by the codes it carries (body: `Error`). */
  errors: Partial<Record<number, string>>;
  /**
   * How invalid input is answered. Defaults: path parameters 404 `not_found`, query 400
   * `invalid_query`, body 400 `invalid_body`; each with `field` naming the parameter. A body refused
   * as `invalid_form` names every bad field in `fields` instead.
   */
  invalid?: { params?: { status: number; code: string; message?: string }; query?: string; body?: string };
  /** Anything else the document should carry for the operation (security alternatives, extensions). */
  openapi?: Record<string, unknown>;
}

/** One successful answer: JSON with a schema, another media type, or no body. */
export interface ResponseSpec {
  description: string;
  /** The JSON body. */
  schema?: z.ZodType;
  /** A non-JSON media type (`text/event-stream`, `text/html`, ...) and what the document says of it. */
  media?: { type: string; extra?: Record<string, unknown> };
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
}

/** Keeps a row's literal types (statuses, schemas) so handlers and clients are typed from it. */
export const defineRoute = <const R extends RouteSpec>(route: R): R => route;

/** The path in the document's form: `/v1/uploads/{id}`. */
export const openApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

type Output<S> = S extends z.ZodType ? z.output<S> : undefined;
type Input<S> = S extends z.ZodType ? z.input<S> : undefined;

/** What a handler receives, validated. */
export interface Request<R extends RouteSpec> {
  params: Output<R['params']>;
  query: Output<R['query']>;
  headers: Output<R['headers']>;
  body: Output<R['body']>;
}

/** The JSON body a client receives with status `S` of route `R`. */
export type ResponseBody<R extends RouteSpec, S extends keyof R['responses']> = R['responses'][S] extends { schema: infer T } ? Output<T> : undefined;

/** What a JSON body a client sends to route `R` may be. */
export type RequestBody<R extends RouteSpec> = Input<R['body']>;

/** A handler's answer: one of the route's statuses with its body (JSON routes). */
export type Reply<R extends RouteSpec> = {
  [S in keyof R['responses'] & number]: { status: S; body: ResponseBody<R, S>; headers?: Record<string, string> };
}[keyof R['responses'] & number];

/** A refusal of input, with the status and code the route answers it with. */
export class InvalidInput extends Error {
  override readonly name = 'InvalidInput';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown>,
  ) {
    super(message);
  }
}

/**
 * A custom refusal inside a schema: `ctx.addIssue(refusal('invalid_hashtag', message, { tag }))`
 * answers 400 with that code instead of the route's default.
 */
export const refusal = (code: string, message: string, extra: Record<string, unknown> = {}) => ({
  code: 'custom' as const,
  message,
  params: { code, ...extra },
});

function refuse(error: z.ZodError, status: number, code: string, fallback?: string): InvalidInput {
  // A form (the listing edit, the profile edit) names every bad field at once, as the multipart form does.
  if (code === 'invalid_form') {
    const fields: Record<string, string> = {};
    for (const issue of error.issues) fields[String(issue.path[0] ?? 'form')] ??= issue.message;
    return new InvalidInput(status, code, `invalid fields: ${Object.keys(fields).join(', ')}`, { fields });
  }
  const issue = error.issues[0];
  const field = issue?.path.map(String).join('.') || undefined;
  const params = (issue?.code === 'custom' ? (issue.params as Record<string, unknown> | undefined) : undefined) ?? {};
  const { code: customCode, ...extra } = params;
  const message = fallback ?? issue?.message ?? 'invalid input';
  return new InvalidInput(typeof customCode === 'string' ? 400 : status, typeof customCode === 'string' ? customCode : code, message, {
    ...(field ? { field } : {}),
    ...extra,
  });
}

/** Validates a request against its row; throws InvalidInput naming the first bad parameter. Express-free. */
export function parseRequest<R extends RouteSpec>(route: R, raw: { params?: unknown; query?: unknown; headers?: unknown; body?: unknown }): Request<R> {
  const parsed: Record<string, unknown> = {};
  if (route.params) {
    const result = route.params.safeParse(raw.params ?? {});
    if (!result.success) {
      const { status = 404, code = 'not_found', message } = route.invalid?.params ?? {};
      throw refuse(result.error, status, code, message);
    }
    parsed.params = result.data;
  }
  if (route.query) {
    const result = route.query.safeParse(raw.query ?? {});
    if (!result.success) throw refuse(result.error, 400, route.invalid?.query ?? 'invalid_query');
    parsed.query = result.data;
  }
  if (route.headers) {
    const result = route.headers.safeParse(raw.headers ?? {});
    if (!result.success) throw refuse(result.error, 400, 'invalid_header');
    parsed.headers = result.data;
  }
  if (route.body) {
    const result = route.body.safeParse(raw.body ?? {});
    if (!result.success) throw refuse(result.error, 400, route.invalid?.body ?? 'invalid_body');
    parsed.body = result.data;
  }
  return parsed as unknown as Request<R>;
}

/**
 * `.meta(documentedAs({...}))`: the document shows this JSON Schema in place of what zod-openapi renders
 * (an object `override` is merged into the rendering; this replaces it, for a schema whose transforms say
 * more than a client needs to know).
 */
export const documentedAs = (jsonSchema: Record<string, unknown>) => ({
  override: (ctx: { jsonSchema: Record<string, unknown> }) => {
    for (const key of Object.keys(ctx.jsonSchema)) delete ctx.jsonSchema[key];
    Object.assign(ctx.jsonSchema, jsonSchema);
  },
});

/** A query parameter given at most once (Express makes a repeated one an array). */
export const single = (field: string) => z.string({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be given once`) });

/** A numeric query parameter within bounds, read from its string. */
export const numberParam = (field: string, min: number, max: number, integer = true) =>
  single(field)
    .transform((raw, ctx) => {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
        ctx.addIssue({ code: 'custom', message: `${field} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}` });
        return z.NEVER;
      }
      return value;
    })
    .meta({ override: { type: integer ? 'integer' : 'number', minimum: min, maximum: max } });
