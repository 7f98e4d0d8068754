import type { Knex } from 'knex';
import { findPayment, markRefunded, PaymentNotFoundError, type PaymentView, RefundVerificationError } from './payments.js';

type Hex = `0x${string}`;

/** One log of a transaction receipt, as the node returns it. */
export interface RefundLog {
  address: Hex;
  topics: readonly Hex[];
  data: Hex;
}

/** What verifying a refund reads from the chain (packages/chain's `refundChainReader` wraps a viem client). */
export interface RefundChainReader {
  /** The chain the reader is connected to: a row of another chain cannot be verified here. */
  chainId: number;
  /** The receipt of a mined transaction, or null when the node knows no mined transaction by that hash. */
  receipt(txHash: Hex): Promise<{ status: 'success' | 'reverted'; blockNumber: bigint; logs: readonly RefundLog[] } | null>;
  /** A mined transaction's recipient (null: a contract creation) and native value. */
  transaction(txHash: Hex): Promise<{ to: Hex | null; value: bigint }>;
  /** The head's number. */
  blockNumber(): Promise<bigint>;
  /** Whether `address` signed `message` (EIP-191 for an account; ERC-1271 for a contract wallet such as a Safe). */
  verifyMessage(args: { address: Hex; message: string; signature: Hex }): Promise<boolean>;
}

export interface RefundPaymentDeps {
  db: Knex;
  chain: RefundChainReader;
  /** Blocks on top of (and including) the refund's block before it counts, as for payments. */
  confirmations: number;
}

export interface RefundPaymentInput {
  paymentId: number;
  /** The transaction that paid the money back. */
  txHash: string;
  /** Who records it: an admin's wallet, or `admin-token` / `cli:<user>`. */
  actor: string;
  note?: string | undefined;
  /**
   * Where the refund went, when neither the owner nor the row's named sender: then `signature` must
   * be the payer's signature of `refundAddressMessage` for it. Absent: the transaction must pay the
   * owner or the named sender.
   */
  to?: string | undefined;
  signature?: string | undefined;
}

export interface RefundPaymentResult {
  payment: PaymentView;
  /** Base units this refund paid back (of a repeated call: what the original one did). */
  refunded: string;
  /** The same refund was recorded before: nothing changed. */
  repeated: boolean;
}

/** ERC-20 `Transfer(address,address,uint256)`. */
const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef';

const lower = (address: string) => address.toLowerCase() as Hex;

/**
 * The text a payer signs (EIP-191 `personal_sign`) to have the refund of one ledger row sent to an
 * address of their choosing: it names the payment, the chain and the address, so a signature for one
 * refund cannot be replayed for another.
 */
export function refundAddressMessage(claim: { paymentId: number; chainId: number; address: string }): string {
  return `Reelboard refund\nSend the refund of payment ${claim.paymentId} on chain ${claim.chainId} to ${lower(claim.address)}.`;
}

/** Who may receive a row's refund without a signature: the quote's owner and the sender the row names. */
function defaultRecipients(payment: PaymentView): Hex[] {
  return [...new Set([payment.owner, payment.from].filter((address): address is string => address !== null).map(lower))];
}

/** The recipient this refund must pay: the one named (proven by the payer's signature unless a default), else any default one. */
async function recipientsOf(chain: RefundChainReader, payment: PaymentView, input: RefundPaymentInput): Promise<{ recipients: Hex[]; proof?: string }> {
  const defaults = defaultRecipients(payment);
  if (input.to === undefined) {
    if (defaults.length === 0)
      throw new RefundVerificationError(
        'refund_recipient_unproven',
        `payment ${payment.id} has no owner and no sender to refund; name the address with a signature`,
      );
    return { recipients: defaults };
  }
  const to = lower(input.to);
  if (defaults.includes(to)) return { recipients: [to] };
  if (!input.signature) {
    throw new RefundVerificationError(
      'refund_recipient_unproven',
      `${to} is neither the owner nor the sender of payment ${payment.id}; a refund goes there only with the payer's signature of the refund message`,
      { signMessage: refundAddressMessage({ paymentId: payment.id, chainId: payment.chainId, address: to }) },
    );
  }
  const message = refundAddressMessage({ paymentId: payment.id, chainId: payment.chainId, address: to });
  for (const signer of defaults) {
    if (await chain.verifyMessage({ address: signer, message, signature: input.signature as Hex })) return { recipients: [to], proof: input.signature };
  }
  throw new RefundVerificationError(
    'refund_recipient_unproven',
    `the signature is not by the owner or the sender of payment ${payment.id} over the refund message for ${to}`,
    {
      signMessage: message,
      signers: defaults.join(', '),
    },
  );
}

/** What the transaction paid each of `recipients` in the row's asset (native value, or the token's Transfer logs). */
async function paidTo(
  chain: RefundChainReader,
  payment: Pick<PaymentView, 'id' | 'token'>,
  txHash: Hex,
  logs: readonly RefundLog[],
  recipients: Hex[],
): Promise<{ recipient: Hex; amount: bigint }> {
  if (payment.token === null) {
    const tx = await chain.transaction(txHash);
    if (tx.value === 0n)
      throw new RefundVerificationError('refund_wrong_asset', `${txHash} sends no native coin; payment ${payment.id} was paid in the native coin`);
    const to = tx.to ? lower(tx.to) : null;
    // A refund sent through a contract (a Safe's internal call) shows no such transfer: send it directly.
    if (!to || !recipients.includes(to)) {
      throw new RefundVerificationError('refund_wrong_recipient', `${txHash} pays ${to ?? 'a contract creation'}, not ${recipients.join(' or ')}`, {
        paidTo: to ?? '',
        expected: recipients.join(', '),
      });
    }
    return { recipient: to, amount: tx.value };
  }
  const token = lower(payment.token);
  const transfers = logs.filter((log) => lower(log.address) === token && log.topics[0] === TRANSFER_TOPIC && log.topics.length === 3);
  if (transfers.length === 0)
    throw new RefundVerificationError('refund_wrong_asset', `${txHash} moves none of token ${token}, the asset of payment ${payment.id}`);
  const byRecipient = new Map<Hex, bigint>();
  for (const log of transfers) {
    const to = lower(`0x${(log.topics[2] ?? '').slice(-40)}`);
    byRecipient.set(to, (byRecipient.get(to) ?? 0n) + BigInt(log.data === '0x' ? 0 : log.data));
  }
  const paid = recipients.map((recipient) => ({ recipient, amount: byRecipient.get(recipient) ?? 0n })).sort((a, b) => (b.amount > a.amount ? 1 : -1))[0];
  if (!paid || paid.amount === 0n) {
    throw new RefundVerificationError(
      'refund_wrong_recipient',
      `${txHash} transfers ${token} to ${[...byRecipient.keys()].join(', ')}, not ${recipients.join(' or ')}`,
      {
        paidTo: [...byRecipient.keys()].join(', '),
        expected: recipients.join(', '),
      },
    );
  }
  return paid;
}

/**
 * Records that what a ledger row had due back was refunded by `txHash`, once the chain shows it: the
 * transaction is mined, succeeded and has the configured confirmations; it pays the row's asset (the
 * native value, or the token's Transfer log) to the owner, the row's named sender, or an address the
 * payer proved with a signature of `refundAddressMessage`; and it pays at least what is due. A hash
 * refunds one row once. The same refund recorded again answers `repeated: true` without reading the
 * chain; anything else wrong is a RefundVerificationError and the ledger is left as it was.
 */
export async function refundPayment(deps: RefundPaymentDeps, input: RefundPaymentInput): Promise<RefundPaymentResult> {
  const { db, chain } = deps;
  const txHash = lower(input.txHash);
  const payment = await findPayment(db, input.paymentId);
  if (!payment) throw new PaymentNotFoundError(input.paymentId);
  const record = { paymentId: input.paymentId, txHash, actor: input.actor, note: input.note };
  // Nothing due (a repeat of this refund, or a conflict): the ledger says which, no chain read needed.
  if (BigInt(payment.refundDue) === 0n) return markRefunded(db, record);
  if (payment.chainId !== chain.chainId) {
    throw new RefundVerificationError('refund_wrong_chain', `payment ${payment.id} is on chain ${payment.chainId}; this service reads chain ${chain.chainId}`);
  }
  const { recipients, proof } = await recipientsOf(chain, payment, input);
  const receipt = await chain.receipt(txHash);
  if (!receipt) throw new RefundVerificationError('refund_tx_not_found', `the chain shows no mined transaction ${txHash}; record the refund once it is mined`);
  if (receipt.status !== 'success') throw new RefundVerificationError('refund_tx_reverted', `${txHash} reverted: it paid nothing back`);
  const confirmations = Number((await chain.blockNumber()) - receipt.blockNumber + 1n);
  if (confirmations < deps.confirmations) {
    throw new RefundVerificationError(
      'refund_tx_unconfirmed',
      `${txHash} has ${confirmations} of the ${deps.confirmations} confirmations a refund needs; try again shortly`,
      {
        confirmations,
        required: deps.confirmations,
      },
    );
  }
  const paid = await paidTo(chain, payment, txHash, receipt.logs, recipients);
  if (paid.amount < BigInt(payment.refundDue)) {
    throw new RefundVerificationError(
      'refund_amount_short',
      `${txHash} paid ${paid.amount} base units to ${paid.recipient}, less than the ${payment.refundDue} due on payment ${payment.id}`,
      {
        paid: paid.amount.toString(),
        due: payment.refundDue,
      },
    );
  }
  return markRefunded(db, { ...record, recipient: paid.recipient, recipientSignature: proof, paid: paid.amount.toString() });
}

/** A refund as recorded, to be checked again against the chain (reconciliation's ledger -> chain half). */
export interface RecordedRefund {
  paymentId: number;
  token: string | null;
  txHash: string;
  /** What it was recorded as paying back (base units). */
  amount: string;
  /** Who it may have paid: the verified recipient, or (recorded before verification) the owner and the row's sender. */
  recipients: string[];
}

/**
 * Whether a recorded refund still stands on chain, with the checks `refundPayment` made when it was
 * recorded (mined, successful, the row's asset, to the recipient, covering the amount); the
 * confirmations aside, since the chain is read at the reconciler's confirmed height. Returns what is
 * wrong, or null. A reorg can drop a refund after it was recorded: then the row's money is due again.
 */
export async function recordedRefundProblem(chain: RefundChainReader, refund: RecordedRefund): Promise<string | null> {
  const txHash = lower(refund.txHash);
  const receipt = await chain.receipt(txHash);
  if (!receipt) return `the chain shows no mined transaction ${txHash}`;
  if (receipt.status !== 'success') return `${txHash} reverted: it paid nothing back`;
  try {
    const paid = await paidTo(chain, { id: refund.paymentId, token: refund.token }, txHash, receipt.logs, [...new Set(refund.recipients.map(lower))]);
    if (paid.amount < BigInt(refund.amount)) return `${txHash} paid ${paid.amount} base units to ${paid.recipient}, less than the ${refund.amount} recorded`;
    return null;
  } catch (error) {
    if (error instanceof RefundVerificationError) return error.message;
    throw error;
  }
}
