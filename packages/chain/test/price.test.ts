import { describe, expect, it } from 'vitest';
import { nativeAmount, parseFiatPrice, stablecoinAmount } from '../src/price-feed.js';

describe('fiat prices in base units', () => {
  it('reads a price with its currency, and nothing else', () => {
    expect(parseFiatPrice('5.00 USD')).toEqual({ amount: '5.00', currency: 'USD' });
    expect(parseFiatPrice(' 12 EUR ')).toEqual({ amount: '12', currency: 'EUR' });
    for (const bad of ['5.00', 'USD 5', '5,00 USD', '-1 USD', '5.00 usd', '5.00 US']) expect(parseFiatPrice(bad)).toBeUndefined();
  });

  it('a stablecoin of the currency 1:1 in its own decimals, rounding a finer fraction up', () => {
    expect(stablecoinAmount({ amount: '5.00', currency: 'USD' }, 6)).toBe(5_000_000n);
    expect(stablecoinAmount({ amount: '5', currency: 'USD' }, 18)).toBe(5n * 10n ** 18n);
    expect(stablecoinAmount({ amount: '0.0000001', currency: 'USD' }, 6)).toBe(1n);
    expect(stablecoinAmount({ amount: '1.5', currency: 'USD' }, 0)).toBe(2n);
  });

  it('the native coin at a feed answer (8 decimals), rounded up so the merchant never gets less', () => {
    // 5 USD at 2,000 USD/ETH = 0.0025 ETH.
    expect(nativeAmount({ amount: '5.00', currency: 'USD' }, { answer: '200000000000', decimals: 8 }, 18)).toBe(2_500_000_000_000_000n);
    // 1 USD at 3,000 USD/ETH = 0.000333… ETH: the last wei rounds up.
    expect(nativeAmount({ amount: '1', currency: 'USD' }, { answer: '300000000000', decimals: 8 }, 18)).toBe(333_333_333_333_334n);
    // A coin of 6 decimals at an 18-decimal feed.
    expect(nativeAmount({ amount: '10', currency: 'EUR' }, { answer: (4n * 10n ** 18n).toString(), decimals: 18 }, 6)).toBe(2_500_000n);
  });
});
