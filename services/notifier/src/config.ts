import { ConfigError, chainsEnv, commonSchema, databaseEnvSchema, env, internalPort, loadConfig, z } from '@reelboard/config';
import { serviceQueues } from '@reelboard/contracts';

// The defaults are the notify.push row's (packages/contracts/src/channels.ts): these settings override it.
const pushRow = serviceQueues['notify.push'].policy;

export const notifierSchema = commonSchema.extend(databaseEnvSchema.shape).extend({
  INTERNAL_PORT: internalPort(9086),
  PUBLIC_URL: env
    .url(['http', 'https'])
    .default('http://localhost:8080')
    .describe("The gateway's public origin: notification links point at its web client (`<PUBLIC_URL>/listings/<id>`)."),
  DATABASE_POOL_MAX: env
    .positiveInt(5)
    .describe('Postgres connections this replica may open (fewer than the other services: it only reads subscriptions and writes deliveries).'),
  VAPID_PUBLIC_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{87}$/, { error: 'must be a base64url P-256 public key (87 characters)' })
    .optional()
    .describe('VAPID public key (base64url, uncompressed P-256 point) browsers subscribe with; the gateway serves the same. Unset: no Web Push.'),
  VAPID_PRIVATE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, { error: 'must be a base64url P-256 private key (43 characters)' })
    .optional()
    .describe('VAPID private key (base64url, 43 characters) that signs push requests; a secret.'),
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:\/\/)/, { error: 'must start with mailto: or https://' })
    .default('mailto:operator@localhost')
    .describe('Contact the push services can reach the operator at (VAPID `sub`): mailto: or https: URL.'),
  PUSH_TTL_SECONDS: env.nonNegativeInt(24 * 3600).describe('How long a push service keeps a message for an offline browser (TTL header).'),
  PUSH_ATTEMPTS: env
    .positiveInt(pushRow.attempts)
    .describe('Tries of one push message (5xx, 429 and network errors are retried; 404/410 remove the subscription).'),
  PUSH_FIRST_RETRY_MS: env
    .positiveInt(pushRow.backoffMs)
    .describe("First retry delay of a push message; later retries double it (a 429's Retry-After wins when longer)."),
  WEBHOOK_RETRY_FOR_SECONDS: env
    .positiveInt(24 * 3600)
    .describe('How long webhook deliveries are retried (exponential backoff) before they are marked failed.'),
  WEBHOOK_FIRST_RETRY_MS: env
    .positiveInt(10_000)
    .describe('First retry delay of a webhook delivery; each later one doubles it, within WEBHOOK_RETRY_FOR_SECONDS.'),
  WEBHOOK_TIMEOUT_MS: env.positiveInt(10_000).describe('How long a webhook receiver has to answer one attempt.'),
  SEND_CONCURRENCY: env.positiveInt(8).describe('Push messages and webhook deliveries this replica sends at once (each queue).'),
  CHAINS: chainsEnv().describe(
    "The chains payments are watched on (the same JSON as the payment-watcher's): Web Push about a payment or a refund names the chain and the asset (`USDC on Base`). Unset: `chain <id>` and the token's address.",
  ),
});

export type NotifierConfig = z.infer<typeof notifierSchema>;

export const loadNotifierConfig = (source: NodeJS.ProcessEnv = process.env): NotifierConfig => {
  const config = loadConfig(notifierSchema, source);
  if ((config.VAPID_PUBLIC_KEY === undefined) !== (config.VAPID_PRIVATE_KEY === undefined)) {
    throw new ConfigError([{ variable: config.VAPID_PUBLIC_KEY ? 'VAPID_PRIVATE_KEY' : 'VAPID_PUBLIC_KEY', message: 'is required with the other VAPID key' }]);
  }
  return config;
};
