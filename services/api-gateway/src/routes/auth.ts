import { Router } from 'express';
import { api } from '@reelboard/api';
import type { Logger } from '@reelboard/logger';
import type { SiweAuth } from '../infra/auth.js';
import type { Bind } from './bind.js';

/** The sign-in routes: a nonce, the signed message for a session, and logout. */
export function authRoutes(auth: SiweAuth, log: Logger, bind: Bind): Router {
  const router = Router();
  bind(router, api.getNonce).to(async ({ res }) => {
    res.set('cache-control', 'no-store');
    return { status: 200, body: { nonce: await auth.issueNonce() } };
  });
  bind(router, api.signIn).to(async ({ body }) => {
    const session = await auth.verify(body.message, body.signature as `0x${string}`);
    log.info('signed in', { address: session.address });
    return { status: 200, body: session };
  });
  bind(router, api.signOut).to(async ({ res }) => {
    await auth.revoke(res.locals.token ?? '');
    return { status: 204, body: undefined };
  });
  return router;
}
