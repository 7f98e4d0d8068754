import type { Request, RequestHandler, Response } from 'express';
import { Histogram } from 'prom-client';
import { api, type RouteSpec } from '@reelboard/api';

const requestSeconds = new Histogram({
  name: 'reelboard_http_request_duration_seconds',
  help: "Gateway requests by route (the route table's row name; other routes by their pattern), method and status, in seconds until the answer was sent",
  labelNames: ['route', 'method', 'status'] as const,
  // From a cached listing read to a large multipart upload.
  buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 120],
});

const rowNames = new Map<RouteSpec, string>(Object.entries(api).map(([name, row]) => [row as RouteSpec, name]));

/** The route table's name of a row (its operationId), or `undefined` for a row not in the table. */
export function routeNameOf(route: RouteSpec): string | undefined {
  return rowNames.get(route);
}

/** Marks the request as served by a table row (bindRoute does it), so the metric names the row, never the URL. */
export function labelRoute(res: Response, route: RouteSpec): void {
  const name = routeNameOf(route);
  if (name) res.locals.route = name;
}

/**
 * The label of a request that no table row served: Express's matched pattern (the web client, the
 * docs, tus), or `unmatched`. Never the raw path, whose ids would make a series per upload.
 */
function fallbackLabel(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) return path.join(',');
  return 'unmatched';
}

/** Times each request until its answer is sent (or the client goes away), by row name and status. */
export function requestMetrics(): RequestHandler {
  return (req, res, next) => {
    const stop = requestSeconds.startTimer();
    let done = false;
    const observe = () => {
      if (done) return;
      done = true;
      // A client that left before the answer was written is counted as 499 (nginx's convention).
      const status = res.writableFinished ? res.statusCode : 499;
      stop({ route: res.locals.route ?? fallbackLabel(req), method: req.method, status: String(status) });
    };
    res.on('finish', observe);
    res.on('close', observe);
    next();
  };
}
