import { type RequestHandler, Router } from 'express';
import { api } from '@reelboard/api';
import { findListing, type Knex, listReportedListings } from '@reelboard/db';
import type { PipelineBus } from '@reelboard/lifecycle';
import type { Logger } from '@reelboard/logger';
import type { ObjectStorage } from '@reelboard/storage';
import { decideOnReports, reportListing } from '../use-cases/reports.js';
import type { Bind } from './bind.js';
import { presentListing } from './listings.js';

export interface ReportRoutesDeps {
  bind: Bind;
  db: Knex;
  storage: ObjectStorage;
  bus: PipelineBus;
  log: Logger;
  listingDays?: number;
  /** Open reports that hold a listing (REPORTS_HOLD_THRESHOLD). */
  holdThreshold: number;
  /** The SIWE session check: a report with an Authorization header must carry a valid session. */
  requireSession: RequestHandler;
  /** Per signed-in wallet, and (stricter) per IP without a session. */
  limits: { wallet: RequestHandler; anonymous: RequestHandler };
}

/** Reports: anyone files them on a public listing; moderators list and resolve them. */
export function reportRoutes(deps: ReportRoutesDeps): Router {
  const { bind, db, storage } = deps;
  const router = Router();

  // Signed in or not: a header that is there must prove a session (a stale token is told, not silently
  // made anonymous), then the limit of whichever the reporter is.
  const reporter: RequestHandler = async (req, res, next) => {
    if (req.headers.authorization === undefined) return deps.limits.anonymous(req, res, next);
    await new Promise<void>((resolve, reject) => {
      Promise.resolve(deps.requireSession(req, res, (error?: unknown) => (error ? reject(error) : resolve()))).catch(reject);
    });
    return deps.limits.wallet(req, res, next);
  };

  bind(router, api.reportListing, { before: [reporter] }).to(async ({ params, body, req, res }) => ({
    status: 201,
    body: await reportListing(deps, { listingId: params.id, reason: body.reason, details: body.details, wallet: res.locals.address, ip: req.ip }),
  }));

  bind(router, api.listReports).to(async ({ query }) => ({
    status: 200,
    headers: { 'cache-control': 'no-store' },
    body: {
      items: await Promise.all(
        (await listReportedListings(db, query)).map(async (item) => {
          // Held listings are not public: the moderator sees them all the same, with their media.
          const view = item.state === 'removed' ? undefined : await findListing(db, item.listingId, { anyStatus: true });
          return {
            ...item,
            moderationStatus: item.moderationStatus as 'pending' | 'approved' | 'rejected',
            listing: view ? await presentListing(storage, view) : null,
            reports: item.reports.map((report) => ({ ...report, reporter: report.reporter as `0x${string}` | null })),
          };
        }),
      ),
    },
  }));

  bind(router, api.resolveReports).to(async ({ params, body, caller }) => ({
    status: 200,
    body: await decideOnReports(deps, { listingId: params.id, decision: body.decision, actor: caller.actor, reason: body.reason || undefined }),
  }));

  return router;
}
