import type { Request } from 'express';
import { isAdminToken } from './admin-auth.js';
import type { SiweAuth } from './auth.js';
import { HttpError } from './http-error.js';

/** Who reads a public route that shows more to an owner or an admin (nobody in particular by default). */
export interface Viewer {
  /** The wallet a valid SIWE session proves (lower case). */
  address?: `0x${string}`;
  admin: boolean;
}

export interface ViewerDeps {
  auth: Pick<SiweAuth, 'addressOf'>;
  /** Lower-case admin wallets. */
  adminAddresses: ReadonlySet<string>;
  adminToken: string | undefined;
}

/**
 * Identifies the caller of a public route without requiring anything: a valid `X-Admin-Token` or an
 * admin wallet's session is an admin, another session is its wallet, and no (or an expired) session
 * is anyone. A wrong admin token is refused (403) rather than read as anyone, so a misconfigured
 * moderation tool says so instead of seeing less.
 */
export function viewerOf({ auth, adminAddresses, adminToken }: ViewerDeps): (req: Request) => Promise<Viewer> {
  return async (req) => {
    const token = req.get('x-admin-token');
    if (token !== undefined) {
      if (!isAdminToken(token, adminToken)) throw new HttpError(403, 'forbidden', 'admin token is not valid');
      return { admin: true };
    }
    const bearer = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(req.get('authorization') ?? '')?.[1];
    const address = bearer ? await auth.addressOf(bearer) : undefined;
    if (!address) return { admin: false };
    const lower = address.toLowerCase() as `0x${string}`;
    return { address: lower, admin: adminAddresses.has(lower) };
  };
}
