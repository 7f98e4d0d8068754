import { commonSchema, env, loadConfig, z } from '@reelboard/config';

export const paymentWatcherSchema = commonSchema.extend({
  PORT: env.port(8081),
  RPC_URL: env.url(['http', 'https']),
  CHAIN_ID: z.coerce.number().int().positive(),
  /** Blocks on top of (and including) the payment's block before it counts. */
  CONFIRMATIONS: env.positiveInt(2),
  /** How often a payment waiting for confirmations is looked at again. */
  POLL_INTERVAL_MS: env.positiveInt(1_000),
  PAYMENT_CONCURRENCY: env.positiveInt(8),
});

export type PaymentWatcherConfig = z.infer<typeof paymentWatcherSchema>;
export const loadPaymentWatcherConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(paymentWatcherSchema, source);
