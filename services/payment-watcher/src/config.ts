import { commonSchema, env, loadConfig, z } from '@reelboard/config';

export const paymentWatcherSchema = commonSchema.extend({
  PORT: env.port(8081),
  /** JSON-RPC endpoint of the chain payments are made on. */
  RPC_URL: env.url(['http', 'https']),
  /** Chain id payments must be on; checked against the RPC at start. */
  CHAIN_ID: z.coerce.number().int().positive(),
  /** The address the block scan watches for payments (the gateway quotes the same one). */
  MERCHANT_ADDRESS: env.address(),
  /** The ERC-20 token quoted by the gateway, if any; its Transfer logs to the merchant are watched too. */
  PAYMENT_TOKEN: env.address().optional(),
  /** Blocks on top of (and including) the payment's block before it counts. */
  CONFIRMATIONS: env.positiveInt(2),
  /** How often the chain is polled: new blocks, and payments waiting for confirmations. */
  POLL_INTERVAL_MS: env.positiveInt(1_000),
  /** Payment checks and expiries this replica runs at once. */
  PAYMENT_CONCURRENCY: env.positiveInt(8),
  /** Blocks behind the head a first-ever scan starts at (later starts resume from the cursor in Redis). */
  SCAN_START_BEHIND: env.nonNegativeInt(100),
  /** The longest an expiry waits past the deadline for in-flight payments and a lagging block scan. */
  EXPIRY_MAX_DELAY_SECONDS: env.positiveInt(600),
});

export type PaymentWatcherConfig = z.infer<typeof paymentWatcherSchema>;
export const loadPaymentWatcherConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(paymentWatcherSchema, source);
