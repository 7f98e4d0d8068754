import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** An ERC-20 a chain accepts payments in. */
export const tokenSettingSchema = z
  .object({
    /** The token's contract. */
    address: z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/, { error: 'must be a 0x-prefixed 20-byte hex address' })
      .transform((value) => value.toLowerCase() as `0x${string}`),
    /** What people call it (USDC): shown beside amounts, never used to tell tokens apart. */
    symbol: z.string().min(1).max(16),
    /** Its base units per whole token, as a power of ten (6 for USDC). */
    decimals: z.number().int().min(0).max(36),
    /** The ISO 4217 currency it is a stablecoin of (USDC: USD): a PRICE in that currency is quoted in it 1:1. */
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, { error: 'must be an ISO 4217 currency code (USD)' })
      .optional(),
  })
  .strict();

/** A Chainlink AggregatorV3Interface on the chain giving the native coin's price in a fiat currency. */
export const priceFeedSettingSchema = z
  .object({
    address: z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/, { error: 'must be a 0x-prefixed 20-byte hex address' })
      .transform((value) => value.toLowerCase() as `0x${string}`),
    /** The currency its answer is in (ETH / USD: USD). */
    currency: z.string().regex(/^[A-Z]{3}$/, { error: 'must be an ISO 4217 currency code (USD)' }),
    /** An answer older than this is stale: no quote is made at it (Chainlink's heartbeat plus a margin). */
    maxAgeSeconds: z.number().int().positive().default(3_600),
  })
  .strict();

/** One chain payments are watched on, as `CHAINS` lists it. */
export const chainSettingSchema = z
  .object({
    /** The EIP-155 chain id; the RPC must serve it (checked at start). */
    id: z.number().int().positive(),
    /** A name for people and logs (Base, Arbitrum One). */
    name: z.string().min(1).max(64),
    /** JSON-RPC endpoints of this chain: requests go to the healthiest, failing over to the next. */
    rpcUrls: z.array(z.url({ protocol: /^https?$/, error: 'each must be an http:// or https:// URL' })).min(1, { error: 'must list at least one URL' }),
    /** Public JSON-RPC endpoints a wallet may add the chain with (GET /v1/pricing shows them): never the ones above, which may carry API keys. */
    publicRpcUrls: z.array(z.url({ protocol: /^https?$/, error: 'each must be an http:// or https:// URL' })).optional(),
    /** When a block's credits count: `depth` (`confirmations` blocks on top) or the node's `safe` / `finalized` block. */
    confirmationPolicy: z.enum(['depth', 'safe', 'finalized'], { error: 'must be depth, safe or finalized' }).default('depth'),
    /** Blocks on top of (and including) a payment's block before it counts, with policy `depth`. */
    confirmations: z.number().int().positive().default(2),
    /** The chain's block time in ms: how often its watcher polls. */
    blockTimeMs: z.number().int().positive().default(2_000),
    /** The chain's own coin. */
    native: z
      .object({ symbol: z.string().min(1).max(16), decimals: z.number().int().min(0).max(36) })
      .strict()
      .default({ symbol: 'ETH', decimals: 18 }),
    /** ERC-20 tokens accepted on this chain. */
    tokens: z.array(tokenSettingSchema).default([]),
    /** Where the native coin's fiat price is read, for a PRICE in that currency paid in the coin. */
    priceFeed: priceFeedSettingSchema.optional(),
  })
  .strict();

export type ChainSetting = z.infer<typeof chainSettingSchema>;
export type TokenSetting = z.infer<typeof tokenSettingSchema>;
export type PriceFeedSetting = z.infer<typeof priceFeedSettingSchema>;

const chainListSchema = z
  .array(chainSettingSchema)
  .min(1, { error: 'must list at least one chain' })
  .superRefine((chains, context) => {
    const seen = new Set<number>();
    for (const [index, chain] of chains.entries()) {
      if (seen.has(chain.id)) context.addIssue({ code: 'custom', path: [index, 'id'], message: `chain ${chain.id} is listed twice` });
      seen.add(chain.id);
      const tokens = new Set<string>();
      for (const [t, token] of chain.tokens.entries()) {
        if (tokens.has(token.address))
          context.addIssue({ code: 'custom', path: [index, 'tokens', t, 'address'], message: `token ${token.address} is listed twice` });
        tokens.add(token.address);
      }
    }
  });

/**
 * `CHAINS`: a JSON array of chains (a value starting with `[`), or the path of a file holding one
 * (a Kubernetes ConfigMap mounted as a file). Each problem names where it is (`[1].rpcUrls`).
 */
export const chainsEnv = () =>
  z
    .string()
    .optional()
    .transform((value, context): ChainSetting[] | undefined => {
      if (value === undefined) return undefined;
      let text = value.trim();
      const where = text.startsWith('[') ? 'its JSON' : `the file ${text}`;
      if (!text.startsWith('[')) {
        try {
          text = readFileSync(text, 'utf8');
        } catch (error) {
          context.addIssue({
            code: 'custom',
            message: `is neither a JSON array nor a readable file: ${error instanceof Error ? error.message : String(error)}`,
          });
          return z.NEVER;
        }
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        context.addIssue({ code: 'custom', message: `${where} is not valid JSON: ${error instanceof Error ? error.message : String(error)}` });
        return z.NEVER;
      }
      const parsed = chainListSchema.safeParse(json);
      if (!parsed.success) {
        const problems = parsed.error.issues.map(
          (issue) => `${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')} ${issue.message}`,
        );
        context.addIssue({ code: 'custom', message: `in ${where}: ${problems.join('; ')}` });
        return z.NEVER;
      }
      return parsed.data;
    });

/** `WATCH_CHAINS`: comma-separated chain ids; empty means every chain. */
export const chainIdListEnv = () =>
  z
    .string()
    .default('')
    .transform((value, context) => {
      const ids: number[] = [];
      for (const item of value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)) {
        if (!/^\d+$/.test(item) || Number(item) <= 0) {
          context.addIssue({ code: 'custom', message: `"${item}" is not a chain id` });
          return z.NEVER;
        }
        ids.push(Number(item));
      }
      return ids;
    });
