import { commonSchema, ConfigError, env, loadConfig, z } from '@reelboard/config';
import { s3EnvSchema } from '@reelboard/storage';

export const gatewaySchema = commonSchema.extend({
  PORT: env.port(8080),
  /** The origin people reach the gateway at; SIWE messages must name its host and origin. */
  PUBLIC_URL: env.url(['http', 'https']).default('http://localhost:8080'),
  RPC_URL: env.url(['http', 'https']),
  CHAIN_ID: z.coerce.number().int().positive(),
  MERCHANT_ADDRESS: env.address(),
  /** Price of one listing in wei (native coin), when no PAYMENT_TOKEN is set. */
  PRICE_WEI: env.bigint('10000000000000000'),
  /** An ERC-20 token to be paid in instead of the native coin (its contract address). */
  PAYMENT_TOKEN: env.address().optional(),
  /** Price of one listing in the token's base units; required with PAYMENT_TOKEN. */
  PRICE_TOKEN_UNITS: env.bigint().optional(),
  /** How long a quote can be paid, like BTCPay's invoice expiry. */
  QUOTE_TTL_SECONDS: env.positiveInt(15 * 60),
  NONCE_TTL_SECONDS: env.positiveInt(5 * 60),
  SESSION_TTL_SECONDS: env.positiveInt(24 * 3600),
  /** Extra browser origins allowed by CORS (comma-separated); the gateway's own origin always is. */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean))
    .pipe(z.array(z.url({ error: 'each origin must be a URL' }))),
  /** Which proxies' X-Forwarded-For to believe for client IPs (express "trust proxy"): e.g. loopback, 10.0.0.0/8, or a hop count. */
  TRUST_PROXY: z
    .string()
    .default('loopback')
    .transform((value) => (/^\d+$/.test(value) ? Number(value) : value)),
  RATE_LIMIT_PER_IP_PER_MINUTE: env.positiveInt(600),
  RATE_LIMIT_AUTH_PER_IP_PER_MINUTE: env.positiveInt(60),
  RATE_LIMIT_UPLOADS_PER_WALLET_PER_HOUR: env.positiveInt(30),
  MAX_VIDEO_BYTES: env.positiveInt(2 * 1024 ** 3),
  MAX_LOGO_BYTES: env.positiveInt(5 * 1024 ** 2),
  /** Logos larger than this many pixels on a side are refused before decoding. */
  MAX_LOGO_SIDE: env.positiveInt(4096),
  LOGO_SIZE: env.positiveInt(256),
  /** The read API and moderation: listings, hashtags, users. */
  DATABASE_URL: env.url(['postgres', 'postgresql']),
  DATABASE_POOL_MAX: env.positiveInt(10),
  /** Wallets (comma-separated) that may moderate once signed in with SIWE. */
  ADMIN_ADDRESSES: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((part) => part.trim()).filter((part) => part !== ''))
    .pipe(z.array(z.string().regex(/^0x[0-9a-fA-F]{40}$/, { error: 'must be comma-separated 0x-prefixed 20-byte addresses' })))
    .transform((list) => new Set(list.map((address) => address.toLowerCase()))),
  /** Secret for moderation by automation (`X-Admin-Token`); unset disables it. */
  ADMIN_TOKEN: z.string().min(24, { error: 'must be at least 24 characters' }).optional(),
  /** Seconds clients may cache read answers; kept below S3_URL_TTL_SECONDS so cached URLs still work. */
  READ_CACHE_SECONDS: env.nonNegativeInt(30),
}).extend(s3EnvSchema.shape);

/** The currency and amount a quote asks for: the configured token, or the native coin. */
export function quotedPrice(config: Pick<GatewayConfig, 'PAYMENT_TOKEN' | 'PRICE_TOKEN_UNITS' | 'PRICE_WEI'>): { token: `0x${string}` | null; amount: string } {
  return config.PAYMENT_TOKEN ? { token: config.PAYMENT_TOKEN, amount: String(config.PRICE_TOKEN_UNITS) } : { token: null, amount: config.PRICE_WEI.toString() };
}

export type GatewayConfig = z.infer<typeof gatewaySchema>;

export const loadGatewayConfig = (source: NodeJS.ProcessEnv = process.env): GatewayConfig => {
  const config = loadConfig(gatewaySchema, source);
  if (!config.S3_PUBLIC_BASE_URL && config.READ_CACHE_SECONDS * 2 > config.S3_URL_TTL_SECONDS) {
    throw new ConfigError([{ variable: 'READ_CACHE_SECONDS', message: 'must be at most half of S3_URL_TTL_SECONDS, or cached answers hold expired URLs' }]);
  }
  if (config.PAYMENT_TOKEN && config.PRICE_TOKEN_UNITS === undefined) {
    throw new ConfigError([{ variable: 'PRICE_TOKEN_UNITS', message: 'is required when PAYMENT_TOKEN is set' }]);
  }
  return config;
};
