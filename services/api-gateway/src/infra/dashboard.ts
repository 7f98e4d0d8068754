import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { type RequestHandler, Router } from 'express';
import type { Bus } from '@reelboard/bus';
import { type AdminCheckDeps, requireAdmin } from './admin-auth.js';
import { HttpError } from './http-error.js';

/** Where bull-board is mounted. */
export const DASHBOARD_PATH = '/admin/queues';

export interface DashboardDeps extends AdminCheckDeps {
  bus: Bus;
  /** The gateway's public URL: the only origin allowed to change queues from a browser. */
  publicUrl: string;
}

const CHALLENGE = 'Basic realm="Reelboard admin", charset="UTF-8"';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Browsers send Basic credentials on their own, so a page on another site could make an admin's
 * browser retry or delete jobs (CSRF). Changes must come from the gateway's own pages.
 */
function refuseCrossSiteChanges(publicOrigin: string): RequestHandler {
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const site = req.get('sec-fetch-site');
    const origin = req.get('origin');
    if ((site !== undefined && site !== 'same-origin' && site !== 'none') || (origin !== undefined && origin !== publicOrigin)) {
      throw new HttpError(403, 'forbidden', 'queue changes must come from the dashboard itself');
    }
    next();
  };
}

/**
 * bull-board at `/admin/queues`, showing every queue of the table (packages/contracts/src/channels.ts), for admins only (the same check
 * as moderation). Browsers sign in with HTTP Basic auth, the admin token as password; API clients
 * may also use an admin wallet's Bearer session or `X-Admin-Token`.
 */
export function dashboardRoutes(deps: DashboardDeps): Router {
  const serverAdapter = new ExpressAdapter().setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: deps.bus.watchedQueues().map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Reelboard queues' } },
  });
  const router = Router();
  router.use(
    DASHBOARD_PATH,
    refuseCrossSiteChanges(new URL(deps.publicUrl).origin),
    // Set before the check so a refusal asks the browser for credentials; removed once let through.
    (_req, res, next) => {
      res.setHeader('www-authenticate', CHALLENGE);
      next();
    },
    requireAdmin(deps, { acceptBasic: true }),
    (_req, res, next) => {
      res.removeHeader('www-authenticate');
      next();
    },
    serverAdapter.getRouter() as RequestHandler,
  );
  return router;
}
