import { erc20Abi, parseEventLogs, type Hash, type Log, type PublicClient } from 'viem';

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

/** A transfer of value to the merchant found while following blocks: native coin or a token. */
export interface IncomingTransfer {
  txHash: Hash;
  blockNumber: bigint;
  from: Address;
  /** null for the native coin. */
  token: Address | null;
  value: bigint;
}

const lower = (value: string) => value.toLowerCase() as Address;

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
 * Transfers to `merchant` mined in blocks `fromBlock..toBlock`: native payments from the blocks'
 * transactions, and `Transfer` logs of the configured `token` (if any). Reverted transactions are
 * not filtered here; verification reads each receipt.
 */
export async function findIncomingTransfers(
  client: PublicClient,
  { merchant, token, fromBlock, toBlock }: { merchant: Address; token: Address | null; fromBlock: bigint; toBlock: bigint },
): Promise<IncomingTransfer[]> {
  const found: IncomingTransfer[] = [];
  for (let number = fromBlock; number <= toBlock; number++) {
    const block = await client.getBlock({ blockNumber: number, includeTransactions: true });
    for (const tx of block.transactions) {
      if (tx.to && lower(tx.to) === merchant && tx.value > 0n) {
        found.push({ txHash: tx.hash, blockNumber: number, from: lower(tx.from), token: null, value: tx.value });
      }
    }
  }
  if (token) {
    const logs = await client.getLogs({
      address: token,
      event: erc20Abi.find((item) => item.type === 'event' && item.name === 'Transfer') as Extract<(typeof erc20Abi)[number], { name: 'Transfer'; type: 'event' }>,
      args: { to: merchant },
      fromBlock,
      toBlock,
    });
    for (const transfer of decodeTransfers(logs as Log[])) {
      found.push({ txHash: transfer.txHash, blockNumber: transfer.blockNumber, from: transfer.from, token, value: transfer.value });
    }
  }
  return found;
}

/**
 * The transaction that was mined with `from`'s `nonce` in blocks `fromBlock..` head, if any: what
 * replaced (sped up or cancelled) a transaction that never got mined.
 */
export async function findReplacement(client: PublicClient, { from, nonce, fromBlock }: { from: Address; nonce: number; fromBlock: bigint }): Promise<Hash | undefined> {
  const minedNonce = await client.getTransactionCount({ address: from, blockTag: 'latest' });
  if (minedNonce <= nonce) return undefined;
  const head = await client.getBlockNumber({ cacheTime: 0 });
  for (let number = head; number >= fromBlock; number--) {
    const block = await client.getBlock({ blockNumber: number, includeTransactions: true });
    const match = block.transactions.find((tx) => lower(tx.from) === from && tx.nonce === nonce);
    if (match) return match.hash;
  }
  return undefined;
}
