import { parseUnits } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import { type ChainSetting, ConfigError, env, z } from '@reelboard/config';

const ASSET_AMOUNT = /^([A-Za-z0-9.$_-]{1,16})=(\d+(?:\.\d+)?)$/;
const partsOf = (text: string) =>
  text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);

/**
 * `SYMBOL=amount,...` (ETH=0.05,USDC=20): an amount per asset in its own whole units, the asset named
 * by its symbol as CHAINS lists it (the native coin's or a token's), so one setting serves every chain.
 * Kept as text in the configuration (read with `amountsBySymbol`); a malformed part is named at start.
 */
const perAssetAmounts = () =>
  z
    .string()
    .default('')
    .superRefine((value, context) => {
      for (const part of partsOf(value))
        if (!ASSET_AMOUNT.test(part)) context.addIssue({ code: 'custom', message: `"${part}" is not SYMBOL=amount (e.g. USDC=20 or ETH=0.05)` });
    });

/** A per-asset setting's amounts by upper-case symbol. */
export function amountsBySymbol(text: string): Record<string, string> {
  const amounts: Record<string, string> = {};
  for (const part of partsOf(text)) {
    const match = ASSET_AMOUNT.exec(part);
    if (match) amounts[(match[1] as string).toUpperCase()] = match[2] as string;
  }
  return amounts;
}

/** The refund wallet's settings: the payment-watcher's, and `pnpm payments refunds send`'s. */
export const refundEnvShape = {
  REFUND_PRIVATE_KEY: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, { error: 'must be a 0x-prefixed 32-byte hex private key' })
    .optional()
    .transform((value) => value?.toLowerCase() as `0x${string}` | undefined)
    .describe(
      "The refund wallet's key: it pays approved refunds on each chain (native coin or the quote's token) and their gas. Never the merchant's or the sweeper's. Unset: refunds are only recorded by hand.",
    ),
  REFUND_MAX_FEE_PER_GAS: env
    .bigint()
    .optional()
    .describe('A refund is not sent while the max fee per gas it would need is above this (wei); it waits for the next round. Unset: no cap.'),
  REFUND_DAILY_LIMIT: perAssetAmounts().describe(
    'The most the refund wallet sends per asset in any 24 hours, in whole units (USDC=500,ETH=0.2); a refund that would pass it waits (reelboard_refunds_held_by_limit). An asset not named: no limit.',
  ),
  REFUND_AUTO_APPROVE_MAX: perAssetAmounts().describe(
    "Refunds of an overpayment's excess or of a late payment at most this much (whole units per asset: USDC=5,ETH=0.002) are approved without an admin (approved_by policy:REFUND_AUTO_APPROVE_MAX). Empty: every refund waits for an admin.",
  ),
  REFUND_INTERVAL_SECONDS: env
    .positiveInt(30)
    .describe('How often the refund sender sends approved refunds and follows those sent (one replica per chain, under a lease).'),
};

export type RefundSettings = {
  REFUND_PRIVATE_KEY?: `0x${string}` | undefined;
  REFUND_MAX_FEE_PER_GAS?: bigint | undefined;
  REFUND_DAILY_LIMIT: string;
  REFUND_AUTO_APPROVE_MAX: string;
  REFUND_INTERVAL_SECONDS: number;
};

/**
 * Refuses a refund key that is another role's: the sweeper's key, or the merchant's (its address is the
 * merchant address). A refund wallet that is the merchant would pay refunds out of the takings unseen.
 */
export function checkRefundKey(config: RefundSettings & { SWEEP_PRIVATE_KEY?: string | undefined; MERCHANT_ADDRESS?: string | undefined }): void {
  const key = config.REFUND_PRIVATE_KEY;
  if (!key) return;
  if (config.SWEEP_PRIVATE_KEY && config.SWEEP_PRIVATE_KEY.toLowerCase() === key)
    throw new ConfigError([{ variable: 'REFUND_PRIVATE_KEY', message: 'is the same key as SWEEP_PRIVATE_KEY; the refund wallet needs a key of its own' }]);
  if (config.MERCHANT_ADDRESS && privateKeyToAddress(key).toLowerCase() === config.MERCHANT_ADDRESS.toLowerCase())
    throw new ConfigError([
      { variable: 'REFUND_PRIVATE_KEY', message: "is the merchant's key (its address is MERCHANT_ADDRESS); the refund wallet needs a key of its own" },
    ]);
}

/** One asset of a chain: the native coin (token null) or an accepted token, with its symbol and decimals. */
export interface ChainAsset {
  token: `0x${string}` | null;
  symbol: string;
  decimals: number;
}

export function chainAssets(setting: Pick<ChainSetting, 'native' | 'tokens'>): ChainAsset[] {
  return [
    { token: null, symbol: setting.native.symbol, decimals: setting.native.decimals },
    ...setting.tokens.map((t) => ({ token: t.address, symbol: t.symbol, decimals: t.decimals })),
  ];
}

/** The asset a ledger row is in on this chain; a token the chain does not list is named by its address, in base units. */
export function assetOf(setting: Pick<ChainSetting, 'native' | 'tokens'>, token: string | null): ChainAsset {
  const lower = token?.toLowerCase() ?? null;
  return chainAssets(setting).find((a) => a.token === lower) ?? { token: lower as `0x${string}`, symbol: lower ?? '?', decimals: 0 };
}

/** Per-asset amounts by symbol turned into one chain's base units, keyed by token address or `native`. */
export function limitsOnChain(setting: Pick<ChainSetting, 'native' | 'tokens'>, text: string): Map<string, bigint> {
  const amounts = amountsBySymbol(text);
  const limits = new Map<string, bigint>();
  for (const asset of chainAssets(setting)) {
    const amount = amounts[asset.symbol.toUpperCase()];
    if (amount !== undefined) limits.set(asset.token ?? 'native', parseUnits(amount, asset.decimals));
  }
  return limits;
}
