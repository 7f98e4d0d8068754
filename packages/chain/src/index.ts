import { type Chain, createPublicClient, defineChain, fallback, type HttpTransport, http, type PublicClient, type Transport } from 'viem';
import { getLogs } from 'viem/actions';
import { registerBatchTarget } from './deposits.js';
import { endpointLabel } from './endpoint.js';
import { readLogsInRanges } from './log-ranges.js';

export interface ChainConfig {
  /** One JSON-RPC endpoint (kept for callers with a single one); `rpcUrls` wins when both are set. */
  rpcUrl?: string;
  /** Several endpoints of the same chain: requests go to the healthiest, failing over to the next. */
  rpcUrls?: readonly string[];
  chainId: number;
  /** How often the client polls the node, in ms. */
  pollingIntervalMs?: number;
  /** Requests issued together are sent as JSON-RPC batches of at most this many (0: no batching). */
  batchSize?: number;
  /** Called once per HTTP request to the node (a batch counts once): for metrics and benchmarks. */
  onRequest?: () => void;
  /**
   * Called once per failed HTTP request (no answer, a timeout, a non-2xx status) with the endpoint's
   * host (never the whole URL: providers put API keys in the path), before a retry or a failover.
   */
  onRequestError?: (endpoint: string) => void;
  /** Most blocks one eth_getLogs may span (longer queries are cut); a refused range is halved anyway. */
  maxLogRange?: number;
  /**
   * With several URLs: how often each is pinged (eth_blockNumber) to rank them by stability and
   * latency; 0 or unset: no ranking, the order given (a failing one is still skipped per request).
   * The ranking runs for the life of the process: long-running services only.
   */
  rankIntervalMs?: number;
}

/** The endpoints of a configuration, in order, without duplicates; at least one. */
export function rpcUrlsOf(config: Pick<ChainConfig, 'rpcUrl' | 'rpcUrls'>): string[] {
  const urls = [...new Set([...(config.rpcUrls ?? []), ...(config.rpcUrl ? [config.rpcUrl] : [])])];
  if (urls.length === 0) throw new Error('no RPC URL configured');
  return urls;
}

export { endpointLabel };

/** A fetch that reports each failed request to an endpoint, then fails as fetch would. */
function reportingFetch(url: string, onRequestError: (endpoint: string) => void): typeof fetch {
  const endpoint = endpointLabel(url);
  return async (input, init) => {
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      onRequestError(endpoint);
      throw error;
    }
    if (!response.ok) onRequestError(endpoint);
    return response;
  };
}

/** A minimal chain definition for the configured chain id (the project's own dev chain or a real one). */
export function chainFor(config: ChainConfig): Chain {
  return defineChain({
    id: config.chainId,
    name: `chain-${config.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: rpcUrlsOf(config) } },
  });
}

/**
 * The transport to the configured endpoints: plain HTTP for one, viem's `fallback` for several
 * (a request that fails on one endpoint goes to the next; with `rankIntervalMs`, the order is
 * re-ranked by each endpoint's measured stability and latency).
 */
export function chainTransport(config: ChainConfig): Transport {
  const urls = rpcUrlsOf(config);
  const one = (url: string): HttpTransport =>
    http(url, {
      retryCount: 2,
      timeout: 10_000,
      ...(config.batchSize ? { batch: { batchSize: config.batchSize, wait: 0 } } : {}),
      ...(config.onRequest ? { onFetchRequest: () => void config.onRequest?.() } : {}),
      ...(config.onRequestError ? { fetchFn: reportingFetch(url, config.onRequestError) } : {}),
    });
  if (urls.length === 1) return one(urls[0]!);
  return fallback(urls.map(one), {
    retryCount: 2,
    rank: config.rankIntervalMs
      ? { interval: config.rankIntervalMs, timeout: 2_000, ping: ({ transport }) => transport.request({ method: 'eth_blockNumber' }) }
      : false,
  });
}

/**
 * A viem public client on the configured RPC endpoints. Block numbers are not cached
 * (`cacheTime: 0`): counting confirmations on a cached head would under-count them for seconds.
 * Its `getLogs` cuts block ranges to `maxLogRange` and halves what a provider refuses as too large.
 */
export function createChainClient(config: ChainConfig): PublicClient {
  const base = createPublicClient({
    chain: chainFor(config),
    transport: chainTransport(config),
    cacheTime: 0,
    pollingInterval: config.pollingIntervalMs ?? 1_000,
  });
  const client = base.extend((inner) => ({
    getLogs: ((parameters: Parameters<typeof inner.getLogs>[0]) => {
      const { fromBlock, toBlock } = (parameters ?? {}) as { fromBlock?: unknown; toBlock?: unknown };
      if (typeof fromBlock !== 'bigint' || typeof toBlock !== 'bigint') return getLogs(inner, parameters);
      return readLogsInRanges(
        (range) => getLogs(inner, { ...parameters, ...range } as typeof parameters),
        { fromBlock, toBlock },
        { maxRange: config.maxLogRange },
      );
    }) as typeof inner.getLogs,
  })) as unknown as PublicClient;
  if (config.batchSize)
    registerBatchTarget(client, {
      urls: rpcUrlsOf(config),
      batchSize: config.batchSize,
      ...(config.onRequest ? { onRequest: config.onRequest } : {}),
      ...(config.onRequestError ? { onRequestError: config.onRequestError } : {}),
    });
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

export * from './deposits.js';
export * from './log-ranges.js';
export * from './price-feed.js';
export * from './refund-reader.js';
export * from './transfers.js';
