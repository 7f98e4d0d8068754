import { commonSchema, env, loadConfig, z } from '@reelboard/config';

export const paymentWatcherSchema = commonSchema.extend({
  PORT: env.port(8081),
  /** JSON-RPC endpoint of the chain payments are made on. */
  RPC_URL: env.url(['http', 'https']),
  /** Chain id payments must be on; checked against the RPC at start. */
  CHAIN_ID: z.coerce.number().int().positive(),
  /** The merchant: the only address sweeps pay, and the one every deposit address is bound to (same as the gateway's). */
  MERCHANT_ADDRESS: env.address(),
  /** The ERC-20 token quoted by the gateway, if any: deposit balances are read in it (same as the gateway's). */
  PAYMENT_TOKEN: env.address().optional(),
  /** Blocks on top of (and including) the payment's block before it counts. */
  CONFIRMATIONS: env.positiveInt(2),
  /** How often the chain is polled: new blocks, and payments waiting for confirmations. */
  POLL_INTERVAL_MS: env.positiveInt(1_000),
  /** Payment checks and expiries this replica runs at once. */
  PAYMENT_CONCURRENCY: env.positiveInt(8),
  /** Blocks behind the confirmed head a first-ever pass starts at (later starts resume from the cursor in Redis). */
  SCAN_START_BEHIND: env.nonNegativeInt(100),
  /** Most blocks one deposit pass settles (a long catch-up is split so the lease is never held for minutes). */
  SCAN_MAX_BLOCKS_PER_PASS: env.positiveInt(200),
  /** The longest an expiry waits past the deadline for the deposit passes to reach it. */
  EXPIRY_MAX_DELAY_SECONDS: env.positiveInt(600),
  /** How long after its quote expired a deposit address is still watched, so late money is recorded for refund (reconciliation covers the rest). */
  LATE_WATCH_SECONDS: env.positiveInt(7 * 24 * 3600),
  /** Requests sent together to the RPC as one JSON-RPC batch (balances of all watched addresses on each block). */
  RPC_BATCH_SIZE: env.positiveInt(500),
  /** Private key that pays the gas of sweeps (never receives money: sweeps only pay the merchant). Unset: no automatic sweeps. */
  SWEEP_PRIVATE_KEY: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, { error: 'must be a 0x-prefixed 32-byte hex private key' })
    .optional()
    .transform((value) => value as `0x${string}` | undefined),
  /** A deposit address is swept automatically once it holds at least this much (base units), worth the gas. */
  SWEEP_MIN_AMOUNT: env.bigint('50000000000000000'),
  /** How often automatic sweeps look for addresses worth sweeping. */
  SWEEP_INTERVAL_SECONDS: env.positiveInt(3600),
});

export type PaymentWatcherConfig = z.infer<typeof paymentWatcherSchema>;
export const loadPaymentWatcherConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(paymentWatcherSchema, source);
