import { timingSafeEqual, createHash } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import type { Bus } from '@reelboard/bus';
import {
  decideRevision,
  ListingNotFoundError,
  ListingRemovedError,
  ListingStateError,
  listRevisions,
  moderateListing,
  RevisionDecidedError,
  RevisionNotFoundError,
  type Knex,
  type ModerationAction,
  type ModerationStatus,
  type RevisionStatus,
} from '@reelboard/db';
import type { Logger } from '@reelboard/logger';
import type { ObjectStorage } from '@reelboard/storage';
import type { Uploads } from '@reelboard/lifecycle';
import { adminPaymentRoutes } from './admin-payments.js';
import { HttpError } from './http-error.js';
import { searchPage } from './listings.js';
import { removeAndDelete } from './listing-life.js';

export interface AdminRoutesDeps {
  db: Knex;
  storage: ObjectStorage;
  bus: Bus;
  uploads: Uploads;
  log: Logger;
  /** Lower-case wallet addresses allowed to moderate once signed in with SIWE. */
  adminAddresses: ReadonlySet<string>;
  /** Shared secret for automation (`X-Admin-Token`); undefined disables it. */
  adminToken: string | undefined;
  /** The gateway's SIWE session check (puts the address on res.locals.address). */
  requireSession: RequestHandler;
  /** Days an approval runs a listing (LISTING_DAYS). */
  listingDays?: number;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** How requireAdmin may be satisfied beyond `X-Admin-Token` and an admin wallet's session. */
export interface AdminCheckOptions {
  /**
   * Also take the admin token as the password of HTTP Basic auth: browsers can send that to a
   * dashboard page, never a Bearer header. Only for the dashboard, which guards against cross-site requests.
   */
  acceptBasic?: boolean;
}

/** The password of an `Authorization: Basic` header (the user name is ignored), or undefined. */
function basicPassword(authorization: string | undefined): string | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(authorization ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? '' : decoded.slice(colon + 1);
}

const isAdminToken = (presented: string, configured: string | undefined) => !!configured && timingSafeEqual(digest(presented), digest(configured));

/**
 * Lets through admins only: an `X-Admin-Token` equal to the configured token (compared in
 * constant time), or a SIWE session of a configured admin wallet. Signed-in non-admins get 403.
 * Puts who is acting on `res.locals.actor` for the audit trail.
 */
export function requireAdmin(deps: Pick<AdminRoutesDeps, 'adminAddresses' | 'adminToken' | 'requireSession'>, options: AdminCheckOptions = {}): RequestHandler {
  return async (req, res, next) => {
    const token = req.get('x-admin-token');
    if (token !== undefined) {
      if (!isAdminToken(token, deps.adminToken)) throw new HttpError(403, 'forbidden', 'admin token is not valid');
      res.locals.actor = 'admin-token';
      return next();
    }
    const password = options.acceptBasic ? basicPassword(req.get('authorization')) : undefined;
    if (password !== undefined) {
      // 401, not 403: a browser asks for the password again.
      if (!isAdminToken(password, deps.adminToken)) throw new HttpError(401, 'invalid_credentials', 'the password is not the admin token');
      res.locals.actor = 'admin-token';
      return next();
    }
    await new Promise<void>((resolve, reject) => {
      Promise.resolve(deps.requireSession(req, res, (error?: unknown) => (error ? reject(error) : resolve()))).catch(reject);
    });
    const address = String(res.locals.address ?? '').toLowerCase();
    if (!deps.adminAddresses.has(address)) throw new HttpError(403, 'forbidden', `${address} is not an admin`);
    res.locals.actor = address;
    next();
  };
}

const STATUSES: readonly ModerationStatus[] = ['pending', 'approved', 'rejected'];

/** The `reason` of a decision: required (1-500 characters) where the owner must be told why. */
function readReason(body: unknown, required: boolean): string | undefined {
  const raw = (body ?? {}) as { reason?: unknown };
  const reason = typeof raw.reason === 'string' ? raw.reason.trim() : undefined;
  if ((required && !reason) || (reason !== undefined && reason.length > 500)) {
    throw new HttpError(400, 'invalid_body', `reason is ${required ? 'required' : 'optional'} (1-500 characters): the owner is told why`, { field: 'reason' });
  }
  return reason || undefined;
}

/**
 * Moderation (the queue of listings by status, approve/reject) and the payment ledger (what is due
 * back, refunds), each decision audited and sent to the owner.
 */
export function adminRoutes(deps: AdminRoutesDeps): Router {
  const { db, storage, bus, log } = deps;
  const router = Router();
  router.use('/v1/admin', requireAdmin(deps));

  router.get('/v1/admin/listings', async (req, res) => {
    const status = (req.query.status ?? 'pending') as ModerationStatus;
    if (!STATUSES.includes(status)) throw new HttpError(400, 'invalid_query', 'status must be pending, approved or rejected', { field: 'status' });
    const rawLimit = req.query.limit === undefined ? 20 : Number(req.query.limit);
    if (!Number.isInteger(rawLimit) || rawLimit < 1 || rawLimit > 100) throw new HttpError(400, 'invalid_query', 'limit must be an integer from 1 to 100', { field: 'limit' });
    const cursor = typeof req.query.cursor === 'string' ? req.query.cursor : undefined;
    res.set('cache-control', 'no-store').json(await searchPage(db, storage, { status, limit: rawLimit, cursor }));
  });

  const decide = (action: ModerationAction): RequestHandler => async (req, res) => {
    const id = String(req.params.id);
    const body = (req.body ?? {}) as { reason?: unknown };
    const reason = typeof body.reason === 'string' ? body.reason.trim() : undefined;
    if (action === 'reject' && (!reason || reason.length > 500)) {
      throw new HttpError(400, 'invalid_body', 'reason is required to reject (1-500 characters): the owner is told why', { field: 'reason' });
    }
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new HttpError(404, 'listing_not_found', `no listing ${id}`);
    const actor = String(res.locals.actor);
    let outcome;
    try {
      outcome = await moderateListing(db, { listingId: id.toLowerCase(), actor, action, reason, listingDays: deps.listingDays });
    } catch (error) {
      if (error instanceof ListingNotFoundError || error instanceof ListingRemovedError) throw new HttpError(404, 'listing_not_found', error.message);
      throw error;
    }
    // The listing id is the upload id: the owner's status stream and `GET /v1/me/uploads` show it.
    await bus.status.publish({
      uploadId: outcome.listingId,
      event: action === 'approve' ? 'moderation.approved' : 'moderation.rejected',
      stage: 'moderation',
      state: 'saved',
      ...(reason ? { reason } : {}),
      message: action === 'approve' ? 'listing approved: it is public now' : 'listing rejected',
    });
    log.info('moderation decision', { listingId: outcome.listingId, actor, action, reason, previousStatus: outcome.previousStatus });
    res.json({
      listingId: outcome.listingId,
      status: outcome.status,
      previousStatus: outcome.previousStatus,
      actor,
      reason: reason ?? null,
      decidedAt: outcome.decidedAt,
      expiresAt: outcome.expiresAt,
    });
  };
  router.post('/v1/admin/listings/:id/approve', decide('approve'));
  router.post('/v1/admin/listings/:id/reject', decide('reject'));

  // An admin takes a listing down: gone from every read route, its S3 objects deleted, payments and audit kept.
  router.post('/v1/admin/listings/:id/remove', async (req, res) => {
    const reason = readReason(req.body, true);
    res.json(await removeAndDelete(deps, { listingId: String(req.params.id), actor: String(res.locals.actor), reason }));
  });

  // Revisions (edits of approved listings, profile edits): the queue shows each as a diff against the public version.
  router.get('/v1/admin/revisions', async (req, res) => {
    const status = (req.query.status ?? 'pending') as RevisionStatus;
    if (!['pending', 'approved', 'rejected', 'superseded'].includes(status)) {
      throw new HttpError(400, 'invalid_query', 'status must be pending, approved, rejected or superseded', { field: 'status' });
    }
    const rawLimit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    if (!Number.isInteger(rawLimit) || rawLimit < 1 || rawLimit > 200) throw new HttpError(400, 'invalid_query', 'limit must be an integer from 1 to 200', { field: 'limit' });
    res.set('cache-control', 'no-store').json({ items: await listRevisions(db, { status, limit: rawLimit }) });
  });
  const decideOnRevision = (action: ModerationAction): RequestHandler => async (req, res) => {
    const reason = readReason(req.body, action === 'reject');
    const actor = String(res.locals.actor);
    let decided;
    try {
      decided = await decideRevision(db, { revisionId: String(req.params.id), actor, action, reason });
    } catch (error) {
      if (error instanceof RevisionNotFoundError) throw new HttpError(404, 'revision_not_found', error.message);
      if (error instanceof RevisionDecidedError) throw new HttpError(409, 'revision_decided', error.message, { status: error.status });
      if (error instanceof ListingStateError) throw new HttpError(409, 'listing_state', error.message, { state: error.state });
      throw error;
    }
    if (decided.listingId) {
      await bus.status.publish({
        uploadId: decided.listingId,
        event: action === 'approve' ? 'revision.approved' : 'revision.rejected',
        stage: 'moderation',
        state: 'saved',
        ...(reason ? { reason } : {}),
        message: action === 'approve' ? 'your changes are public now' : 'your changes were not approved; the listing stays as it was',
      });
    }
    log.info('revision decision', { revisionId: decided.id, listingId: decided.listingId, kind: decided.kind, actor, action, reason });
    const { ownerWallet: _owner, ...view } = decided;
    res.json(view);
  };
  router.post('/v1/admin/revisions/:id/approve', decideOnRevision('approve'));
  router.post('/v1/admin/revisions/:id/reject', decideOnRevision('reject'));
  router.use(adminPaymentRoutes({ db, uploads: deps.uploads, log }));
  return router;
}
