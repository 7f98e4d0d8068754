import {
  ConfigError,
  chainEnvSchema,
  chainIdListEnv,
  chainsFrom,
  commonSchema,
  databaseEnvSchema,
  env,
  internalPort,
  loadConfig,
  rpcUrlsFrom,
  selectChains,
  z,
} from '@reelboard/config';
import { checkRefundKey, refundEnvShape } from './refund-config.js';

// Postgres is the truth for money: the watch set in Redis is rebuilt from the ledger's quotes.
export const paymentWatcherSchema = commonSchema
  .extend(chainEnvSchema.shape)
  .extend(databaseEnvSchema.shape)
  .extend({
    INTERNAL_PORT: internalPort(9081),
    WATCH_CHAINS: chainIdListEnv().describe(
      'Chain ids (comma-separated) whose block passes and sweeps this replica runs; empty: every chain of CHAINS. One Deployment per chain scales and restarts each alone. Client hints (payment.submitted) are checked by replicas that watch CHAIN_ID, on whichever chain of CHAINS the hint names (its RPC is then read from that replica too).',
    ),
    CONFIRMATIONS: env.positiveInt(2).describe("Blocks on top of (and including) the payment's block before it counts (with CONFIRMATION_POLICY=depth)."),
    CONFIRMATION_POLICY: z
      .enum(['depth', 'safe', 'finalized'], { error: "must be depth (CONFIRMATIONS blocks), safe or finalized (the node's block tags)" })
      .default('depth')
      .describe(
        "When a block's credits count: `depth` (CONFIRMATIONS blocks on top), or the node's `safe` / `finalized` block (proof-of-stake chains; a node without the tags fails every pass, loudly). A reorg deeper than this is still followed: credits it removed become `reversed`.",
      ),
    REORG_HASHES_KEPT: env
      .positiveInt(256)
      .describe(
        'Hashes of the most recent blocks read that are kept to find the common ancestor after a reorg; a reorg deeper than this is read again from the oldest one kept.',
      ),
    PAYMENT_TOLERANCE_BPS: env
      .nonNegativeInt(0)
      .pipe(z.number().max(1_000, { error: 'must be at most 1000 (10 %)' }))
      .describe(
        'A shortfall accepted as paid, in basis points of the quote (50 = 0.5 %): a wallet or exchange that takes its fee from the amount still pays; the ledger records what was missing (payment_quotes.shortfall). 0: the full amount.',
      ),
    POLL_INTERVAL_MS: env.positiveInt(1_000).describe('How often the chain is polled: new blocks, and payments waiting for confirmations.'),
    PAYMENT_CONCURRENCY: env.positiveInt(8).describe('Payment checks and expiries this replica runs at once.'),
    SCAN_START_BEHIND: env
      .nonNegativeInt(100)
      .describe('Blocks behind the confirmed head a first-ever pass starts at (later starts resume from the cursor in Redis).'),
    SCAN_MAX_BLOCKS_PER_PASS: env
      .positiveInt(200)
      .describe('Most blocks one deposit pass settles (a long catch-up is split so the lease is never held for minutes).'),
    LATE_WATCH_SECONDS: env
      .positiveInt(7 * 24 * 3600)
      .describe('How long after its quote expired a deposit address is still watched, so late money is recorded for refund (reconciliation covers the rest).'),
    OPEN_QUOTE_READ_SECONDS: env
      .nonNegativeInt(10)
      .describe(
        "How often the balances of every open quote are read, for money no block's transactions or token logs name (an internal transfer from a contract wallet); 0: every pass. Addresses a block pays are read on that pass.",
      ),
    EXPIRED_QUOTE_READ_SECONDS: env
      .nonNegativeInt(3600)
      .describe(
        'How often the balance of each quote past its deadline (still in LATE_WATCH_SECONDS) is read, for late money paid by an internal transfer: once per interval each, at a point of it set by a hash of its address, so every pass that reads the open quotes reads a slice of them (never all at once); 0: every pass.',
      ),
    RPC_BATCH_SIZE: env
      .positiveInt(500)
      .describe('Requests sent together to the RPC as one JSON-RPC batch (the balances a pass reads; a hosted node still bills each call of a batch).'),
    SWEEP_PRIVATE_KEY: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, { error: 'must be a 0x-prefixed 32-byte hex private key' })
      .optional()
      .transform((value) => value as `0x${string}` | undefined)
      .describe('Private key that pays the gas of sweeps (never receives money: sweeps only pay the merchant). Unset: no automatic sweeps.'),
    SWEEP_MIN_AMOUNT: env
      .bigint('50000000000000000')
      .describe('A deposit address is swept automatically once it holds at least this much native coin (wei), worth the gas.'),
    SWEEP_MIN_TOKEN_AMOUNT: env
      .bigint()
      .optional()
      .describe(
        "With PAYMENT_TOKEN: a deposit address is swept automatically once it holds at least this much of the token, in the token's own base units (6 decimals for USDC); required with PAYMENT_TOKEN and SWEEP_PRIVATE_KEY.",
      ),
    SWEEP_MAX_GAS_PRICE: env.bigint().optional().describe('Automatic sweeps wait while the gas price is above this (wei); unset: no cap.'),
    SWEEP_INTERVAL_SECONDS: env.positiveInt(3600).describe('How often automatic sweeps look for addresses worth sweeping.'),
    STUCK_PAID_SECONDS: env
      .positiveInt(6 * 3600)
      .describe('An upload paid with no status event for this long (its job lost) is failed by the stuck-work sweep, its payment recorded due back.'),
    STUCK_PROCESSING_SECONDS: env
      .positiveInt(6 * 3600)
      .describe('An upload processing with no progress event for this long (its job lost in a failover) is failed, its payment recorded due back.'),
    STUCK_RENEWAL_SECONDS: env.positiveInt(30 * 60).describe('A renewal paid and not applied for this long is failed, its payment recorded due back.'),
    STUCK_SWEEP_INTERVAL_SECONDS: env.positiveInt(300).describe('How often the stuck-work sweep runs (on one replica at a time, under a Redis lease).'),
  })
  .extend(refundEnvShape);

export type PaymentWatcherConfig = z.infer<typeof paymentWatcherSchema>;
export const loadPaymentWatcherConfig = (source: NodeJS.ProcessEnv = process.env): PaymentWatcherConfig => {
  const config = loadConfig(paymentWatcherSchema, source);
  rpcUrlsFrom(config);
  selectChains(watcherChains(config), config.WATCH_CHAINS);
  checkRefundKey(config);
  // The native minimum in wei would be read as 10^12 times too much of a 6-decimal token: each asset names its own.
  if (config.SWEEP_PRIVATE_KEY && config.PAYMENT_TOKEN && config.SWEEP_MIN_TOKEN_AMOUNT === undefined) {
    throw new ConfigError([
      {
        variable: 'SWEEP_MIN_TOKEN_AMOUNT',
        message: "is required with PAYMENT_TOKEN and SWEEP_PRIVATE_KEY: the least token amount worth a sweep, in the token's base units",
      },
    ]);
  }
  return config;
};

/** Every configured chain, the home chain (CHAIN_ID) first; without CHAINS, the single-chain settings as a one-chain list. */
export const watcherChains = (config: PaymentWatcherConfig) =>
  chainsFrom(config, { confirmationPolicy: config.CONFIRMATION_POLICY, confirmations: config.CONFIRMATIONS, blockTimeMs: config.POLL_INTERVAL_MS });
