import { z } from 'zod';

/** One bad or missing environment variable, named so an operator can fix it. */
export interface ConfigIssue {
  /** The environment variable's name. */
  variable: string;
  /** What is wrong with it. */
  message: string;
}

/** Raised when the environment does not satisfy a service's schema; the message names every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: ConfigIssue[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`);
  }
}

/**
 * Reads and validates configuration once, at start-up. Keys of the schema are the environment
 * variable names, so an error can always say which variable to fix.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
  /** `redisOptional`: a schema with REDIS_URL and REDIS_SENTINELS may have neither (a command that needs Redis only sometimes). */
  options: { redisOptional?: boolean } = {},
): z.infer<S> {
  // Empty strings are treated as unset so `FOO=` in an env file falls back to the default.
  const source: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    source[key] = value === '' ? undefined : value;
  }
  const result = schema.safeParse(source);
  if (result.success && !options.redisOptional && 'REDIS_URL' in schema.shape && 'REDIS_SENTINELS' in schema.shape) {
    // Either way to reach Redis, not neither (zod refinements would stop schemas from extending commonSchema).
    const data = result.data as { REDIS_URL?: string; REDIS_SENTINELS?: unknown };
    if (!data.REDIS_URL && !data.REDIS_SENTINELS) throw new ConfigError([{ variable: 'REDIS_URL', message: 'is required (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER)' }]);
  }
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '(root)'),
        message: issue.message,
      })),
    );
  }
  return result.data;
}

/** Schema pieces shared by the services; each service composes the ones it needs. */
export const env = {
  /** A URL of one of the given protocols. */
  url: (protocols: string[]) =>
    z
      .string({ error: 'is required' })
      .url({ error: 'must be a URL' })
      .refine((value) => protocols.some((p) => value.startsWith(`${p}://`)), {
        error: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`,
      }),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  nonNegativeInt: (fallback: number) => z.coerce.number().int().min(0).default(fallback),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1' || value === 'yes'),
  address: () =>
    z
      .string({ error: 'is required' })
      .regex(/^0x[0-9a-fA-F]{40}$/, { error: 'must be a 0x-prefixed 20-byte hex address' })
      .transform((value) => value.toLowerCase() as `0x${string}`),
  bigint: (fallback?: string) => {
    const base = z.string().regex(/^\d+$/, { error: 'must be a non-negative integer' });
    return (fallback === undefined ? base : base.default(fallback)).transform((value) => BigInt(value));
  },
  logLevel: () => z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
};

/** `host:port,host:port` -> the addresses, each checked. */
function sentinelList() {
  return z
    .string()
    .transform((value, context) => {
      const addresses: { host: string; port: number }[] = [];
      for (const item of value.split(',').map((part) => part.trim()).filter(Boolean)) {
        const match = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(item);
        const port = Number(match?.[2]);
        if (!match?.[1] || !(port > 0 && port < 65536)) {
          context.addIssue({ code: 'custom', message: `"${item}" is not host:port` });
          return z.NEVER;
        }
        addresses.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
      }
      if (addresses.length === 0) {
        context.addIssue({ code: 'custom', message: 'must list at least one host:port' });
        return z.NEVER;
      }
      return addresses;
    });
}

/** Variables every service reads: where Redis is, where staged files live, how to log. */
export const commonSchema = z.object({
  /** Redis for the work queues, status and sessions (redis:// or rediss://); required unless REDIS_SENTINELS is set. */
  REDIS_URL: env.url(['redis', 'rediss']).optional().describe('Redis for the work queues, status and sessions (redis:// or rediss://); required unless REDIS_SENTINELS is set.'),
  /**
   * Redis Sentinel addresses (host:port,host:port): the services ask them for the current master
   * of REDIS_SENTINEL_MASTER and follow it after a failover. Used instead of REDIS_URL when set.
   */
  REDIS_SENTINELS: sentinelList().optional().describe('Redis Sentinel addresses (host:port,host:port): the services ask them for the current master of REDIS_SENTINEL_MASTER and follow it after a failover. Used instead of REDIS_URL when set.'),
  /** The master group name the sentinels monitor (their `sentinel monitor <name> ...` line). */
  REDIS_SENTINEL_MASTER: z.string().min(1).default('mymaster').describe('The master group name the sentinels monitor (their `sentinel monitor <name> ...` line).'),
  /** Password of the sentinels themselves, if they require one (`requirepass` in sentinel.conf). */
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional().describe('Password of the sentinels themselves, if they require one (`requirepass` in sentinel.conf).'),
  /** With REDIS_SENTINELS: the password of the Redis master and replicas (with REDIS_URL it goes in the URL). */
  REDIS_PASSWORD: z.string().min(1).optional().describe('With REDIS_SENTINELS: the password of the Redis master and replicas (with REDIS_URL it goes in the URL).'),
  /** How long an upload's record, state, status history and owner index are kept after its last event. */
  REDIS_UPLOAD_TTL_SECONDS: env.positiveInt(30 * 24 * 3600).describe("How long an upload's record, state, status history and owner index are kept after its last event."),
  /** How long a finished job is kept: its deterministic id deduplicates re-publishes for this long. */
  REDIS_COMPLETED_JOB_TTL_SECONDS: env.positiveInt(7 * 24 * 3600).describe('How long a finished job is kept: its deterministic id deduplicates re-publishes for this long.'),
  /** How long a job that failed for good is kept for operators (bull-board, failed-uploads retry). */
  REDIS_FAILED_JOB_TTL_SECONDS: env.positiveInt(30 * 24 * 3600).describe('How long a job that failed for good is kept for operators (bull-board, failed-uploads retry).'),
  /** How long entries of the status log (the stream the notifier reads) are kept; it is also capped at 100,000 entries. */
  REDIS_STATUS_LOG_TTL_SECONDS: env.positiveInt(7 * 24 * 3600).describe('How long entries of the status log (the stream the notifier reads) are kept; it is also capped at 100,000 entries.'),
  /** Key prefix for every Redis key and BullMQ queue, so several deployments can share one Redis. */
  REDIS_PREFIX: z.string().regex(/^[a-z0-9_-]+$/, { error: 'must be lower-case letters, digits, - or _' }).default('reelboard'),
  /** Directory shared by all services (a shared volume when they run on several machines) where uploads are staged between stages. */
  STAGING_DIR: z.string().min(1).default('.data/staging'),
  /** Lowest level of JSON log lines written to stdout/stderr. */
  LOG_LEVEL: env.logLevel(),
  /** HTTP port for /healthz, /readyz and /metrics (on the gateway, also the API). */
  PORT: env.port(0),
  /** How long in-flight work may take to finish after SIGTERM before it is handed back. */
  SHUTDOWN_GRACE_MS: env.positiveInt(30_000),
  /** How long a running job's lock lasts without renewal: a replica killed mid-job hands it back after about this long. */
  JOB_LOCK_MS: env.positiveInt(30_000),
  /** How often each replica looks for jobs whose holder died (stalled) and puts them back in the queue. */
  JOB_STALLED_INTERVAL_MS: env.positiveInt(30_000),
  /** Times a job may stall (its worker died) and be handed back before it fails for good through the channel's give-up policy. */
  JOB_MAX_STALLED_COUNT: env.positiveInt(2),
});

export { z };
