import { z } from 'zod';
import { type ChainSetting, chainsEnv } from './chains.js';

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
    if (!data.REDIS_URL && !data.REDIS_SENTINELS)
      throw new ConfigError([{ variable: 'REDIS_URL', message: 'is required (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER)' }]);
  }
  if (result.success) {
    const data = result.data as { CHAIN_ID?: unknown; MERCHANT_ADDRESS?: unknown };
    const merchant = typeof data.MERCHANT_ADDRESS === 'string' ? data.MERCHANT_ADDRESS.toLowerCase() : undefined;
    if (merchant && data.CHAIN_ID !== undefined && data.CHAIN_ID !== LOCAL_CHAIN_ID && PUBLIC_TEST_ACCOUNTS.includes(merchant)) {
      throw new ConfigError([
        {
          variable: 'MERCHANT_ADDRESS',
          message: `${merchant} is one of the public test accounts of the "test test ... junk" mnemonic (anvil, Hardhat), whose private keys everyone has; on chain ${String(data.CHAIN_ID)} anyone could take what it is paid. Set the merchant's own address (test accounts are accepted only on the local chain, CHAIN_ID=${LOCAL_CHAIN_ID})`,
        },
      ]);
    }
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

/** The chain id of the local development chain (anvil, Hardhat): the only one a public test account may be the merchant on. */
export const LOCAL_CHAIN_ID = 31337;

/**
 * The first twenty accounts of the "test test test test test test test test test test test junk"
 * mnemonic that anvil and Hardhat fund by default (lower case). Their private keys are public, so
 * money sent to one of them on a real chain is anyone's. packages/config/test checks the list
 * against the mnemonic.
 */
export const PUBLIC_TEST_ACCOUNTS: readonly string[] = [
  '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266',
  '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
  '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc',
  '0x90f79bf6eb2c4f870365e785982e1f101e93b906',
  '0x15d34aaf54267db7d7c367839aaf71a00a2c6a65',
  '0x9965507d1a55bcc2695c58ba16fb37d819b0a4dc',
  '0x976ea74026e726554db657fa54763abd0c3a0aa9',
  '0x14dc79964da2c08b23698b3d3cc7ca32193d9955',
  '0x23618e81e3f5cdf7f54c3d65f7fbc0abf5b21e8f',
  '0xa0ee7a142d267c1f36714e4a8f75612f20a79720',
  '0xbcd4042de499d14e55001ccbb24a551f3b954096',
  '0x71be63f3384f5fb98995898a86b02fb2426c5788',
  '0xfabb0ac9d68b0b445fb7357272ff202c5651694a',
  '0x1cbd3b2770909d4e10f157cabc84c7264073c9ec',
  '0xdf3e18d64bc6a983f673ab319ccae4f1a57c7097',
  '0xcd3b766ccdd6ae721141f452c550ca635964ce71',
  '0x2546bcd3c84621e976d8185a91a922ae77ecec30',
  '0xbda5747bfd65f08deb54cb465eb87d40e51b197e',
  '0xdd2fd4581271e230360230f9337d5c0430bf44c0',
  '0x8626f6940e2eb28930efb4cef49b2d1f2c9c1199',
];

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
  return z.string().transform((value, context) => {
    const addresses: { host: string; port: number }[] = [];
    for (const item of value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
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

/** Where Redis is, and how long what the services keep in it lives: every service (and the operators' commands) reads these. */
export const redisEnvSchema = z.object({
  REDIS_URL: env
    .url(['redis', 'rediss'])
    .optional()
    .describe('Redis for the work queues, status and sessions (redis:// or rediss://); required unless REDIS_SENTINELS is set.'),
  REDIS_SENTINELS: sentinelList()
    .optional()
    .describe(
      'Redis Sentinel addresses (host:port,host:port): the services ask them for the current master of REDIS_SENTINEL_MASTER and follow it after a failover. Used instead of REDIS_URL when set.',
    ),
  REDIS_SENTINEL_MASTER: z
    .string()
    .min(1)
    .default('mymaster')
    .describe('The master group name the sentinels monitor (their `sentinel monitor <name> ...` line).'),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional().describe('Password of the sentinels themselves, if they require one (`requirepass` in sentinel.conf).'),
  REDIS_PASSWORD: z
    .string()
    .min(1)
    .optional()
    .describe('With REDIS_SENTINELS: the password of the Redis master and replicas (with REDIS_URL it goes in the URL).'),
  REDIS_UPLOAD_TTL_SECONDS: env
    .positiveInt(30 * 24 * 3600)
    .describe("How long an upload's record, state, status history and owner index are kept after its last event."),
  REDIS_COMPLETED_JOB_TTL_SECONDS: env
    .positiveInt(7 * 24 * 3600)
    .describe('How long a finished job is kept: its deterministic id deduplicates re-publishes for this long.'),
  REDIS_FAILED_JOB_TTL_SECONDS: env
    .positiveInt(30 * 24 * 3600)
    .describe('How long a job that failed for good is kept for operators (bull-board, failed-uploads retry).'),
  REDIS_STATUS_LOG_TTL_SECONDS: env
    .positiveInt(7 * 24 * 3600)
    .describe('How long entries of the status log (the stream the notifier reads) are kept; it is also capped at 100,000 entries.'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]+$/, { error: 'must be lower-case letters, digits, - or _' })
    .default('reelboard')
    .describe('Key prefix for every Redis key and BullMQ queue, so several deployments can share one Redis.'),
});

/** Where Postgres is: the services that read or write the database (api-gateway, profile-writer, notifier). */
export const databaseEnvSchema = z.object({
  DATABASE_URL: env
    .url(['postgres', 'postgresql'])
    .describe('Postgres with PostGIS (postgres:// or postgresql://): users, listings, hashtags, the payment ledger, moderation and notifications.'),
  DATABASE_POOL_MAX: env.positiveInt(10).describe('Postgres connections this replica may open.'),
});

/** The chain payments are made on, and whom they pay: the api-gateway and the payment-watcher read the same. */
export const chainEnvSchema = z.object({
  RPC_URL: env
    .url(['http', 'https'])
    .optional()
    .describe(
      'JSON-RPC endpoint of the chain payments are made on (the gateway also checks smart-wallet sign-ins with it). Required unless RPC_URLS is set, or CHAINS lists CHAIN_ID.',
    ),
  RPC_URLS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((url) => url.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url({ protocol: /^https?$/, error: 'each must be an http:// or https:// URL' })))
    .describe(
      'Several JSON-RPC endpoints of the same chain (comma-separated, e.g. two providers), used before RPC_URL: requests go to the healthiest, failing over to the next (viem fallback, ranked by stability and latency).',
    ),
  RPC_RANK_INTERVAL_MS: env
    .nonNegativeInt(10_000)
    .describe('With several RPC endpoints: how often each is pinged (eth_blockNumber) to rank them by stability and latency; 0 keeps the order given.'),
  RPC_MAX_LOG_RANGE: env
    .positiveInt(1_000)
    .describe(
      'Most blocks one eth_getLogs may span: longer queries are cut into ranges of this many, and a range the provider refuses as too large is halved.',
    ),
  CHAIN_ID: z.coerce
    .number()
    .int()
    .positive()
    .describe('Chain id payments are made on: quotes and sign-in messages name it, and the RPC must serve it (checked at start).'),
  MERCHANT_ADDRESS: env
    .address()
    .describe('The merchant: the only address sweeps pay, and the one every deposit address is bound to (the same on the gateway and the payment-watcher).'),
  PAYMENT_TOKEN: env
    .address()
    .optional()
    .describe(
      'An ERC-20 token listings are paid in instead of the native coin (its contract address): the gateway quotes it, the watcher reads deposit balances in it.',
    ),
  CHAINS: chainsEnv().describe(
    'Every chain payments are watched on: a JSON array (or the path of a file holding one) of `{id, name, rpcUrls, publicRpcUrls?, confirmationPolicy, confirmations, blockTimeMs, native: {symbol, decimals}, tokens: [{address, symbol, decimals, currency?}], priceFeed?: {address, currency, maxAgeSeconds}}`. It must include CHAIN_ID (the chain the gateway quotes on), whose entry gives its RPC URLs and confirmation policy. With PRICE, the gateway quotes every chain listed (each stablecoin of the currency, and the native coin where the feed is fresh); `publicRpcUrls` are shown to wallets (GET /v1/pricing) to add the chain. Unset: CHAIN_ID alone, from RPC_URL(S), CONFIRMATION_POLICY, CONFIRMATIONS and PAYMENT_TOKEN.',
  ),
});

/** Variables every service reads: where Redis is, where staged files live, how to log, how jobs are held. */
export const commonSchema = redisEnvSchema.extend({
  STAGING_DIR: z
    .string()
    .min(1)
    .default('.data/staging')
    .describe('Directory shared by all services (a shared volume when they run on several machines) where uploads are staged between stages.'),
  LOG_LEVEL: env.logLevel().describe('Lowest level of JSON log lines written to stdout/stderr.'),
  SHUTDOWN_GRACE_MS: env.positiveInt(30_000).describe('How long in-flight work may take to finish after SIGTERM before it is handed back.'),
  JOB_LOCK_MS: env
    .positiveInt(30_000)
    .describe("How long a running job's lock lasts without renewal: a replica killed mid-job hands it back after about this long."),
  JOB_STALLED_INTERVAL_MS: env
    .positiveInt(30_000)
    .describe('How often each replica looks for jobs whose holder died (stalled) and puts them back in the queue.'),
  JOB_MAX_STALLED_COUNT: env
    .positiveInt(2)
    .describe("Times a job may stall (its worker died) and be handed back before it fails for good through the channel's give-up policy."),
});

/**
 * The port of a service's internal endpoints; each service gives its own default so that all of
 * them run on one machine without colliding (api-gateway 9080, then 9081… in the order of the chain).
 */
export const internalPort = (fallback: number) =>
  env
    .port(fallback)
    .describe(
      "HTTP port for /healthz, /readyz and /metrics (the orchestrator's probes and Prometheus): keep it off the public network. The gateway's public PORT serves none of them.",
    );

/**
 * Every RPC endpoint of the home chain (CHAIN_ID) of a validated configuration: its CHAINS entry's when
 * it has one, else RPC_URLS then RPC_URL; a ConfigError when there is none.
 */
export function rpcUrlsFrom(config: {
  RPC_URL?: string | undefined;
  RPC_URLS?: readonly string[] | undefined;
  CHAINS?: readonly ChainSetting[] | undefined;
  CHAIN_ID?: number | undefined;
}): string[] {
  const home = config.CHAINS?.find((chain) => chain.id === config.CHAIN_ID);
  if (home) return [...home.rpcUrls];
  const urls = [...new Set([...(config.RPC_URLS ?? []), ...(config.RPC_URL ? [config.RPC_URL] : [])])];
  if (urls.length === 0) throw new ConfigError([{ variable: 'RPC_URL', message: 'is required (or RPC_URLS)' }]);
  return urls;
}

/** The explanation a schema field carries (`.describe()` or `.meta({ description })`), if any. */
export function descriptionOf(field: z.ZodType): string | undefined {
  return z.globalRegistry.get(field)?.description ?? field.description;
}

/** What a chain is watched with when CHAINS is unset (the single-chain settings of the payment-watcher). */
export interface SingleChainDefaults {
  confirmationPolicy?: ChainSetting['confirmationPolicy'] | undefined;
  confirmations?: number | undefined;
  blockTimeMs?: number | undefined;
}

/**
 * The chains of a validated configuration: CHAINS when set (it must include CHAIN_ID), else the one
 * chain the single-chain settings describe (CHAIN_ID, RPC_URL(S), PAYMENT_TOKEN), so a deployment
 * configured before CHAINS existed runs as a one-chain list. The home chain (CHAIN_ID) comes first.
 */
export function chainsFrom(
  config: {
    CHAINS?: ChainSetting[] | undefined;
    CHAIN_ID: number;
    RPC_URL?: string | undefined;
    RPC_URLS?: readonly string[] | undefined;
    PAYMENT_TOKEN?: `0x${string}` | undefined;
  },
  defaults: SingleChainDefaults = {},
): ChainSetting[] {
  if (!config.CHAINS) {
    return [
      {
        id: config.CHAIN_ID,
        name: `chain-${config.CHAIN_ID}`,
        rpcUrls: rpcUrlsFrom(config),
        confirmationPolicy: defaults.confirmationPolicy ?? 'depth',
        confirmations: defaults.confirmations ?? 2,
        blockTimeMs: defaults.blockTimeMs ?? 2_000,
        native: { symbol: 'ETH', decimals: 18 },
        // The single-chain settings never named the token's symbol or decimals; amounts in it are base units.
        tokens: config.PAYMENT_TOKEN ? [{ address: config.PAYMENT_TOKEN, symbol: 'TOKEN', decimals: 18 }] : [],
      },
    ];
  }
  const home = config.CHAINS.find((chain) => chain.id === config.CHAIN_ID);
  if (!home) {
    throw new ConfigError([
      { variable: 'CHAINS', message: `has no chain ${config.CHAIN_ID}, the chain CHAIN_ID names (the one the gateway quotes on); add it or change CHAIN_ID` },
    ]);
  }
  if (config.PAYMENT_TOKEN && !home.tokens.some((token) => token.address === config.PAYMENT_TOKEN)) {
    throw new ConfigError([
      { variable: 'PAYMENT_TOKEN', message: `${config.PAYMENT_TOKEN} is not among the tokens CHAINS accepts on chain ${home.id} (${home.name})` },
    ]);
  }
  return [home, ...config.CHAINS.filter((chain) => chain !== home)];
}

/** The chains a replica watches: those WATCH_CHAINS names (every chain when it is empty); an unknown id is a ConfigError. */
export function selectChains(chains: readonly ChainSetting[], watch: readonly number[]): ChainSetting[] {
  if (watch.length === 0) return [...chains];
  const unknown = watch.filter((id) => !chains.some((chain) => chain.id === id));
  if (unknown.length > 0) {
    throw new ConfigError([
      {
        variable: 'WATCH_CHAINS',
        message: `names chain ${unknown.join(', ')}, not among the configured chains (${chains.map((chain) => chain.id).join(', ')})`,
      },
    ]);
  }
  return chains.filter((chain) => watch.includes(chain.id));
}

export {
  type ChainSetting,
  chainIdListEnv,
  chainSettingSchema,
  chainsEnv,
  type PriceFeedSetting,
  priceFeedSettingSchema,
  type TokenSetting,
  tokenSettingSchema,
} from './chains.js';
export { z };
