import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './http-error.js';

/** What the admin check needs. */
export interface AdminCheckDeps {
  /** Lower-case wallet addresses allowed to moderate once signed in with SIWE. */
  adminAddresses: ReadonlySet<string>;
  /** Shared secret for automation (`X-Admin-Token`); undefined disables it. */
  adminToken: string | undefined;
  /** The gateway's SIWE session check (puts the address on res.locals.address). */
  requireSession: RequestHandler;
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

export const isAdminToken = (presented: string, configured: string | undefined) => !!configured && timingSafeEqual(digest(presented), digest(configured));

/**
 * Lets through admins only: an `X-Admin-Token` equal to the configured token (compared in
 * constant time), or a SIWE session of a configured admin wallet. Signed-in non-admins get 403.
 * Puts who is acting on `res.locals.actor` for the audit trail.
 */
export function requireAdmin(deps: AdminCheckDeps, options: AdminCheckOptions = {}): RequestHandler {
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
