import cors from 'cors';
import type { RequestHandler } from 'express';
import { type Options, rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import { type RedisReply, RedisStore } from 'rate-limit-redis';

export interface SecurityConfig {
  /** Origins allowed to call the API from a browser; the gateway's own origin always is. */
  corsOrigins: string[];
  publicUrl: string;
  /** Requests per minute per IP, all routes. */
  perIpPerMinute: number;
  /** Sign-in attempts per minute per IP. */
  authPerIpPerMinute: number;
  /** New uploads per hour per signed-in wallet. */
  uploadsPerWalletPerHour: number;
  /** Listing reports per hour per signed-in wallet, and per IP without a session. */
  reportsPerWalletPerHour?: number;
  anonymousReportsPerIpPerHour?: number;
  prefix: string;
}

/** The helmet options; `styleSrc` is the only part that differs between pages. */
const helmetOptions = (styleSrc: string[], mediaOrigins: string[] = []): Parameters<typeof helmet>[0] => ({
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      imgSrc: ["'self'", 'data:', 'blob:', '*'],
      mediaSrc: ["'self'", 'blob:', '*'],
      // The adaptive player fetches segments (Range requests) from object storage itself.
      connectSrc: ["'self'", ...mediaOrigins],
      scriptSrc: ["'self'"],
      styleSrc,
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
  crossOriginResourcePolicy: { policy: 'same-site' },
});

/**
 * Security headers; the content policy lets listing media come from object storage or a CDN, and
 * lets scripts fetch from `mediaOrigins` (where the storage URLs point: `storageOrigins`).
 */
export function securityHeaders(mediaOrigins: string[] = []): RequestHandler {
  const strict = helmet(helmetOptions(["'self'"], mediaOrigins));
  // bull-board's UI sets inline styles (layout, progress bars): its pages alone may, and scripts stay 'self' everywhere.
  const dashboard = helmet(helmetOptions(["'self'", "'unsafe-inline'"]));
  return (req, res, next) => (req.path === '/admin/queues' || req.path.startsWith('/admin/queues/') ? dashboard : strict)(req, res, next);
}

/** CORS from the configured allow-list (credentials are bearer tokens, never cookies). */
export function corsPolicy(config: Pick<SecurityConfig, 'corsOrigins' | 'publicUrl'>): RequestHandler {
  const allowed = new Set([new URL(config.publicUrl).origin, ...config.corsOrigins]);
  return cors({
    origin: (origin, callback) => callback(null, origin === undefined || allowed.has(origin)),
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'last-event-id'],
    maxAge: 600,
  });
}

/**
 * Rate limits kept in Redis, so they hold across every gateway replica. Over the limit the
 * answer is 429 with Retry-After and the usual JSON error.
 */
export function rateLimits(redis: Redis, config: SecurityConfig) {
  const store = (name: string) =>
    new RedisStore({
      prefix: `${config.prefix}:rl:${name}:`,
      sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
    });
  const common: Partial<Options> = {
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res, _next, options) => {
      res.status(options.statusCode).json({ error: 'rate_limited', message: `too many requests; retry after ${res.getHeader('retry-after') ?? 'a while'} s` });
    },
  };
  return {
    perIp: rateLimit({ ...common, windowMs: 60_000, limit: config.perIpPerMinute, store: store('ip') }),
    auth: rateLimit({ ...common, windowMs: 60_000, limit: config.authPerIpPerMinute, store: store('auth') }),
    /** Needs the session: keyed by the verified wallet, not the IP (many wallets share NATs). */
    uploadsPerWallet: rateLimit({
      ...common,
      windowMs: 3_600_000,
      limit: config.uploadsPerWalletPerHour,
      store: store('wallet-uploads'),
      keyGenerator: (_req, res) => String(res.locals.address),
    }),
    /** Reports from a signed-in wallet, keyed by the wallet. */
    reportsPerWallet: rateLimit({
      ...common,
      windowMs: 3_600_000,
      limit: config.reportsPerWalletPerHour ?? 20,
      store: store('wallet-reports'),
      keyGenerator: (_req, res) => String(res.locals.address),
    }),
    /** Anonymous reports, keyed by IP (the default key) and stricter: anyone can send them. */
    anonymousReports: rateLimit({ ...common, windowMs: 3_600_000, limit: config.anonymousReportsPerIpPerHour ?? 5, store: store('ip-reports') }),
  };
}

/** What decides where a client fetches stored objects (the storage settings). */
export interface StorageUrlSettings {
  S3_ENDPOINT?: string | undefined;
  S3_PRESIGN_ENDPOINT?: string | undefined;
  S3_PUBLIC_BASE_URL?: string | undefined;
  S3_FORCE_PATH_STYLE: boolean;
}

/**
 * The origins the storage's URLs (`ObjectStorage.urlFor`) point at: the public/CDN base URL, else
 * the endpoint clients reach (its bucket subdomains with virtual-hosted style), else AWS S3.
 */
export function storageOrigins(config: StorageUrlSettings): string[] {
  if (config.S3_PUBLIC_BASE_URL) return [new URL(config.S3_PUBLIC_BASE_URL).origin];
  const endpoint = config.S3_PRESIGN_ENDPOINT ?? config.S3_ENDPOINT;
  if (!endpoint) return ['https://*.amazonaws.com'];
  const url = new URL(endpoint);
  return config.S3_FORCE_PATH_STYLE ? [url.origin] : [url.origin, `${url.protocol}//*.${url.host}`];
}
