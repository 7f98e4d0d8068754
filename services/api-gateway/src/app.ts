import express, { type Response } from 'express';
import type { Redis } from 'ioredis';
import type { Knex, RefundChainReader } from '@reelboard/db';
import type { PipelineBus, Uploads } from '@reelboard/lifecycle';
import type { Logger } from '@reelboard/logger';
import type { ObjectStorage } from '@reelboard/storage';
import type { GatewayConfig } from './config.js';
import { requireAdmin } from './infra/admin-auth.js';
import { appPageRoutes } from './infra/app-pages.js';
import type { SiweAuth } from './infra/auth.js';
import { dashboardRoutes } from './infra/dashboard.js';
import { errorHandler, HttpError } from './infra/http-error.js';
import { requestMetrics } from './infra/request-metrics.js';
import type { ResumableUploads } from './infra/resumable.js';
import { corsPolicy, rateLimits, securityHeaders, storageOrigins } from './infra/security.js';
import type { StagingGuard } from './infra/staging-guard.js';
import type { StatusHub } from './infra/status-hub.js';
import { viewerOf } from './infra/viewer.js';
import { webClientRoutes } from './infra/web.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { binder } from './routes/bind.js';
import { buyerListRoutes } from './routes/buyer-lists.js';
import { docsRoutes } from './routes/docs.js';
import { listingLifeRoutes } from './routes/listing-life.js';
import { listingRoutes } from './routes/listings.js';
import { notificationRoutes } from './routes/notifications.js';
import { placeRoutes } from './routes/places.js';
import { reportRoutes } from './routes/reports.js';
import { sellerRoutes } from './routes/seller.js';
import { storyboardRoutes } from './routes/storyboard.js';
import { streamRoutes } from './routes/stream.js';
import { uploadRoutes } from './routes/uploads.js';
import type { PriceQuoter } from './use-cases/quote-price.js';

export interface AppDeps {
  config: GatewayConfig;
  bus: PipelineBus;
  uploads: Uploads;
  auth: SiweAuth;
  hub: StatusHub;
  log: Logger;
  streams: Set<Response>;
  /** Shared state of rate limits across replicas. */
  redis: Redis;
  /** The payment ledger (every quote is recorded before it is shown), the read API and moderation. */
  db: Knex;
  storage: ObjectStorage;
  /** Unpaid staging limits and resumable (tus) uploads (`createStaging`). */
  staging: { guard: StagingGuard; resumable: ResumableUploads };
  /** Reads refund transactions and payers' signatures on the configured chain. */
  refundChain: RefundChainReader;
  /** How quotes are priced (PRICE in fiat: the chain's feed); unset: the configured base-unit amounts. */
  quotePrice?: PriceQuoter | undefined;
}

/** The public HTTP surface: sign-in, the listing form, payment submission, status. */
export function createApp({ config, bus, uploads, auth, hub, log, streams, db, storage, redis, staging, refundChain, quotePrice }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.TRUST_PROXY);
  const limits = rateLimits(redis, {
    corsOrigins: config.CORS_ORIGINS,
    publicUrl: config.PUBLIC_URL,
    perIpPerMinute: config.RATE_LIMIT_PER_IP_PER_MINUTE,
    authPerIpPerMinute: config.RATE_LIMIT_AUTH_PER_IP_PER_MINUTE,
    uploadsPerWalletPerHour: config.RATE_LIMIT_UPLOADS_PER_WALLET_PER_HOUR,
    reportsPerWalletPerHour: config.RATE_LIMIT_REPORTS_PER_WALLET_PER_HOUR,
    anonymousReportsPerIpPerHour: config.RATE_LIMIT_ANONYMOUS_REPORTS_PER_IP_PER_HOUR,
    prefix: config.REDIS_PREFIX,
  });
  // First, so refusals by the limits and guards below are timed and counted too.
  app.use(requestMetrics());
  app.use(securityHeaders(storageOrigins(config)));
  app.use(corsPolicy({ corsOrigins: config.CORS_ORIGINS, publicUrl: config.PUBLIC_URL }));
  app.use('/v1', limits.perIp);
  app.use('/v1/auth', limits.auth);
  app.use(express.json({ limit: '32kb' }));

  // /healthz, /readyz and /metrics are not here: they are on the internal port (packages/runtime),
  // so the public listener (and whatever proxies it) never shows dependency states or metrics.
  const guards = {
    session: auth.requireSession(),
    admin: requireAdmin({ adminAddresses: config.ADMIN_ADDRESSES, adminToken: config.ADMIN_TOKEN, requireSession: auth.requireSession() }),
  };
  const bind = binder(guards);
  app.use(authRoutes(auth, log, bind));

  app.use(
    sellerRoutes({
      bind,
      config,
      uploads,
      bus,
      db,
      stagingDir: config.STAGING_DIR,
      release: (owner, uploadId) => staging.guard.release(owner, uploadId),
      quotePrice,
    }),
  );
  app.use(uploadRoutes({ bind, bus, uploads, db, storage, hub, config, limitUploads: limits.uploadsPerWallet, streams, quotePrice, ...staging }));
  app.use(listingLifeRoutes({ bind, db, storage, bus, uploads, log, config, quotePrice, limitQuotes: limits.uploadsPerWallet }));
  app.use(listingRoutes({ bind, db, storage, cacheSeconds: config.READ_CACHE_SECONDS }));
  app.use(buyerListRoutes({ bind, db, storage }));
  app.use(
    reportRoutes({
      bind,
      db,
      storage,
      bus,
      log,
      listingDays: config.LISTING_DAYS,
      holdThreshold: config.REPORTS_HOLD_THRESHOLD,
      requireSession: auth.requireSession(),
      limits: { wallet: limits.reportsPerWallet, anonymous: limits.anonymousReports },
    }),
  );
  app.use(placeRoutes({ bind }));
  const viewer = viewerOf({ auth, adminAddresses: config.ADMIN_ADDRESSES, adminToken: config.ADMIN_TOKEN });
  app.use(streamRoutes({ bind, db, storage, uploads, viewer, cacheSeconds: config.READ_CACHE_SECONDS }));
  app.use(storyboardRoutes({ bind, db, storage, viewer, cacheSeconds: config.READ_CACHE_SECONDS }));
  app.use(
    notificationRoutes({
      bind,
      db,
      log,
      bus,
      vapidPublicKey: config.VAPID_PUBLIC_KEY,
      pushAllowedHosts: config.PUSH_ALLOWED_HOSTS,
    }),
  );
  app.use(
    adminRoutes({
      bind,
      db,
      storage,
      bus,
      uploads,
      log,
      listingDays: config.LISTING_DAYS,
      refunds: { chain: refundChain, confirmations: config.CONFIRMATIONS },
    }),
  );
  app.use(
    dashboardRoutes({
      bus,
      publicUrl: config.PUBLIC_URL,
      adminAddresses: config.ADMIN_ADDRESSES,
      adminToken: config.ADMIN_TOKEN,
      requireSession: auth.requireSession(),
    }),
  );
  app.use(docsRoutes({ bind, publicUrl: config.PUBLIC_URL }));
  app.use(
    webClientRoutes({
      log,
      uploadChunkBytes: config.WEB_UPLOAD_CHUNK_BYTES,
      appPages: (page) => appPageRoutes({ db, storage, publicUrl: config.PUBLIC_URL }, page),
    }),
  );

  app.use((req, _res) => {
    throw new HttpError(404, 'not_found', `no route ${req.method} ${req.path}`);
  });
  app.use(errorHandler(log));
  return app;
}
