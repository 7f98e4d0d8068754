import type { PublicClient } from 'viem';
import { type FiatPrice, type LockedRate, nativeAmount, PriceFeedError, readPriceFeed, stablecoinAmount } from '@reelboard/chain';
import { type ChainSetting, chainsFrom } from '@reelboard/config';
import type { QuoteOffer } from '@reelboard/contracts';
import { type GatewayConfig, quotedPrice } from '../config.js';
import { HttpError } from '../infra/http-error.js';

/** What a quote asks for: every (chain, asset) it accepts, the first also as the quote's own asset and amount. */
export interface QuotedAmount {
  token: `0x${string}` | null;
  amount: string;
  /** The fiat price the amounts were computed from (PRICE / RENEWAL_PRICE). */
  price?: FiatPrice | undefined;
  /** For a native first offer: the feed's answer it was converted at, locked for the quote's lifetime. */
  rate?: LockedRate | undefined;
  /** Every (chain, asset) accepted, in order; the first is `token`/`amount` on the quote's chain. */
  offers: QuoteOffer[];
}

export type PriceQuoter = (purpose: 'upload' | 'renewal') => Promise<QuotedAmount>;

export type PricingConfig = Pick<
  GatewayConfig,
  | 'PRICE'
  | 'RENEWAL_PRICE'
  | 'PAYMENT_TOKEN'
  | 'PRICE_TOKEN_UNITS'
  | 'PRICE_WEI'
  | 'CHAINS'
  | 'CHAIN_ID'
  | 'RPC_URL'
  | 'RPC_URLS'
  | 'PAYMENT_ASSET_SYMBOL'
  | 'PAYMENT_ASSET_DECIMALS'
>;

/** Without PRICE: the one fixed base-unit amount of today, on the home chain, in PAYMENT_TOKEN or the native coin. */
export function baseUnitQuote(config: PricingConfig): QuotedAmount {
  const { token, amount } = quotedPrice(config);
  const home = chainsFrom(config)[0]!;
  return {
    token,
    amount,
    offers: [{ chainId: home.id, chainName: home.name, token, symbol: config.PAYMENT_ASSET_SYMBOL, decimals: config.PAYMENT_ASSET_DECIMALS, amount }],
  };
}

/**
 * How the gateway prices a quote. Without PRICE: the fixed base-unit amount of today (one offer).
 * With PRICE (a fiat amount): an offer on every chain in CHAINS for each of its stablecoins of that
 * currency (1:1 in its decimals) and for its native coin when its feed answers fresh (read now, the
 * rate locked with the offer). The home chain comes first, PAYMENT_TOKEN (or else the native coin)
 * leading it, so the quote's own asset is today's. A native coin whose feed is stale, unreadable or
 * answers nonsense is left out; only when no offer remains is the quote refused, with 503 and the reasons.
 */
export function priceQuoter(config: PricingConfig, clientOf: (chainId: number) => PublicClient, now: () => number = Date.now): PriceQuoter {
  const price = config.PRICE;
  if (!price) return async () => baseUnitQuote(config);
  const chains = chainsFrom(config);
  return async (purpose) => {
    const fiat = purpose === 'renewal' ? (config.RENEWAL_PRICE ?? price) : price;
    const read = await Promise.all(
      chains.map((chain) => chainOffers(chain, fiat, clientOf, now(), chain.id === config.CHAIN_ID ? config.PAYMENT_TOKEN : undefined)),
    );
    const offers = read.flatMap((r) => r.offers);
    const first = offers[0];
    if (!first) {
      const reasons = read.flatMap((r) => r.refused).join('; ');
      throw new HttpError(503, 'price_unavailable', `no quote in ${fiat.currency} can be made now: ${reasons || `no chain accepts a ${fiat.currency} price`}`);
    }
    return { token: first.token, amount: first.amount, price: fiat, ...(first.rate ? { rate: first.rate } : {}), offers };
  };
}

/** One chain's offers at a fiat price (`lead`: the token to put first), and why its native coin is not offered when its feed failed. */
async function chainOffers(
  chain: ChainSetting,
  fiat: FiatPrice,
  clientOf: (chainId: number) => PublicClient,
  now: number,
  lead: `0x${string}` | undefined,
): Promise<{ offers: QuoteOffer[]; refused: string[] }> {
  const base = { chainId: chain.id, chainName: chain.name };
  const tokens: QuoteOffer[] = chain.tokens
    .filter((token) => token.currency === fiat.currency)
    .map((token) => ({
      ...base,
      token: token.address,
      symbol: token.symbol,
      decimals: token.decimals,
      amount: stablecoinAmount(fiat, token.decimals).toString(),
    }));
  const feed = chain.priceFeed;
  let native: QuoteOffer | undefined;
  const refused: string[] = [];
  if (feed?.currency === fiat.currency) {
    try {
      const rate = await readPriceFeed(clientOf(chain.id), { feed: feed.address, maxAgeSeconds: feed.maxAgeSeconds, now });
      native = {
        ...base,
        token: null,
        symbol: chain.native.symbol,
        decimals: chain.native.decimals,
        amount: nativeAmount(fiat, rate, chain.native.decimals).toString(),
        rate,
      };
    } catch (error) {
      if (!(error instanceof PriceFeedError)) throw error;
      refused.push(`${chain.native.symbol} on ${chain.name}: ${error.message}`);
    }
  }
  const led = lead ? tokens.filter((t) => t.token === lead) : [];
  const rest = tokens.filter((t) => !led.includes(t));
  return { offers: lead ? [...led, ...(native ? [native] : []), ...rest] : [...(native ? [native] : []), ...tokens], refused };
}

/** The quote's fields of a priced amount (price and rate only when there are some). */
export const pricedQuoteFields = ({ token, amount, price, rate, offers }: QuotedAmount) => ({
  token,
  amount,
  ...(price ? { price } : {}),
  ...(rate ? { rate } : {}),
  offers,
});
