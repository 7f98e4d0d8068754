import type { PublicClient } from 'viem';
import { type FiatPrice, type LockedRate, nativeAmount, PriceFeedError, readPriceFeed, stablecoinAmount } from '@reelboard/chain';
import { chainsFrom } from '@reelboard/config';
import { type GatewayConfig, quotedPrice } from '../config.js';
import { HttpError } from '../infra/http-error.js';

/** What a quote asks for: the asset and amount, and when priced in a fiat currency, that price and the rate locked with it. */
export interface QuotedAmount {
  token: `0x${string}` | null;
  amount: string;
  /** The fiat price the amount was computed from (PRICE / RENEWAL_PRICE). */
  price?: FiatPrice | undefined;
  /** For the native coin: the feed's answer it was converted at, locked for the quote's lifetime. */
  rate?: LockedRate | undefined;
}

export type PriceQuoter = (purpose: 'upload' | 'renewal') => Promise<QuotedAmount>;

export type PricingConfig = Pick<
  GatewayConfig,
  'PRICE' | 'RENEWAL_PRICE' | 'PAYMENT_TOKEN' | 'PRICE_TOKEN_UNITS' | 'PRICE_WEI' | 'CHAINS' | 'CHAIN_ID' | 'RPC_URL' | 'RPC_URLS'
>;

/**
 * How the gateway prices a quote. Without PRICE: the fixed base-unit amounts of today. With PRICE (a
 * fiat amount): a stablecoin of its currency 1:1 in its decimals, or the native coin at the chain's
 * feed, read now; a feed that is stale, unreadable or answers nonsense refuses the quote with 503 and
 * the reason, never a quote at a wrong rate.
 */
export function priceQuoter(config: PricingConfig, chain: PublicClient, now: () => number = Date.now): PriceQuoter {
  const price = config.PRICE;
  if (!price) return async () => quotedPrice(config);
  const home = chainsFrom(config)[0]!;
  return async (purpose) => {
    const fiat = purpose === 'renewal' ? (config.RENEWAL_PRICE ?? price) : price;
    if (config.PAYMENT_TOKEN) {
      const token = home.tokens.find((t) => t.address === config.PAYMENT_TOKEN);
      if (!token) throw new Error(`PAYMENT_TOKEN ${config.PAYMENT_TOKEN} is not in CHAINS (checked at start)`);
      return { token: config.PAYMENT_TOKEN, amount: stablecoinAmount(fiat, token.decimals).toString(), price: fiat };
    }
    const feed = home.priceFeed;
    if (!feed) throw new Error(`chain ${home.id} has no priceFeed (checked at start)`);
    let rate: LockedRate;
    try {
      rate = await readPriceFeed(chain, { feed: feed.address, maxAgeSeconds: feed.maxAgeSeconds, now: now() });
    } catch (error) {
      if (error instanceof PriceFeedError) throw new HttpError(503, 'price_unavailable', `no quote in ${home.native.symbol} can be made now: ${error.message}`);
      throw error;
    }
    return { token: null, amount: nativeAmount(fiat, rate, home.native.decimals).toString(), price: fiat, rate };
  };
}

/** The quote's fields of a priced amount (price and rate only when there are some). */
export const pricedQuoteFields = ({ token, amount, price, rate }: QuotedAmount) => ({
  token,
  amount,
  ...(price ? { price } : {}),
  ...(rate ? { rate } : {}),
});
