import { createPublicClient, defineChain, http, type Chain, type PublicClient } from 'viem';
import { registerBatchTarget } from './deposits.js';

export interface ChainConfig {
  rpcUrl: string;
  chainId: number;
  /** How often the client polls the node, in ms. */
  pollingIntervalMs?: number;
  /** Requests issued together are sent as JSON-RPC batches of at most this many (0: no batching). */
  batchSize?: number;
  /** Called once per HTTP request to the node (a batch counts once): for metrics and benchmarks. */
  onRequest?: () => void;
}

/** A minimal chain definition for the configured chain id (the project's own dev chain or a real one). */
export function chainFor(config: ChainConfig): Chain {
  return defineChain({
    id: config.chainId,
    name: `chain-${config.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [config.rpcUrl] } },
  });
}

/**
 * A viem public client on the configured RPC. Block numbers are not cached (`cacheTime: 0`):
 * counting confirmations on a cached head would under-count them for seconds.
 */
export function createChainClient(config: ChainConfig): PublicClient {
  const client = createPublicClient({
    chain: chainFor(config),
    transport: http(config.rpcUrl, {
      retryCount: 2,
      timeout: 10_000,
      ...(config.batchSize ? { batch: { batchSize: config.batchSize, wait: 0 } } : {}),
      ...(config.onRequest ? { onFetchRequest: () => void config.onRequest?.() } : {}),
    }),
    cacheTime: 0,
    pollingInterval: config.pollingIntervalMs ?? 1_000,
  }) as PublicClient;
  if (config.batchSize) registerBatchTarget(client, { url: config.rpcUrl, batchSize: config.batchSize, ...(config.onRequest ? { onRequest: config.onRequest } : {}) });
  return client;
}

/** Raised when the RPC serves another chain than the one configured. */
export class ChainMismatchError extends Error {
  override readonly name = 'ChainMismatchError';
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`RPC serves chain ${actual}, but CHAIN_ID is ${expected}`);
  }
}

/** Checks at start-up that the RPC really serves the configured chain. */
export async function assertChainId(client: PublicClient, expected: number): Promise<void> {
  const actual = await client.getChainId();
  if (actual !== expected) throw new ChainMismatchError(expected, actual);
}

export * from './transfers.js';
export * from './deposits.js';
