import { describe, expect, it } from 'vitest';
import { mnemonicToAccount } from 'viem/accounts';
import { ConfigError, chainEnvSchema, commonSchema, env, loadConfig, PUBLIC_TEST_ACCOUNTS, rpcUrlsFrom } from '../src/index.js';

const schema = commonSchema.extend({ MERCHANT_ADDRESS: env.address(), PRICE_WEI: env.bigint('5'), FLAG: env.boolean(false) });

describe('loadConfig', () => {
  it('reads, coerces and fills defaults', () => {
    const config = loadConfig(schema, {
      REDIS_URL: 'redis://127.0.0.1:6390',
      MERCHANT_ADDRESS: '0xA0Ee7A142d267C1f36714E4a8F75612F20a79720',
      FLAG: 'yes',
      JOB_LOCK_MS: '',
    });
    expect(config.MERCHANT_ADDRESS).toBe('0xa0ee7a142d267c1f36714e4a8f75612f20a79720');
    expect(config.PRICE_WEI).toBe(5n);
    expect(config.FLAG).toBe(true);
    expect(config.JOB_LOCK_MS).toBe(30_000);
    expect(config.REDIS_PREFIX).toBe('reelboard');
  });

  it('names every missing or bad variable', () => {
    try {
      loadConfig(schema, { REDIS_URL: 'http://not-redis', MERCHANT_ADDRESS: '0x123', JOB_LOCK_MS: '-5' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const variables = (error as ConfigError).issues.map((issue) => issue.variable).sort();
      expect(variables).toEqual(['JOB_LOCK_MS', 'MERCHANT_ADDRESS', 'REDIS_URL']);
      expect((error as Error).message).toMatch(/REDIS_URL: must start with redis:\/\//);
    }
  });

  it('takes RPC endpoints from RPC_URLS and RPC_URL, and names RPC_URL when there is none', () => {
    const chain = commonSchema.extend(chainEnvSchema.shape);
    const base = { REDIS_URL: 'redis://127.0.0.1:6390', CHAIN_ID: '1', MERCHANT_ADDRESS: '0x1111111111111111111111111111111111111111' };
    expect(rpcUrlsFrom(loadConfig(chain, { ...base, RPC_URLS: 'https://a.example/v3/k, https://b.example', RPC_URL: 'https://b.example' }))).toEqual([
      'https://a.example/v3/k',
      'https://b.example',
    ]);
    expect(rpcUrlsFrom(loadConfig(chain, { ...base, RPC_URL: 'http://127.0.0.1:8545' }))).toEqual(['http://127.0.0.1:8545']);
    expect(() => rpcUrlsFrom(loadConfig(chain, base))).toThrow(/RPC_URL: is required \(or RPC_URLS\)/);
    expect(() => loadConfig(chain, { ...base, RPC_URLS: 'https://a.example,ftp://b.example' })).toThrow(/RPC_URLS: each must be an http/);
  });

  it("refuses a public test account (anvil's) as the merchant off the local chain, and names it", () => {
    const chain = commonSchema.extend(chainEnvSchema.shape);
    const base = { REDIS_URL: 'redis://127.0.0.1:6390', RPC_URL: 'https://rpc.example' };
    // anvil's account 9, the development stack's merchant.
    const anvil9 = '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720';
    expect(loadConfig(chain, { ...base, CHAIN_ID: '31337', MERCHANT_ADDRESS: anvil9 }).MERCHANT_ADDRESS).toBe(anvil9.toLowerCase());
    for (const chainId of ['1', '8453', '11155111']) {
      let error: unknown;
      try {
        loadConfig(chain, { ...base, CHAIN_ID: chainId, MERCHANT_ADDRESS: anvil9 });
      } catch (caught) {
        error = caught;
      }
      expect(error, chainId).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.map((issue) => issue.variable)).toEqual(['MERCHANT_ADDRESS']);
      expect((error as Error).message).toContain(`MERCHANT_ADDRESS: ${anvil9.toLowerCase()} is one of the public test accounts`);
      expect((error as Error).message).toContain(`on chain ${chainId} anyone could take what it is paid`);
    }
    expect(loadConfig(chain, { ...base, CHAIN_ID: '8453', MERCHANT_ADDRESS: '0x1111111111111111111111111111111111111111' }).CHAIN_ID).toBe(8453);
  });

  it('knows every account anvil and Hardhat fund from their public mnemonic', () => {
    const mnemonic = 'test test test test test test test test test test test junk';
    const derived = Array.from({ length: 20 }, (_, addressIndex) => mnemonicToAccount(mnemonic, { addressIndex }).address.toLowerCase());
    expect(PUBLIC_TEST_ACCOUNTS).toEqual(derived);
  });
});
