import express, { type Response } from 'express';
import type { Bus } from '@reelboard/bus';
import type { Logger } from '@reelboard/logger';
import { checkReadiness, metricsText, type ReadinessCheck } from '@reelboard/runtime';
import type { SiweAuth } from './auth.js';
import type { GatewayConfig } from './config.js';
import { errorHandler, HttpError } from './http-error.js';
import type { StatusHub } from './status-hub.js';
import { uploadRoutes } from './uploads.js';

export interface AppDeps {
  config: GatewayConfig;
  bus: Bus;
  auth: SiweAuth;
  hub: StatusHub;
  log: Logger;
  readiness: Record<string, ReadinessCheck>;
  streams: Set<Response>;
}

/** The public HTTP surface: sign-in, the listing form, payment submission, status. */
export function createApp({ config, bus, auth, hub, log, readiness, streams }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(express.json({ limit: '32kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/metrics', async (_req, res) => {
    const { contentType, body } = await metricsText();
    res.type(contentType).send(body);
  });
  app.get('/readyz', async (_req, res) => {
    const result = await checkReadiness(readiness);
    res.status(result.ok ? 200 : 503).json(result);
  });

  app.get('/v1/auth/nonce', async (_req, res) => {
    res.set('cache-control', 'no-store').json({ nonce: await auth.issueNonce() });
  });
  app.post('/v1/auth/verify', async (req, res) => {
    const { message, signature } = (req.body ?? {}) as { message?: unknown; signature?: unknown };
    if (typeof message !== 'string' || message.length > 4096) throw new HttpError(400, 'invalid_body', 'message must be the EIP-4361 text (at most 4096 characters)');
    if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]+$/.test(signature)) throw new HttpError(400, 'invalid_body', 'signature must be 0x-prefixed hex');
    const session = await auth.verify(message, signature as `0x${string}`);
    log.info('signed in', { address: session.address });
    res.json(session);
  });
  app.post('/v1/auth/logout', auth.requireSession(), async (_req, res) => {
    await auth.revoke(res.locals.token as string);
    res.status(204).end();
  });

  app.use(uploadRoutes({ bus, hub, config, requireSession: auth.requireSession(), streams }));

  app.use((req, _res) => {
    throw new HttpError(404, 'not_found', `no route ${req.method} ${req.path}`);
  });
  app.use(errorHandler(log));
  return app;
}
