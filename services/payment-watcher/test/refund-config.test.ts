import { describe, expect, it } from 'vitest';
import { privateKeyToAddress } from 'viem/accounts';
import { loadPaymentWatcherConfig } from '../src/config.js';
import { assetOf, limitsOnChain } from '../src/refund-config.js';

const KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const OTHER = '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6';
const base = {
  REDIS_URL: 'redis://127.0.0.1:1',
  DATABASE_URL: 'postgres://127.0.0.1:1/reelboard',
  RPC_URL: 'http://127.0.0.1:1',
  CHAIN_ID: '31337',
  MERCHANT_ADDRESS: '0x000000000000000000000000000000000000dEaD',
};
const usdc = '0x00000000000000000000000000000000000000aa';
const chain = { native: { symbol: 'ETH', decimals: 18 }, tokens: [{ address: usdc as `0x${string}`, symbol: 'USDC', decimals: 6 }] };

describe('the refund wallet settings', () => {
  it("refuse a refund key that is the sweeper's or the merchant's, naming REFUND_PRIVATE_KEY", () => {
    expect(loadPaymentWatcherConfig({ ...base, REFUND_PRIVATE_KEY: KEY, SWEEP_PRIVATE_KEY: OTHER }).REFUND_PRIVATE_KEY).toBe(KEY);
    expect(() => loadPaymentWatcherConfig({ ...base, REFUND_PRIVATE_KEY: KEY, SWEEP_PRIVATE_KEY: KEY.toUpperCase().replace('0X', '0x') })).toThrow(
      /REFUND_PRIVATE_KEY: is the same key as SWEEP_PRIVATE_KEY/,
    );
    expect(() => loadPaymentWatcherConfig({ ...base, MERCHANT_ADDRESS: privateKeyToAddress(KEY), REFUND_PRIVATE_KEY: KEY })).toThrow(
      /REFUND_PRIVATE_KEY: is the merchant's key/,
    );
  });

  it('read per-asset amounts in whole units into each chain’s base units, and name a malformed part', () => {
    const config = loadPaymentWatcherConfig({ ...base, REFUND_DAILY_LIMIT: 'usdc=500, ETH=0.25', REFUND_AUTO_APPROVE_MAX: '' });
    expect(limitsOnChain(chain, config.REFUND_DAILY_LIMIT)).toEqual(
      new Map([
        ['native', 250_000_000_000_000_000n],
        [usdc, 500_000_000n],
      ]),
    );
    expect(limitsOnChain(chain, config.REFUND_AUTO_APPROVE_MAX).size).toBe(0);
    expect(() => loadPaymentWatcherConfig({ ...base, REFUND_DAILY_LIMIT: 'USDC:500' })).toThrow(/REFUND_DAILY_LIMIT: "USDC:500" is not SYMBOL=amount/);
    expect(assetOf(chain, usdc.toUpperCase().replace('0X', '0x'))).toMatchObject({ symbol: 'USDC', decimals: 6 });
  });
});
