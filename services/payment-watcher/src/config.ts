import { chainEnvSchema, commonSchema, databaseEnvSchema, env, internalPort, loadConfig, rpcUrlsFrom, z } from '@reelboard/config';

// Postgres is the truth for money: the watch set in Redis is rebuilt from the ledger's quotes.
export const paymentWatcherSchema = commonSchema.extend(chainEnvSchema.shape).extend(databaseEnvSchema.shape).extend({
  INTERNAL_PORT: internalPort(9081),
  CONFIRMATIONS: env.positiveInt(2).describe("Blocks on top of (and including) the payment's block before it counts."),
  POLL_INTERVAL_MS: env.positiveInt(1_000).describe('How often the chain is polled: new blocks, and payments waiting for confirmations.'),
  PAYMENT_CONCURRENCY: env.positiveInt(8).describe('Payment checks and expiries this replica runs at once.'),
  SCAN_START_BEHIND: env.nonNegativeInt(100).describe('Blocks behind the confirmed head a first-ever pass starts at (later starts resume from the cursor in Redis).'),
  SCAN_MAX_BLOCKS_PER_PASS: env.positiveInt(200).describe('Most blocks one deposit pass settles (a long catch-up is split so the lease is never held for minutes).'),
  LATE_WATCH_SECONDS: env.positiveInt(7 * 24 * 3600).describe('How long after its quote expired a deposit address is still watched, so late money is recorded for refund (reconciliation covers the rest).'),
  RPC_BATCH_SIZE: env.positiveInt(500).describe('Requests sent together to the RPC as one JSON-RPC batch (balances of all watched addresses on each block).'),
  SWEEP_PRIVATE_KEY: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, { error: 'must be a 0x-prefixed 32-byte hex private key' })
    .optional()
    .transform((value) => value as `0x${string}` | undefined)
    .describe('Private key that pays the gas of sweeps (never receives money: sweeps only pay the merchant). Unset: no automatic sweeps.'),
  SWEEP_MIN_AMOUNT: env.bigint('50000000000000000').describe('A deposit address is swept automatically once it holds at least this much (base units), worth the gas.'),
  SWEEP_INTERVAL_SECONDS: env.positiveInt(3600).describe('How often automatic sweeps look for addresses worth sweeping.'),
});

export type PaymentWatcherConfig = z.infer<typeof paymentWatcherSchema>;
export const loadPaymentWatcherConfig = (source: NodeJS.ProcessEnv = process.env): PaymentWatcherConfig => {
  const config = loadConfig(paymentWatcherSchema, source);
  rpcUrlsFrom(config);
  return config;
};
