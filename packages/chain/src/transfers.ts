import { erc20Abi, type Hash, type Log, type PublicClient, parseEventLogs } from 'viem';

type Address = `0x${string}`;

/** One ERC-20 `Transfer` event as it appears in a receipt or a log query. */
export interface TokenTransfer {
  /** The contract that emitted the event: only the configured token's own events count. */
  token: Address;
  from: Address;
  to: Address;
  value: bigint;
  logIndex: number;
  txHash: Hash;
  blockNumber: bigint;
}

const lower = (value: string) => value.toLowerCase() as Address;

/** The ERC-20 `Transfer` event, for log queries (`getLogs({ event: erc20TransferEvent })`). */
export const erc20TransferEvent = erc20Abi.find((item) => item.type === 'event' && item.name === 'Transfer') as Extract<
  (typeof erc20Abi)[number],
  { name: 'Transfer'; type: 'event' }
>;

/** Decodes every log shaped like an ERC-20 `Transfer`, whichever contract emitted it. */
export function decodeTransfers(logs: readonly Log[]): TokenTransfer[] {
  return parseEventLogs({ abi: erc20Abi, eventName: 'Transfer', logs: logs as Log[], strict: true }).map((log) => ({
    token: lower(log.address),
    from: lower(log.args.from),
    to: lower(log.args.to),
    value: log.args.value,
    logIndex: log.logIndex ?? 0,
    txHash: log.transactionHash as Hash,
    blockNumber: log.blockNumber ?? 0n,
  }));
}

/**
 * The items whose transaction succeeded: a reverted transaction keeps its `value` in the block but
 * moved nothing. One receipt per distinct hash (a batching transport sends them together); callers
 * pass only candidate transactions, never every transaction of a block.
 */
export async function successfulOnly<T>(client: PublicClient, items: readonly T[], hashOf: (item: T) => Hash): Promise<T[]> {
  const hashes = [...new Set(items.map(hashOf))];
  const receipts = await Promise.all(hashes.map((hash) => client.getTransactionReceipt({ hash })));
  const ok = new Set(receipts.filter((receipt) => receipt.status === 'success').map((receipt) => receipt.transactionHash.toLowerCase()));
  return items.filter((item) => ok.has(hashOf(item).toLowerCase()));
}
