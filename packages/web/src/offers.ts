import { type Coin, formatAmount } from './seller.js';

/**
 * One way to pay a quote: an asset on a chain and how much of it, as `GET /v1/pricing` and the
 * quote list them in `offers`. The chain's details for a wallet that does not know it yet
 * (`rpcUrls`, `blockExplorerUrls`, `nativeCurrency`) are optional: without public RPC URLs the
 * chain cannot be added from the page, and the person is asked to add it in the wallet.
 */
export interface PaymentOffer {
  chainId: number;
  chainName: string;
  /** The ERC-20 paid with, or null for the chain's native coin. */
  token: `0x${string}` | null;
  symbol: string;
  decimals: number;
  /** Base units of `symbol`. */
  amount: string;
  rpcUrls?: string[];
  blockExplorerUrls?: string[];
  nativeCurrency?: { name?: string; symbol: string; decimals: number };
}

/** What the pricing and a quote share: the first offer at the top level, the list in `offers` (absent from older gateways). */
export interface OfferSource {
  chainId: number;
  token: `0x${string}` | null;
  amount: string;
  symbol?: string;
  decimals?: number;
  offers?: readonly PaymentOffer[];
}

/** A fiat price as the gateway tells it (`5.00` `USD`). */
export interface FiatPrice {
  amount: string;
  currency: string;
}

/** How an offer is told apart from the others of a quote: its chain and its asset, never its amount (the quote locks its own). */
export const offerKey = (offer: Pick<PaymentOffer, 'chainId' | 'token'>): string => `${offer.chainId}/${offer.token?.toLowerCase() ?? 'native'}`;

/**
 * The offers of a pricing or a quote. An older gateway (or one priced in base units) lists none:
 * its top-level asset is then the only offer, told with `coin` (the pricing's ticker and decimals).
 */
export function offersOf(source: OfferSource, coin: Coin, chainName = `chain ${source.chainId}`): PaymentOffer[] {
  if (source.offers && source.offers.length > 0) return [...source.offers];
  return [
    {
      chainId: source.chainId,
      chainName,
      token: source.token,
      symbol: source.symbol ?? coin.symbol,
      decimals: source.decimals ?? coin.decimals,
      amount: source.amount,
    },
  ];
}

/** The offer of `offers` with `key`, if the quote still has it (a native offer is left out while its price feed is stale). */
export const findOffer = (offers: readonly PaymentOffer[], key: string | undefined): PaymentOffer | undefined =>
  key === undefined ? undefined : offers.find((offer) => offerKey(offer) === key);

/** `$5.00`, `5,00 $US`: a fiat amount in the reader's locale (or `locale`). */
export function formatFiat(price: FiatPrice, locale?: string): string {
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency: price.currency }).format(Number(price.amount));
  } catch {
    // A code Intl does not know still reads as an amount and a currency.
    return `${price.amount} ${price.currency}`;
  }
}

/** `5 USDC on Base`: what paying with `offer` costs, in the coin's own units. */
export const offerLabel = (offer: PaymentOffer, amount: string | bigint = offer.amount): string => `${formatAmount(amount, offer)} on ${offer.chainName}`;

/** `wallet_addEthereumChain`'s parameter (EIP-3085). */
export interface AddEthereumChainParameter {
  chainId: `0x${string}`;
  chainName: string;
  nativeCurrency: { name: string; symbol: string; decimals: number };
  rpcUrls: string[];
  blockExplorerUrls?: string[];
}

export const hexChainId = (chainId: number): `0x${string}` => `0x${chainId.toString(16)}`;

/**
 * What a wallet needs to add `offer`'s chain, or undefined when the gateway did not say enough: public
 * RPC URLs (the offer's, or another offer's on the same chain: the pricing tells them, a quote does
 * not) and the native coin (the offer's own, or that of a native offer on the same chain).
 */
export function chainToAdd(offer: PaymentOffer, offers: readonly PaymentOffer[] = []): AddEthereumChainParameter | undefined {
  const sameChain = offers.filter((other) => other.chainId === offer.chainId);
  const told = offer.rpcUrls?.length ? offer.rpcUrls : sameChain.find((other) => other.rpcUrls?.length)?.rpcUrls;
  const rpcUrls = told?.filter((url) => /^https?:\/\//.test(url)) ?? [];
  if (rpcUrls.length === 0) return undefined;
  const native =
    offer.nativeCurrency ?? offers.find((other) => other.chainId === offer.chainId && other.token === null) ?? (offer.token === null ? offer : undefined);
  if (!native) return undefined;
  const nativeCurrency = { name: ('name' in native && native.name) || native.symbol, symbol: native.symbol, decimals: native.decimals };
  return {
    chainId: hexChainId(offer.chainId),
    chainName: offer.chainName,
    nativeCurrency,
    rpcUrls,
    ...(offer.blockExplorerUrls && offer.blockExplorerUrls.length > 0 ? { blockExplorerUrls: offer.blockExplorerUrls } : {}),
  };
}

/** What the ledger says arrived on a quote: the top-level totals, and per offer when the gateway tells them. */
export interface Standing {
  received: string;
  remaining: string;
  payment: { chainId: number; token: `0x${string}` | null };
  offers?: readonly { chainId: number; token: `0x${string}` | null; received: string; remaining: string }[];
}

/**
 * What is still to pay in `offer` after a partial payment: the ledger's figure for that offer, or the
 * top-level one when `offer` is the quote's first (the top level describes it). Undefined when the
 * ledger does not tell it for this offer: the page then says so rather than ask for a guess.
 */
export function remainingIn(offer: PaymentOffer, standing: Standing): { received: bigint; remaining: bigint } | undefined {
  const own = standing.offers?.find((entry) => offerKey(entry) === offerKey(offer));
  if (own) return { received: BigInt(own.received), remaining: BigInt(own.remaining) };
  if (offerKey(standing.payment) === offerKey(offer)) return { received: BigInt(standing.received), remaining: BigInt(standing.remaining) };
  return undefined;
}

/** An unpaid upload as the ledger tells it: per offer when the gateway lists them, else the top level (its first offer). */
export interface UnpaidStanding extends Standing {
  payment: OfferSource & { to: `0x${string}` };
  offers?: readonly (PaymentOffer & { received: string; remaining: string })[];
}

/**
 * Which offer an unpaid upload is finished in, and how much is left: the offer money already arrived
 * in (its rest only: assets never add up), else the quote's first offer in full.
 */
export function offerToFinish(item: UnpaidStanding, coin: Coin): { offer: PaymentOffer; received: bigint; remaining: bigint } {
  const started = item.offers?.find((offer) => BigInt(offer.received) > 0n);
  if (started) return { offer: started, received: BigInt(started.received), remaining: BigInt(started.remaining) };
  const first = item.offers?.[0];
  if (first) return { offer: first, received: BigInt(first.received), remaining: BigInt(first.remaining) };
  const [offer] = offersOf(item.payment, coin);
  return { offer: offer as PaymentOffer, received: BigInt(item.received), remaining: BigInt(item.remaining) };
}

/** One asset owed back after a cancel, as `DELETE /v1/uploads/:id` answers it in `refundsDue`. */
export interface RefundDue {
  chainId: number;
  token: `0x${string}` | null;
  amount: string;
}

/**
 * What a cancel owes back, in words: each asset in its own coin when it is one of the quote's
 * offers, else its base units and where it came from (an asset the quote never offered still
 * counts). Amounts of different assets are listed apart, never added. Empty when nothing is due.
 */
export function refundsDueText(due: readonly RefundDue[], offers: readonly PaymentOffer[]): string {
  return due
    .filter((row) => BigInt(row.amount) > 0n)
    .map((row) => {
      const offer = findOffer(offers, offerKey(row));
      if (offer) return offerLabel(offer, row.amount);
      return `${row.amount} base units of ${row.token ?? 'the native coin'} on chain ${row.chainId}`;
    })
    .join(', ');
}
