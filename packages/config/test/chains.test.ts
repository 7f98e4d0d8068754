import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, chainEnvSchema, chainIdListEnv, chainsFrom, loadConfig, rpcUrlsFrom, selectChains, z } from '../src/index.js';

const schema = chainEnvSchema.extend({ WATCH_CHAINS: chainIdListEnv() });
const USDC = `0x${'aa'.repeat(20)}`;
const base = { MERCHANT_ADDRESS: `0x${'11'.repeat(20)}`, CHAIN_ID: '8453' };
const two = [
  {
    id: 8453,
    name: 'Base',
    rpcUrls: ['https://base.example/v1/key', 'https://base2.example'],
    confirmationPolicy: 'safe',
    blockTimeMs: 2000,
    native: { symbol: 'ETH', decimals: 18 },
    tokens: [{ address: USDC.toUpperCase().replace('0X', '0x'), symbol: 'USDC', decimals: 6 }],
  },
  { id: 137, name: 'Polygon', rpcUrls: ['https://polygon.example'], native: { symbol: 'POL', decimals: 18 } },
];

const problem = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('no ConfigError');
};

describe('CHAINS', () => {
  it('reads a JSON list, filling defaults, the home chain (CHAIN_ID) first, and gives its RPC URLs to the home chain', () => {
    const config = loadConfig(schema, { ...base, CHAINS: JSON.stringify([...two].reverse()) });
    const chains = chainsFrom(config);
    expect(chains.map((chain) => chain.id)).toEqual([8453, 137]);
    expect(chains[0]).toMatchObject({ confirmationPolicy: 'safe', tokens: [{ address: USDC, symbol: 'USDC', decimals: 6 }] });
    expect(chains[1]).toMatchObject({ confirmationPolicy: 'depth', confirmations: 2, blockTimeMs: 2000, tokens: [] });
    expect(rpcUrlsFrom(config)).toEqual(['https://base.example/v1/key', 'https://base2.example']);
  });

  it('reads the list from a file (a mounted ConfigMap)', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'chains-')), 'chains.json');
    writeFileSync(path, JSON.stringify(two));
    expect(chainsFrom(loadConfig(schema, { ...base, CHAINS: path })).map((chain) => chain.name)).toEqual(['Base', 'Polygon']);
  });

  it('keeps the single-chain settings working as a one-chain list', () => {
    const config = loadConfig(schema, { ...base, RPC_URL: 'http://127.0.0.1:8545', PAYMENT_TOKEN: USDC });
    expect(chainsFrom(config, { confirmationPolicy: 'finalized', confirmations: 5, blockTimeMs: 1000 })).toEqual([
      {
        id: 8453,
        name: 'chain-8453',
        rpcUrls: ['http://127.0.0.1:8545'],
        confirmationPolicy: 'finalized',
        confirmations: 5,
        blockTimeMs: 1000,
        native: { symbol: 'ETH', decimals: 18 },
        tokens: [{ address: USDC, symbol: 'TOKEN', decimals: 18 }],
      },
    ]);
  });

  it('names what is wrong, and where', () => {
    expect(problem(() => loadConfig(schema, { ...base, CHAINS: '[{"id": 1' }))).toMatch(/CHAINS: its JSON is not valid JSON/);
    expect(problem(() => loadConfig(schema, { ...base, CHAINS: '/nowhere/chains.json' }))).toMatch(/CHAINS: is neither a JSON array nor a readable file/);
    const bad = [{ ...two[0], rpcUrls: ['ftp://x'], tokens: [{ address: '0x12', symbol: 'USDC', decimals: 6 }] }, two[1], two[1]];
    const message = problem(() => loadConfig(schema, { ...base, CHAINS: JSON.stringify(bad) }));
    expect(message).toMatch(/\[0\]\.rpcUrls\[0\] each must be an http/);
    expect(message).toMatch(/\[0\]\.tokens\[0\]\.address must be a 0x-prefixed/);
    expect(message).toMatch(/\[2\]\.id chain 137 is listed twice/);
    expect(problem(() => loadConfig(schema, { ...base, CHAINS: JSON.stringify([{ ...two[1], colour: 'red' }]) }))).toMatch(/colour/);
  });

  it('must include CHAIN_ID, and PAYMENT_TOKEN must be one of its tokens', () => {
    expect(problem(() => chainsFrom(loadConfig(schema, { ...base, CHAIN_ID: '1', CHAINS: JSON.stringify(two) })))).toMatch(
      /CHAINS: has no chain 1, the chain CHAIN_ID names/,
    );
    const other = `0x${'bb'.repeat(20)}`;
    expect(problem(() => chainsFrom(loadConfig(schema, { ...base, PAYMENT_TOKEN: other, CHAINS: JSON.stringify(two) })))).toMatch(
      `PAYMENT_TOKEN: ${other} is not among the tokens CHAINS accepts on chain 8453 (Base)`,
    );
  });
});

describe('WATCH_CHAINS', () => {
  const chains = chainsFrom(loadConfig(schema, { ...base, CHAINS: JSON.stringify(two) }));

  it('selects the chains a replica watches (every chain when empty)', () => {
    expect(selectChains(chains, loadConfig(schema, { ...base }).WATCH_CHAINS).map((chain) => chain.id)).toEqual([8453, 137]);
    expect(selectChains(chains, loadConfig(schema, { ...base, WATCH_CHAINS: ' 137 ' }).WATCH_CHAINS).map((chain) => chain.id)).toEqual([137]);
  });

  it('refuses an id that is not configured, or not an id', () => {
    expect(problem(() => selectChains(chains, [10]))).toMatch(/WATCH_CHAINS: names chain 10, not among the configured chains \(8453, 137\)/);
    expect(problem(() => loadConfig(z.object({ WATCH_CHAINS: chainIdListEnv() }), { WATCH_CHAINS: '137,base' }))).toMatch(/"base" is not a chain id/);
  });
});
