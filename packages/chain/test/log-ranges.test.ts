import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from 'viem';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { type RpcProxy, startRpcProxy } from '@reelboard/testkit/rpc-proxy';
import { createChainClient, isLogRangeLimitError, readBalances, readLogsInRanges } from '../src/index.js';

// Hosted providers refuse wide eth_getLogs and fail now and then; the chain client cuts log
// queries to a configured span, halves what a provider still refuses, and fails over between
// endpoints. A proxy in front of a real anvil plays the provider.

describe('readLogsInRanges', () => {
  it('cuts a range into spans of at most maxRange blocks, in order', async () => {
    const asked: [bigint, bigint][] = [];
    const logs = await readLogsInRanges(
      async ({ fromBlock, toBlock }) => {
        asked.push([fromBlock, toBlock]);
        return [`${fromBlock}-${toBlock}`];
      },
      { fromBlock: 10n, toBlock: 34n },
      { maxRange: 10 },
    );
    expect(asked).toEqual([
      [10n, 19n],
      [20n, 29n],
      [30n, 34n],
    ]);
    expect(logs).toEqual(['10-19', '20-29', '30-34']);
    expect(await readLogsInRanges(async () => ['x'], { fromBlock: 5n, toBlock: 4n })).toEqual([]);
  });

  it('halves a range the provider refuses as too large, and rethrows any other failure', async () => {
    const refusal = Object.assign(new Error('query exceeds max block range 3'), { code: -32005 });
    const asked: [bigint, bigint][] = [];
    const logs = await readLogsInRanges(
      async ({ fromBlock, toBlock }) => {
        asked.push([fromBlock, toBlock]);
        if (toBlock - fromBlock + 1n > 3n) throw refusal;
        return [fromBlock];
      },
      { fromBlock: 0n, toBlock: 9n },
    );
    expect(logs).toEqual([0n, 3n, 5n, 8n]);
    expect(asked.filter(([from, to]) => to - from + 1n <= 3n)).toEqual([
      [0n, 2n],
      [3n, 4n],
      [5n, 7n],
      [8n, 9n],
    ]);
    await expect(readLogsInRanges(async () => Promise.reject(new Error('connection refused')), { fromBlock: 0n, toBlock: 9n })).rejects.toThrow(
      'connection refused',
    );
  });

  it("recognises providers' words for a log query that is too large", () => {
    for (const message of [
      'Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range',
      'query returned more than 10000 results',
      'block range is too wide',
      'eth_getLogs is limited to a 10,000 range',
      'exceed maximum block range: 5000',
    ]) {
      expect(isLogRangeLimitError(new Error('HTTP request failed', { cause: new Error(message) })), message).toBe(true);
    }
    expect(isLogRangeLimitError(new Error('execution reverted'))).toBe(false);
    expect(isLogRangeLimitError(new Error('connect ECONNREFUSED 127.0.0.1:8545'))).toBe(false);
  });
});

const PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 125;
let anvil: Anvil;
let proxy: RpcProxy;
/** Init code that emits one empty log (LOG0) and deploys nothing: one log per block it is mined in. */
const EMIT_ONE_LOG = '0x60006000a000' as Hex;
let firstBlock: bigint;
let lastBlock: bigint;

/** A local port nothing listens on (bound, then released): a dead endpoint. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  anvil = await startAnvil(PORT);
  proxy = await startRpcProxy(anvil.rpcUrl, 'f0e1d2c3b4a5968778695a4b3c2d1e0f');
  const wallet = anvil.wallet(KEYS.deployer);
  firstBlock = (await anvil.client.getBlockNumber()) + 1n;
  for (let i = 0; i < 12; i++) {
    const hash = await wallet.sendTransaction({ data: EMIT_ONE_LOG, chain: anvil.chain, account: wallet.account! });
    await anvil.client.waitForTransactionReceipt({ hash });
  }
  lastBlock = await anvil.client.getBlockNumber();
});
afterAll(async () => {
  await proxy?.close();
  await anvil?.stop();
});

describe('the chain client on a provider that limits eth_getLogs', () => {
  it('splits a range the provider refuses and finds every log a direct query finds', async () => {
    const direct = await anvil.client.getLogs({ fromBlock: firstBlock, toBlock: lastBlock });
    expect(direct).toHaveLength(12);
    proxy.maxLogRange = 3;
    proxy.logRequests = [];
    const chain = createChainClient({ rpcUrl: proxy.url, chainId: 31337 });
    const logs = await chain.getLogs({ fromBlock: firstBlock, toBlock: lastBlock });
    expect(logs.map((log) => log.transactionHash)).toEqual(direct.map((log) => log.transactionHash));
    expect(proxy.logRequests.some((request) => request.refused)).toBe(true);
    // Every range the provider answered was within its limit.
    for (const request of proxy.logRequests.filter((r) => !r.refused)) expect(request.to - request.from + 1n).toBeLessThanOrEqual(3n);
  });

  it('with maxLogRange set, never sends a range the provider would refuse', async () => {
    proxy.maxLogRange = 4;
    proxy.logRequests = [];
    const chain = createChainClient({ rpcUrl: proxy.url, chainId: 31337, maxLogRange: 4 });
    expect(await chain.getLogs({ fromBlock: firstBlock, toBlock: lastBlock })).toHaveLength(12);
    expect(proxy.logRequests.length).toBe(3);
    expect(proxy.logRequests.every((request) => !request.refused)).toBe(true);
  });
});

describe('the chain client with several endpoints', () => {
  it('fails over from a dead endpoint for reads, logs and batched balances', async () => {
    proxy.maxLogRange = undefined;
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const chain = createChainClient({ rpcUrls: [dead, anvil.rpcUrl], chainId: 31337, batchSize: 50 });
    expect(await chain.getChainId()).toBe(31337);
    expect(await chain.getBlockNumber()).toBe(lastBlock);
    expect(await chain.getLogs({ fromBlock: firstBlock, toBlock: lastBlock })).toHaveLength(12);
    const deployer = anvil.wallet(KEYS.deployer).account!.address;
    const [balance] = await readBalances(chain, { addresses: [deployer], token: null, blockNumber: lastBlock });
    expect(balance).toBe(await anvil.client.getBalance({ address: deployer, blockNumber: lastBlock }));
  });
});
