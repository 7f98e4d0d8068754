import { type Hash, type PublicClient, TransactionNotFoundError, TransactionReceiptNotFoundError } from 'viem';

export interface CheckHintParameters {
  txHash: Hash;
  /** Confirmations required, counting the transaction's own block (the `depth` policy). */
  confirmations: number;
  /**
   * The highest block that counts now, as the block passes see it (the deposit watcher's
   * `confirmedHeight`: the depth below the head, or the node's safe / finalized block). When given,
   * it decides, so a hint is never confirmed before the passes would confirm its block.
   */
  confirmedHeight?: bigint;
}

export type CheckHintReturnType =
  /** Mined and buried: the deposit address can be read at the confirmed height. */
  | { outcome: 'confirmed'; blockNumber: bigint; from: `0x${string}`; to: `0x${string}` | null }
  | { outcome: 'reverted'; reason: string }
  | {
      outcome: 'pending';
      /** not_seen: the node does not know it; not_mined: in the mempool; confirming: mined, not buried enough. */
      code: 'not_seen' | 'not_mined' | 'confirming';
      reason: string;
    };

/**
 * Where a transaction a client says pays its upload stands on chain. It is only a hint: whatever it
 * did, the deposit address's balance decides what was paid.
 */
export async function checkHint(client: PublicClient, { txHash, confirmations, confirmedHeight }: CheckHintParameters): Promise<CheckHintReturnType> {
  let receipt;
  try {
    receipt = await client.getTransactionReceipt({ hash: txHash });
  } catch (error) {
    if (!(error instanceof TransactionReceiptNotFoundError)) throw error;
    try {
      await client.getTransaction({ hash: txHash });
      return { outcome: 'pending', code: 'not_mined', reason: 'waiting to be mined' };
    } catch (inner) {
      if (inner instanceof TransactionNotFoundError) return { outcome: 'pending', code: 'not_seen', reason: 'not seen on chain yet' };
      throw inner;
    }
  }
  if (receipt.status !== 'success') return { outcome: 'reverted', reason: `transaction ${txHash} reverted: it moved no money` };
  const head = await client.getBlockNumber({ cacheTime: 0 });
  const have = Number(head - receipt.blockNumber) + 1;
  if (have < confirmations) return { outcome: 'pending', code: 'confirming', reason: `${have} of ${confirmations} confirmations` };
  if (confirmedHeight !== undefined && receipt.blockNumber > confirmedHeight) {
    return { outcome: 'pending', code: 'confirming', reason: `mined in block ${receipt.blockNumber}; the chain counts blocks up to ${confirmedHeight} so far` };
  }
  return { outcome: 'confirmed', blockNumber: receipt.blockNumber, from: receipt.from, to: receipt.to };
}
