import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MERCHANT } from '@reelboard/testkit/anvil';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { createChainClient, readBalances } from '../src/index.js';

// Failed requests to each RPC endpoint are reported (the services count them as
// reelboard_rpc_errors_total by endpoint), named by host only: providers put API keys in the path.

const infra = infraEnv();
let failing: Server;
let failingUrl: string;
let closedUrl: string;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  // An overloaded provider: every request answered 503.
  failing = createServer((_req, res) => res.writeHead(503).end('overloaded'));
  failingUrl = `http://127.0.0.1:${await listen(failing)}/v3/SECRETKEY`;
  const closed = createServer();
  const closedPort = await listen(closed);
  await new Promise((resolve) => closed.close(resolve));
  closedUrl = `http://127.0.0.1:${closedPort}/key/SECRETKEY`;
});

afterAll(async () => {
  await new Promise((resolve) => failing?.close(resolve));
});

describe('RPC request errors', () => {
  it('reports each failing endpoint by host while the request fails over to one that answers', async () => {
    const errors: string[] = [];
    const client = createChainClient({
      rpcUrls: [failingUrl, closedUrl, infra.RPC_URL ?? ''],
      chainId: Number(infra.CHAIN_ID),
      onRequestError: (endpoint) => errors.push(endpoint),
    });
    expect(await client.getBlockNumber()).toBeGreaterThanOrEqual(0n);
    expect(new Set(errors)).toEqual(new Set([new URL(failingUrl).host, new URL(closedUrl).host]));
    expect(errors.join(' ')).not.toContain('SECRETKEY');
  });

  it('reports nothing when the endpoint answers', async () => {
    const errors: string[] = [];
    const client = createChainClient({ rpcUrl: infra.RPC_URL ?? '', chainId: Number(infra.CHAIN_ID), onRequestError: (endpoint) => errors.push(endpoint) });
    await client.getBlockNumber();
    expect(errors).toEqual([]);
  });

  it('reports a failed balance batch by host too', async () => {
    const errors: string[] = [];
    const client = createChainClient({
      rpcUrls: [failingUrl, infra.RPC_URL ?? ''],
      chainId: Number(infra.CHAIN_ID),
      batchSize: 10,
      onRequestError: (endpoint) => errors.push(endpoint),
    });
    const blockNumber = await client.getBlockNumber();
    errors.length = 0;
    const balances = await readBalances(client, { addresses: [MERCHANT], token: null, blockNumber });
    expect(balances).toHaveLength(1);
    expect(errors).toContain(new URL(failingUrl).host);
  });
});
