import { type Address, BaseError, type PublicClient } from 'viem';

/** The part of Chainlink's AggregatorV3Interface a quote reads. */
export const aggregatorV3Abi = [
  { type: 'function', name: 'decimals', stateMutability: 'view', inputs: [], outputs: [{ name: '', type: 'uint8' }] },
  {
    type: 'function',
    name: 'latestRoundData',
    stateMutability: 'view',
    inputs: [],
    outputs: [
      { name: 'roundId', type: 'uint80' },
      { name: 'answer', type: 'int256' },
      { name: 'startedAt', type: 'uint256' },
      { name: 'updatedAt', type: 'uint256' },
      { name: 'answeredInRound', type: 'uint80' },
    ],
  },
] as const;

/** A fiat amount: a decimal string (at most 18 decimals) and an ISO 4217 currency. */
export interface FiatPrice {
  amount: string;
  currency: string;
}

/** What a quote in native coin was computed from: the feed's answer (fiat per coin, `decimals` decimals) when it was read. */
export interface LockedRate {
  feed: Address;
  answer: string;
  decimals: number;
  /** The feed's `updatedAt`, ISO. */
  updatedAt: string;
}

/** Raised when a price feed cannot give a usable rate: unreachable, not a feed, stale, or a non-positive answer. */
export class PriceFeedError extends Error {
  override readonly name = 'PriceFeedError';
  constructor(
    readonly feed: Address,
    readonly reason: 'unreadable' | 'stale' | 'invalid',
    detail: string,
  ) {
    super(`price feed ${feed}: ${detail}`);
  }
}

/**
 * The feed's latest answer, checked: a positive answer updated at most `maxAgeSeconds` before `now`
 * (a feed that stopped updating would lock quotes at an old rate). PriceFeedError says why not.
 */
export async function readPriceFeed(
  client: PublicClient,
  { feed, maxAgeSeconds, now = Date.now() }: { feed: Address; maxAgeSeconds: number; now?: number },
): Promise<LockedRate> {
  let decimals: number;
  let round: readonly [bigint, bigint, bigint, bigint, bigint];
  try {
    [decimals, round] = await Promise.all([
      client.readContract({ address: feed, abi: aggregatorV3Abi, functionName: 'decimals' }),
      client.readContract({ address: feed, abi: aggregatorV3Abi, functionName: 'latestRoundData' }),
    ]);
  } catch (error) {
    const detail = error instanceof BaseError ? error.shortMessage : error instanceof Error ? error.message : String(error);
    throw new PriceFeedError(feed, 'unreadable', `latestRoundData could not be read (${detail})`);
  }
  const [, answer, , updatedAt] = round;
  if (answer <= 0n) throw new PriceFeedError(feed, 'invalid', `its answer is ${answer}, not a price`);
  const age = Math.floor(now / 1000) - Number(updatedAt);
  if (age > maxAgeSeconds)
    throw new PriceFeedError(
      feed,
      'stale',
      `its last answer is ${age} s old, more than the ${maxAgeSeconds} s allowed (updated ${new Date(Number(updatedAt) * 1000).toISOString()})`,
    );
  return { feed: feed.toLowerCase() as Address, answer: answer.toString(), decimals, updatedAt: new Date(Number(updatedAt) * 1000).toISOString() };
}

/** A decimal string as an integer scaled by 10^scale, and whether digits beyond the scale were cut. */
function scaled(amount: string, scale: number): { value: bigint; cut: boolean } {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(amount);
  if (!match) throw new TypeError(`${amount} is not a decimal amount`);
  const fraction = match[2] ?? '';
  const kept = fraction.slice(0, scale).padEnd(scale, '0');
  return { value: BigInt(`${match[1]}${kept}`), cut: /[1-9]/.test(fraction.slice(scale)) };
}

/**
 * A fiat price in a stablecoin of that currency, 1:1, in the token's base units. A fraction finer than
 * the token's decimals is rounded up: the merchant never receives less than the price.
 */
export function stablecoinAmount(price: FiatPrice, decimals: number): bigint {
  const { value, cut } = scaled(price.amount, decimals);
  return cut ? value + 1n : value;
}

/** A fiat price in native coin at a feed's rate (fiat per whole coin), in base units (wei), rounded up. */
export function nativeAmount(price: FiatPrice, rate: Pick<LockedRate, 'answer' | 'decimals'>, nativeDecimals: number): bigint {
  // price / (answer / 10^feedDecimals) coins = price * 10^feedDecimals / answer, times 10^nativeDecimals base units.
  const fiatScale = 18;
  const { value } = scaled(price.amount, fiatScale);
  const numerator = value * 10n ** BigInt(rate.decimals) * 10n ** BigInt(nativeDecimals);
  const denominator = BigInt(rate.answer) * 10n ** BigInt(fiatScale);
  return (numerator + denominator - 1n) / denominator;
}

/** `5.00 USD` -> { amount: '5.00', currency: 'USD' }; undefined when it is not a price with its currency. */
export function parseFiatPrice(text: string): FiatPrice | undefined {
  const match = /^\s*(\d{1,12}(?:\.\d{1,18})?)\s+([A-Z]{3})\s*$/.exec(text);
  return match ? { amount: match[1]!, currency: match[2]! } : undefined;
}
