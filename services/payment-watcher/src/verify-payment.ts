import { TransactionNotFoundError, TransactionReceiptNotFoundError, type Hash, type PublicClient } from 'viem';
import type { Payment, UploadReceived } from '@reelboard/contracts';

export interface VerifyPaymentParameters {
  /** The upload being paid for: its owner and its quote. */
  upload: Pick<UploadReceived, 'owner' | 'quote'>;
  txHash: Hash;
  /** Confirmations required, counting the payment's own block. */
  confirmations: number;
  now?: Date;
}

/** Why a transaction does not pay for an upload; each check has its own. */
export type RejectionCode =
  | 'wrong_chain'
  | 'reverted'
  | 'wrong_sender'
  | 'wrong_recipient'
  | 'underpaid'
  | 'predates_quote';

export type VerifyPaymentReturnType =
  | { outcome: 'confirmed'; payment: Payment }
  | { outcome: 'rejected'; code: RejectionCode; reason: string }
  /** Not decidable yet: not mined, or too few confirmations. */
  | { outcome: 'pending'; reason: string };

const lower = (value: string) => value.toLowerCase() as `0x${string}`;

/**
 * Decides on chain whether `txHash` pays for `upload`: the configured chain, a successful
 * receipt, sent by the owner to the merchant with enough value, mined after the quote was made,
 * and buried under enough confirmations on the canonical chain.
 */
export async function verifyPayment(client: PublicClient, { upload, txHash, confirmations }: VerifyPaymentParameters): Promise<VerifyPaymentReturnType> {
  const { quote, owner } = upload;
  let tx;
  let receipt;
  try {
    tx = await client.getTransaction({ hash: txHash });
    receipt = await client.getTransactionReceipt({ hash: txHash });
  } catch (error) {
    if (error instanceof TransactionNotFoundError) return { outcome: 'pending', reason: 'transaction not seen by the node yet' };
    if (error instanceof TransactionReceiptNotFoundError) return { outcome: 'pending', reason: 'transaction not mined yet' };
    throw error;
  }
  if (tx.chainId !== undefined && tx.chainId !== quote.chainId) {
    return { outcome: 'rejected', code: 'wrong_chain', reason: `transaction is for chain ${tx.chainId}, not ${quote.chainId}` };
  }
  if (receipt.status !== 'success') return { outcome: 'rejected', code: 'reverted', reason: 'transaction reverted' };
  if (lower(tx.from) !== owner) {
    return { outcome: 'rejected', code: 'wrong_sender', reason: `transaction is from ${lower(tx.from)}, not the signed-in wallet ${owner}` };
  }
  if (!tx.to || lower(tx.to) !== quote.to) {
    return { outcome: 'rejected', code: 'wrong_recipient', reason: `transaction pays ${tx.to ? lower(tx.to) : 'a contract creation'}, not the merchant ${quote.to}` };
  }
  const required = BigInt(quote.amount);
  if (tx.value < required) {
    return { outcome: 'rejected', code: 'underpaid', reason: `transaction pays ${tx.value} wei; the quote asks ${required}` };
  }
  const block = await client.getBlock({ blockNumber: receipt.blockNumber });
  const blockTime = new Date(Number(block.timestamp) * 1000);
  // Block times have one-second resolution; the quote's creation time is truncated to match.
  if (blockTime.getTime() < Math.floor(Date.parse(quote.createdAt) / 1000) * 1000) {
    return { outcome: 'rejected', code: 'predates_quote', reason: `transaction was mined at ${blockTime.toISOString()}, before the quote was made` };
  }
  const head = await client.getBlockNumber({ cacheTime: 0 });
  const have = head >= receipt.blockNumber ? Number(head - receipt.blockNumber) + 1 : 0;
  if (have < confirmations) return { outcome: 'pending', reason: `${have} of ${confirmations} confirmations` };
  // A reorg may have dropped the payment's block since the receipt was read: check it is canonical.
  if (block.hash !== receipt.blockHash) return { outcome: 'pending', reason: 'payment block was reorganised away; waiting for it to be mined again' };
  const late = blockTime.getTime() > Date.parse(quote.expiresAt);
  return {
    outcome: 'confirmed',
    payment: {
      chainId: quote.chainId,
      txHash: lower(txHash),
      logIndex: null,
      from: lower(tx.from),
      to: lower(tx.to),
      token: null,
      amount: tx.value.toString(),
      blockNumber: receipt.blockNumber.toString(),
      blockTime: blockTime.toISOString(),
      status: late ? 'late' : tx.value > required ? 'overpaid' : 'paid',
    },
  };
}
