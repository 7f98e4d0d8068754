import { LOCAL_DEPOSIT_SALT_KEY, parseFiatPrice } from '@reelboard/chain';
import {
  ConfigError,
  chainEnvSchema,
  chainsFrom,
  commonSchema,
  databaseEnvSchema,
  env,
  internalPort,
  LOCAL_CHAIN_ID,
  loadConfig,
  rpcUrlsFrom,
  z,
} from '@reelboard/config';
import { s3EnvSchema } from '@reelboard/storage';

export const gatewaySchema = commonSchema
  .extend(chainEnvSchema.shape)
  .extend(databaseEnvSchema.shape)
  .extend(s3EnvSchema.shape)
  .extend({
    PORT: env.port(8080).describe('HTTP port of the public API and the web client (the probes and metrics are on INTERNAL_PORT).'),
    INTERNAL_PORT: internalPort(9080),
    PUBLIC_URL: env
      .url(['http', 'https'])
      .default('http://localhost:8080')
      .describe('The origin people reach the gateway at; SIWE messages must name its host and origin.'),
    PRICE_WEI: env.bigint('10000000000000000').describe('Price of one listing in wei (native coin), when no PAYMENT_TOKEN is set.'),
    PRICE_TOKEN_UNITS: env.bigint().optional().describe("Price of one listing in the token's base units; required with PAYMENT_TOKEN."),
    PRICE: fiatPrice().describe(
      "Price of one listing in a fiat currency, e.g. `5.00 USD`, used instead of PRICE_WEI / PRICE_TOKEN_UNITS: a stablecoin of that currency (its `currency` in CHAINS) is quoted 1:1 in its own decimals, the native coin at the rate of the chain's `priceFeed` (a Chainlink feed), read when the quote is made and locked for its lifetime.",
    ),
    RENEWAL_PRICE: fiatPrice().describe('Price of renewing a listing, like PRICE (same currency); unset: PRICE.'),
    PAYMENT_ASSET_SYMBOL: z
      .string()
      .regex(/^[A-Za-z0-9.$-]{1,11}$/, { error: 'must be a short ticker such as ETH or USDC' })
      .default('ETH')
      .describe("The paying coin's ticker, shown with the fee (GET /v1/pricing): the chain's native coin, or PAYMENT_TOKEN's."),
    PAYMENT_ASSET_DECIMALS: z.coerce
      .number()
      .int()
      .min(0)
      .max(36)
      .default(18)
      .describe('Decimals of the paying coin (18 for ETH, 6 for USDC): the fee is shown as base units / 10^decimals.'),
    QUOTE_TTL_SECONDS: env.positiveInt(15 * 60).describe("How long a quote can be paid, like BTCPay's invoice expiry."),
    SPECULATIVE_PREVIEW: env
      .boolean(true)
      .describe(
        "Have the transcoder cut each accepted upload's preview and poster while the person pays (stored privately, published at payment); false cuts them after payment only.",
      ),
    CONFIRMATIONS: env
      .positiveInt(2)
      .describe("Blocks on top of (and including) a refund transaction's block before an admin can record it (as the payment-watcher counts payments)."),
    MAX_PAYMENT_HINTS: env.positiveInt(3).describe('Distinct transaction hashes followed at a time for one upload (hints; more get 429).'),
    NONCE_TTL_SECONDS: env.positiveInt(5 * 60).describe('Lifetime of a sign-in nonce; each is usable once.'),
    SESSION_TTL_SECONDS: env.positiveInt(24 * 3600).describe('Lifetime of a session token after sign-in.'),
    CORS_ORIGINS: z
      .string()
      .default('')
      .transform((value) =>
        value
          .split(',')
          .map((origin) => origin.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.url({ error: 'each origin must be a URL' })))
      .describe("Extra browser origins allowed by CORS (comma-separated); the gateway's own origin always is."),
    TRUST_PROXY: z
      .string()
      .default('loopback')
      .transform((value) => (/^\d+$/.test(value) ? Number(value) : value))
      .describe('Which proxies\' X-Forwarded-For to believe for client IPs (express "trust proxy"): e.g. loopback, 10.0.0.0/8, or a hop count.'),
    RATE_LIMIT_PER_IP_PER_MINUTE: env.positiveInt(600).describe('API requests per minute per client IP (429 with Retry-After above it).'),
    RATE_LIMIT_AUTH_PER_IP_PER_MINUTE: env.positiveInt(60).describe('Sign-in requests per minute per client IP.'),
    RATE_LIMIT_UPLOADS_PER_WALLET_PER_HOUR: env.positiveInt(30).describe('New uploads per hour per signed-in wallet.'),
    RATE_LIMIT_REPORTS_PER_WALLET_PER_HOUR: env.positiveInt(20).describe('Listing reports per hour per signed-in wallet.'),
    RATE_LIMIT_ANONYMOUS_REPORTS_PER_IP_PER_HOUR: env
      .positiveInt(5)
      .describe('Listing reports per hour per client IP without a session (stricter: anyone can send them).'),
    REPORTS_HOLD_THRESHOLD: env
      .positiveInt(3)
      .describe('Open reports that hide a listing from the public until a moderator resolves them (its owner is told).'),
    MAX_VIDEO_BYTES: env.positiveInt(2 * 1024 ** 3).describe('Largest accepted video file (413 above it).'),
    MAX_LOGO_BYTES: env.positiveInt(5 * 1024 ** 2).describe('Largest accepted logo file (413 above it).'),
    MAX_LOGO_SIDE: env.positiveInt(4096).describe('Logos larger than this many pixels on a side are refused before decoding.'),
    LOGO_SIZE: env.positiveInt(256).describe('Side in pixels of the square WebP the logo is normalised to.'),
    SSE_HEARTBEAT_MS: env.positiveInt(15_000).describe('How often an idle status stream (SSE) gets a comment line, so proxies do not close it.'),
    ADMIN_ADDRESSES: z
      .string()
      .default('')
      .transform((value) =>
        value
          .split(',')
          .map((part) => part.trim())
          .filter((part) => part !== ''),
      )
      .pipe(z.array(z.string().regex(/^0x[0-9a-fA-F]{40}$/, { error: 'must be comma-separated 0x-prefixed 20-byte addresses' })))
      .transform((list) => new Set(list.map((address) => address.toLowerCase())))
      .describe('Wallets (comma-separated) that may moderate once signed in with SIWE.'),
    ADMIN_TOKEN: z
      .string()
      .min(24, { error: 'must be at least 24 characters' })
      .optional()
      .describe('Secret for moderation by automation (`X-Admin-Token`); unset disables it.'),
    DEPOSIT_SALT_KEY: z
      .string()
      .min(32, { error: 'must be at least 32 characters (e.g. `openssl rand -hex 32`)' })
      .default(LOCAL_DEPOSIT_SALT_KEY)
      .describe(
        "Secret key of the deposit addresses' CREATE2 salts (HMAC-SHA256 of the quote id): without it, anyone who sees an upload's or listing's id could compute its deposit address and send it dust. Required off the local chain (31337, where a public development key is the default). Each quote stores its salt, so a new key leaves every issued quote where it was. The gateway alone needs it.",
      ),
    READ_CACHE_SECONDS: env.nonNegativeInt(30).describe('Seconds clients may cache read answers; kept below S3_URL_TTL_SECONDS so cached URLs still work.'),
    VAPID_PUBLIC_KEY: z
      .string()
      .regex(/^[A-Za-z0-9_-]{87}$/, { error: 'must be a base64url P-256 public key (87 characters)' })
      .optional()
      .describe("VAPID public key the web client subscribes to Web Push with (the notifier's pair); unset turns the offer off."),
    PUSH_ALLOWED_HOSTS: z
      .string()
      .default('fcm.googleapis.com,push.services.mozilla.com,push.apple.com,notify.windows.com')
      .transform((value) =>
        value
          .split(',')
          .map((host) => host.trim().toLowerCase())
          .filter(Boolean),
      )
      .describe("Hosts (and their subdomains, comma-separated) a push subscription's endpoint may be on: the browsers' push services."),
    LISTING_DAYS: env
      .positiveInt(30)
      .describe('Days a listing runs from its approval; a paid renewal adds as many from its current expiry (or from now once expired).'),
    SOLD_DISPLAY_HOURS: env.nonNegativeInt(72).describe('Hours a listing marked sold is still shown, as sold, before it is hidden (0 hides it at once).'),
    REJECTED_OBJECTS_DELETE_AFTER_HOURS: env
      .nonNegativeInt(72)
      .describe("Hours after a rejection before the rejected listing's S3 objects are deleted (time for an appeal or an edit)."),
    LISTING_JOB_INTERVAL_SECONDS: env
      .positiveInt(60)
      .describe('Seconds between runs of the listing job (owners told of expired listings, due S3 objects deleted); one run per slot across replicas.'),
    WEB_UPLOAD_CHUNK_BYTES: env
      .positiveInt(8 * 1024 * 1024)
      .describe('Bytes the web client sends per resumable-upload request: the most a dropped connection costs again (larger chunks mean fewer requests).'),
    RESUMABLE_EXPIRY_SECONDS: env.positiveInt(24 * 3600).describe('How long an unfinished resumable (tus) upload is kept; then its bytes are removed.'),
    RESUMABLE_SWEEP_SECONDS: env.positiveInt(10 * 60).describe('How often each replica removes expired unfinished resumable uploads.'),
    UPLOAD_REQUEST_TIMEOUT_SECONDS: env
      .positiveInt(8 * 3600)
      .describe('Longest time one upload request (a multipart form or a tus chunk) may take to arrive, sized for slow links: 2 GiB at 100 kB/s is about 6 h.'),
    UPLOAD_IDLE_TIMEOUT_SECONDS: env
      .positiveInt(120)
      .describe('An upload connection that sends nothing for this long is closed (a resumable upload then resumes).'),
    STAGING_MAX_UNPAID_BYTES_PER_WALLET: env
      .positiveInt(4 * 1024 ** 3)
      .describe('Unpaid staged bytes one wallet may hold (uploads awaiting payment and unfinished resumable ones); more is refused with 429.'),
    STAGING_MAX_UNPAID_UPLOADS_PER_WALLET: env.positiveInt(3).describe('Unpaid uploads one wallet may hold in staging at once; more are refused with 429.'),
    STAGING_RESERVE_BYTES: env
      .nonNegativeInt(5 * 1024 ** 3)
      .describe('Free space kept on the staging volume for paid work: new uploads that would go below it, and bytes arriving below it, are refused with 507.'),
  });

/** The currency and amount a quote asks for: the configured token, or the native coin. */
export function quotedPrice(config: Pick<GatewayConfig, 'PAYMENT_TOKEN' | 'PRICE_TOKEN_UNITS' | 'PRICE_WEI'>): { token: `0x${string}` | null; amount: string } {
  return config.PAYMENT_TOKEN
    ? { token: config.PAYMENT_TOKEN, amount: String(config.PRICE_TOKEN_UNITS) }
    : { token: null, amount: config.PRICE_WEI.toString() };
}

/** `5.00 USD`: an amount and an ISO 4217 currency. */
function fiatPrice() {
  return z
    .string()
    .optional()
    .transform((value, context) => {
      if (value === undefined) return undefined;
      const price = parseFiatPrice(value);
      if (!price) {
        context.addIssue({ code: 'custom', message: `"${value}" is not an amount and a currency code, e.g. 5.00 USD` });
        return z.NEVER;
      }
      return price;
    });
}

export type GatewayConfig = z.infer<typeof gatewaySchema>;

export const loadGatewayConfig = (source: NodeJS.ProcessEnv = process.env): GatewayConfig => {
  const config = loadConfig(gatewaySchema, source);
  rpcUrlsFrom(config);
  if (config.CHAIN_ID !== LOCAL_CHAIN_ID && config.DEPOSIT_SALT_KEY === LOCAL_DEPOSIT_SALT_KEY)
    throw new ConfigError([
      {
        variable: 'DEPOSIT_SALT_KEY',
        message: `is required on chain ${config.CHAIN_ID} (the default is the local chain's public key): set a secret of at least 32 characters, e.g. \`openssl rand -hex 32\``,
      },
    ]);
  if (!config.S3_PUBLIC_BASE_URL && config.READ_CACHE_SECONDS * 2 > config.S3_URL_TTL_SECONDS) {
    throw new ConfigError([{ variable: 'READ_CACHE_SECONDS', message: 'must be at most half of S3_URL_TTL_SECONDS, or cached answers hold expired URLs' }]);
  }
  if (config.RENEWAL_PRICE && !config.PRICE) throw new ConfigError([{ variable: 'RENEWAL_PRICE', message: 'needs PRICE (both in a fiat currency)' }]);
  if (config.PRICE && config.RENEWAL_PRICE && config.RENEWAL_PRICE.currency !== config.PRICE.currency)
    throw new ConfigError([
      { variable: 'RENEWAL_PRICE', message: `is in ${config.RENEWAL_PRICE.currency}, PRICE in ${config.PRICE.currency}: use one currency` },
    ]);
  if (config.PRICE) {
    // A fiat price needs a way to the quoted asset: a stablecoin of its currency, or the native coin's feed in it.
    const home = chainsFrom(config)[0]!;
    const { currency } = config.PRICE;
    if (config.PAYMENT_TOKEN) {
      const token = home.tokens.find((t) => t.address === config.PAYMENT_TOKEN);
      if (token?.currency !== currency)
        throw new ConfigError([
          {
            variable: 'PRICE',
            message: `is in ${currency}, but PAYMENT_TOKEN ${config.PAYMENT_TOKEN} is not listed in CHAINS as a ${currency} stablecoin (its "currency") on chain ${home.id}`,
          },
        ]);
    } else if (home.priceFeed?.currency !== currency) {
      throw new ConfigError([
        {
          variable: 'PRICE',
          message: `is in ${currency} and quoted in the native coin, but chain ${home.id} has no ${currency} priceFeed in CHAINS to read the coin's rate from`,
        },
      ]);
    }
    return config;
  }
  if (config.PAYMENT_TOKEN && config.PRICE_TOKEN_UNITS === undefined) {
    throw new ConfigError([{ variable: 'PRICE_TOKEN_UNITS', message: 'is required when PAYMENT_TOKEN is set' }]);
  }
  return config;
};
