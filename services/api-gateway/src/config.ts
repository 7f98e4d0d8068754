import { commonSchema, env, loadConfig, z } from '@reelboard/config';

export const gatewaySchema = commonSchema.extend({
  PORT: env.port(8080),
  /** The origin people reach the gateway at; SIWE messages must name its host and origin. */
  PUBLIC_URL: env.url(['http', 'https']).default('http://localhost:8080'),
  RPC_URL: env.url(['http', 'https']),
  CHAIN_ID: z.coerce.number().int().positive(),
  MERCHANT_ADDRESS: env.address(),
  /** Price of one listing in wei (native coin). */
  PRICE_WEI: env.bigint('10000000000000000'),
  /** How long a quote can be paid, like BTCPay's invoice expiry. */
  QUOTE_TTL_SECONDS: env.positiveInt(15 * 60),
  NONCE_TTL_SECONDS: env.positiveInt(5 * 60),
  SESSION_TTL_SECONDS: env.positiveInt(24 * 3600),
  MAX_VIDEO_BYTES: env.positiveInt(2 * 1024 ** 3),
  MAX_LOGO_BYTES: env.positiveInt(5 * 1024 ** 2),
  /** Logos larger than this many pixels on a side are refused before decoding. */
  MAX_LOGO_SIDE: env.positiveInt(4096),
  LOGO_SIZE: env.positiveInt(256),
});

export type GatewayConfig = z.infer<typeof gatewaySchema>;

export const loadGatewayConfig = (source: NodeJS.ProcessEnv = process.env): GatewayConfig => loadConfig(gatewaySchema, source);
