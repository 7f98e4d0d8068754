import type { Request as ExpressRequest, RequestHandler, Response, Router } from 'express';
import { parseRequest, type Reply, type Request, type RouteSpec } from '@reelboard/api';
import { labelRoute } from '../infra/request-metrics.js';

/** What the gateway keeps on `res.locals` (set by the session and admin checks). */
export interface GatewayLocals {
  /** The wallet a SIWE session proves (lower case). */
  address?: `0x${string}`;
  /** The session token itself (to sign out). */
  token?: string;
  /** Who acts on an admin route: the admin wallet or `admin-token` (the audit trail). */
  actor?: string;
  /** The route table's row that served the request (the request metrics' `route` label). */
  route?: string;
}

declare global {
  namespace Express {
    interface Locals extends GatewayLocals {}
  }
}

/** The caller, as the row's `auth` proves it. */
export type Caller<R extends RouteSpec> = R['auth'] extends 'session'
  ? { address: `0x${string}` }
  : R['auth'] extends 'admin'
    ? { actor: string }
    : Record<string, never>;

/** A handler: the validated request in, one of the row's answers out (or `undefined` after writing the response itself, e.g. a stream). */
export type RouteHandler<R extends RouteSpec> = (
  input: Request<R> & { caller: Caller<R>; req: ExpressRequest; res: Response<unknown, GatewayLocals> },
) => Promise<Reply<R> | undefined>;

/** The checks behind each `auth` value, given once by the app. */
export interface Guards {
  session: RequestHandler;
  admin: RequestHandler;
}

/** Runs an Express middleware as a promise (so guards compose with async handlers). */
const run = (middleware: RequestHandler, req: ExpressRequest, res: Response) =>
  new Promise<void>((resolve, reject) => {
    Promise.resolve(middleware(req, res, (error?: unknown) => (error ? reject(error) : resolve()))).catch(reject);
  });

/**
 * Mounts a row of the route table on a router: its auth check, then `before` (e.g. a per-wallet
 * rate limit), then the params, query, headers and body validated against the row, then the
 * handler, whose answer is sent as JSON with its status.
 */
export function bindRoute<R extends RouteSpec>(
  router: Router,
  route: R,
  guards: Guards,
  handler: RouteHandler<R>,
  options: { before?: RequestHandler[] } = {},
): void {
  const guard = route.auth === 'public' ? undefined : guards[route.auth];
  router[route.method](route.path, async (req, res) => {
    labelRoute(res, route);
    if (guard) await run(guard, req, res);
    for (const middleware of options.before ?? []) await run(middleware, req, res);
    // A refusal (InvalidInput) is answered by the error handler, as the domain-error table says.
    const input: Request<R> = parseRequest(route, { params: req.params, query: req.query, headers: req.headers, body: req.body });
    const locals = res.locals as GatewayLocals;
    const caller = (route.auth === 'session' ? { address: locals.address } : route.auth === 'admin' ? { actor: locals.actor } : {}) as Caller<R>;
    const reply = await handler({ ...input, caller, req, res });
    if (!reply) return;
    if (reply.headers) res.set(reply.headers);
    if (reply.body === undefined) res.status(reply.status).end();
    else res.status(reply.status).json(reply.body);
  });
}

/**
 * Binds rows with the same guards: `const bind = binder(guards)`, then in a route file
 * `bind(router, api.getListing).to(async ({ params }) => ({ status: 200, body: ... }))`.
 * (Two steps so TypeScript fixes the row before it checks the handler's answer against it.)
 */
export const binder =
  (guards: Guards) =>
  <R extends RouteSpec>(router: Router, route: R, options?: { before?: RequestHandler[] }) => ({
    to: (handler: RouteHandler<R>) => bindRoute(router, route, guards, handler, options),
  });

export type Bind = ReturnType<typeof binder>;
