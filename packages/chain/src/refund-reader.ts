import { type Hex, type PublicClient, TransactionReceiptNotFoundError } from 'viem';

/**
 * The chain reads a refund's verification needs (`RefundChainReader` of @reelboard/db), on a viem
 * client: an unknown hash is null rather than an error, and signatures are checked with viem's
 * `verifyMessage` action, which also accepts contract wallets (ERC-1271, and ERC-6492 before deployment).
 */
export function refundChainReader(client: PublicClient, chainId: number) {
  return {
    chainId,
    async receipt(txHash: Hex) {
      try {
        const receipt = await client.getTransactionReceipt({ hash: txHash });
        return {
          status: receipt.status,
          blockNumber: receipt.blockNumber,
          logs: receipt.logs.map((log) => ({ address: log.address, topics: log.topics, data: log.data })),
        };
      } catch (error) {
        if (error instanceof TransactionReceiptNotFoundError) return null;
        throw error;
      }
    },
    async transaction(txHash: Hex) {
      const tx = await client.getTransaction({ hash: txHash });
      return { to: tx.to ?? null, value: tx.value };
    },
    blockNumber: () => client.getBlockNumber({ cacheTime: 0 }),
    verifyMessage: (args: { address: Hex; message: string; signature: Hex }) => client.verifyMessage(args),
  };
}
