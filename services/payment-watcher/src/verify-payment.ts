import { TransactionNotFoundError, TransactionReceiptNotFoundError, type Hash, type PublicClient, type Transaction, type TransactionReceipt } from 'viem';
import { decodeTransfers } from '@reelboard/chain';
import type { Payment, PaymentStatus, UploadReceived } from '@reelboard/contracts';

type Address = `0x${string}`;

export interface VerifyPaymentParameters {
  /** The upload being paid for: its owner and its quote. */
  upload: Pick<UploadReceived, 'owner' | 'quote'>;
  txHash: Hash;
  /** The chain the watcher is configured for (checked against the RPC at start). */
  chainId: number;
  /** Confirmations required, counting the payment's own block. */
  confirmations: number;
}

/** Why a transaction does not pay for an upload; each check has its own. */
export type RejectionCode =
  | 'wrong_chain'
  | 'reverted'
  | 'wrong_sender'
  | 'wrong_recipient'
  | 'wrong_token'
  | 'predates_quote';

/** Why a transaction cannot be decided yet. */
export type PendingCode = 'not_seen' | 'not_mined' | 'confirming' | 'reorganised';

export type VerifyPaymentReturnType =
  /** Mined, buried and judged: `payment.status` says whether it fulfils the quote (paid, overpaid) or not (partial, late). */
  | { outcome: 'confirmed'; payment: Payment }
  | { outcome: 'rejected'; code: RejectionCode; reason: string }
  | {
      outcome: 'pending';
      code: PendingCode;
      reason: string;
      /** Sender and nonce of a transaction seen but not mined, to recognise its replacement later. */
      seen?: { from: Address; nonce: number };
      /** Block time of a mined transaction waiting for confirmations. */
      blockTime?: Date;
    };

const lower = (value: string) => value.toLowerCase() as Address;

/** What a transaction moved to the merchant, in the quote's currency. */
interface Transferred {
  amount: bigint;
  /** The first counted Transfer log's index; null for a native payment. */
  logIndex: number | null;
}

/** Reads the transaction and its receipt; undefined fields mean "not seen" or "not mined" yet. */
async function readTransaction(client: PublicClient, hash: Hash): Promise<{ tx?: Transaction; receipt?: TransactionReceipt }> {
  let tx: Transaction;
  try {
    tx = await client.getTransaction({ hash });
  } catch (error) {
    if (error instanceof TransactionNotFoundError) return {};
    throw error;
  }
  try {
    return { tx, receipt: await client.getTransactionReceipt({ hash }) };
  } catch (error) {
    if (error instanceof TransactionReceiptNotFoundError) return { tx };
    throw error;
  }
}

/**
 * Native: the transaction's own `to` and `value`. ERC-20: the receipt's Transfer logs emitted by
 * the configured token contract, from the owner to the merchant; a look-alike contract's are ignored.
 */
function transferredToMerchant(
  tx: Transaction,
  receipt: TransactionReceipt,
  { owner, merchant, token }: { owner: Address; merchant: Address; token: Address | null },
): Transferred | { code: RejectionCode; reason: string } {
  if (token === null) {
    if (!tx.to || lower(tx.to) !== merchant) {
      return { code: 'wrong_recipient', reason: `transaction pays ${tx.to ? lower(tx.to) : 'a contract creation'}, not the merchant ${merchant}` };
    }
    return { amount: tx.value, logIndex: null };
  }
  const transfers = decodeTransfers(receipt.logs);
  const counted = transfers.filter((t) => t.token === token && t.from === owner && t.to === merchant);
  if (counted.length > 0) return { amount: counted.reduce((sum, t) => sum + t.value, 0n), logIndex: Math.min(...counted.map((t) => t.logIndex)) };
  if (transfers.some((t) => t.token === token && t.from === owner)) {
    const elsewhere = transfers.find((t) => t.token === token && t.from === owner)?.to;
    return { code: 'wrong_recipient', reason: `token transfer goes to ${elsewhere}, not the merchant ${merchant}` };
  }
  const lookAlike = transfers.find((t) => t.to === merchant);
  if (lookAlike) return { code: 'wrong_token', reason: `Transfer was emitted by ${lookAlike.token}, not the token ${token}` };
  return { code: 'wrong_recipient', reason: `transaction moves no ${token} from ${owner} to the merchant ${merchant}` };
}

/** Fulfils the quote, or why not: late beats everything (it is refunded whatever the amount). */
function classify(amount: bigint, required: bigint, blockTime: Date, expiresAt: string): PaymentStatus {
  if (blockTime.getTime() > Date.parse(expiresAt)) return 'late';
  if (amount < required) return 'partial';
  return amount > required ? 'overpaid' : 'paid';
}

/**
 * Decides on chain whether `txHash` pays for `upload`: the configured chain, a successful
 * receipt, sent by the owner, moving the quoted currency to the merchant, mined after the quote
 * was made, and buried under enough confirmations on the canonical chain. An underpaid or late
 * payment is still `confirmed` (with status `partial` or `late`): it is real money to account for.
 */
export async function verifyPayment(client: PublicClient, { upload, txHash, chainId, confirmations }: VerifyPaymentParameters): Promise<VerifyPaymentReturnType> {
  const { quote, owner } = upload;
  if (quote.chainId !== chainId) {
    return { outcome: 'rejected', code: 'wrong_chain', reason: `quote is for chain ${quote.chainId}; this watcher verifies chain ${chainId}` };
  }
  const { tx, receipt } = await readTransaction(client, txHash);
  if (!tx) return { outcome: 'pending', code: 'not_seen', reason: 'transaction not seen by the node yet' };
  if (tx.chainId !== undefined && tx.chainId !== chainId) {
    return { outcome: 'rejected', code: 'wrong_chain', reason: `transaction is signed for chain ${tx.chainId}, not ${chainId}` };
  }
  if (!receipt) return { outcome: 'pending', code: 'not_mined', reason: 'transaction not mined yet', seen: { from: lower(tx.from), nonce: tx.nonce } };
  if (receipt.status !== 'success') return { outcome: 'rejected', code: 'reverted', reason: 'transaction reverted' };
  if (lower(tx.from) !== owner) {
    return { outcome: 'rejected', code: 'wrong_sender', reason: `transaction is from ${lower(tx.from)}, not the signed-in wallet ${owner}` };
  }
  const transferred = transferredToMerchant(tx, receipt, { owner, merchant: quote.to, token: quote.token });
  if ('code' in transferred) return { outcome: 'rejected', ...transferred };

  const block = await client.getBlock({ blockNumber: receipt.blockNumber });
  const blockTime = new Date(Number(block.timestamp) * 1000);
  // Block times have one-second resolution; the quote's creation time is truncated to match.
  if (blockTime.getTime() < Math.floor(Date.parse(quote.createdAt) / 1000) * 1000) {
    return { outcome: 'rejected', code: 'predates_quote', reason: `transaction was mined at ${blockTime.toISOString()}, before the quote was made` };
  }
  const head = await client.getBlockNumber({ cacheTime: 0 });
  const have = head >= receipt.blockNumber ? Number(head - receipt.blockNumber) + 1 : 0;
  if (have < confirmations) return { outcome: 'pending', code: 'confirming', reason: `${have} of ${confirmations} confirmations`, blockTime };
  // A reorg may have dropped the payment's block since the receipt was read: check it is canonical.
  if (block.hash !== receipt.blockHash) {
    return { outcome: 'pending', code: 'reorganised', reason: 'payment block was reorganised away; waiting for it to be mined again' };
  }
  return {
    outcome: 'confirmed',
    payment: {
      chainId,
      txHash: lower(txHash),
      logIndex: transferred.logIndex,
      from: lower(tx.from),
      to: quote.to,
      token: quote.token,
      amount: transferred.amount.toString(),
      blockNumber: receipt.blockNumber.toString(),
      blockTime: blockTime.toISOString(),
      status: classify(transferred.amount, BigInt(quote.amount), blockTime, quote.expiresAt),
    },
  };
}
