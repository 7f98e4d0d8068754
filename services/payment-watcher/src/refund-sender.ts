import {
  createWalletClient,
  encodeFunctionData,
  erc20Abi,
  formatUnits,
  type Hex,
  keccak256,
  type PublicClient,
  TransactionNotFoundError,
  TransactionReceiptNotFoundError,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createNonceManager, jsonRpc } from 'viem/nonce';
import { chainFor, chainTransport, refundChainReader } from '@reelboard/chain';
import type { ChainSetting } from '@reelboard/config';
import {
  autoApproveRefunds,
  cancelRefundSend,
  findPayment,
  type Knex,
  type OpenRefundSend,
  openRefundSends,
  RefundConflictError,
  type RefundPaymentResult,
  RefundVerificationError,
  recordRefundSendFailure,
  recordRefundSending,
  recordRefundSendWaiting,
  recordRefundSent,
  refundPayment,
  refundsSentInLastDay,
} from '@reelboard/db';
import type { Logger } from '@reelboard/logger';
import { countRefundSendFailure, countRefundSent, setRefundsHeldByLimit, setRefundWalletBalance } from './metrics.js';
import { assetOf, chainAssets } from './refund-config.js';
import type { ScanLock } from './scan-lock.js';

/** Who the ledger says recorded a refund the wallet sent. */
export const REFUND_WALLET_ACTOR = 'refund-wallet';

export interface RefundSenderDeps {
  db: Knex;
  chain: PublicClient;
  /** The chain's settings: its id, endpoints, confirmations and assets. */
  setting: Pick<ChainSetting, 'id' | 'name' | 'rpcUrls' | 'confirmations' | 'native' | 'tokens'> & {
    /** As for payments: `depth` (`confirmations` blocks, the default) or the node's `safe` / `finalized` block. */
    confirmationPolicy?: ChainSetting['confirmationPolicy'] | undefined;
  };
  privateKey: Hex;
  /** No refund is sent while its max fee per gas would be above this (wei). */
  maxFeePerGas?: bigint | undefined;
  /** The most sent per asset (token address or `native`) in any 24 hours, base units; an asset absent: no limit. */
  dailyLimits: ReadonlyMap<string, bigint>;
  /** Overpayment excess and late payments up to this (per asset, base units) are approved by policy. */
  autoApprove: ReadonlyMap<string, bigint>;
  /** One sender per chain at a time (two would race each other's nonces); absent: the caller holds it. */
  lock?: ScanLock | undefined;
  /** Tells the upload's owner (the lifecycle) once a refund is recorded. */
  onRefunded?: ((outcome: RefundPaymentResult) => Promise<void>) | undefined;
  log: Logger;
  /** Tests only: runs after a send is recorded `sending` and before it is broadcast (a crash there is what restart must survive). */
  beforeBroadcast?: ((send: { id: number; txHash: Hex }) => Promise<void>) | undefined;
}

/** What one round did, for the operators' command and the tests. */
export interface RefundRoundReport {
  approved: number;
  sent: { id: number; paymentId: number; txHash: Hex }[];
  confirmed: { id: number; paymentId: number; txHash: string }[];
  failed: { id: number; paymentId: number; reason: string; error: string }[];
  waiting: { id: number; paymentId: number; reason: string }[];
}

/** Why a send paid nothing: the metric's `reason` label. */
type FailureReason = 'insufficient_funds' | 'reverted' | 'broadcast_failed' | 'nonce_taken' | 'verification_failed';

class SendFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? ((error as { shortMessage?: string }).shortMessage ?? error.message) : String(error));

/**
 * Pays approved refunds from the refund wallet on one chain, in the quote's asset, and follows each to
 * confirmation. Crash-safe: each transaction is signed, then recorded `sending` with its hash, nonce and
 * bytes, and only then broadcast; a `sending` row found later is followed by its hash (and broadcast again
 * with the same bytes if the network lost it), never signed anew, so no refund is paid twice. Once
 * confirmed, the ledger records it through the same verification as a refund recorded by hand.
 */
export class RefundSender {
  private readonly account;
  private readonly wallet;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly deps: RefundSenderDeps) {
    const { setting, privateKey } = deps;
    // A manager of its own: the default one is shared by every account of the process.
    this.account = privateKeyToAccount(privateKey, { nonceManager: createNonceManager({ source: jsonRpc() }) });
    const config = { rpcUrls: setting.rpcUrls, chainId: setting.id };
    this.wallet = createWalletClient({ account: this.account, chain: chainFor(config), transport: chainTransport(config) });
  }

  get address(): Hex {
    return this.account.address;
  }

  /** One round if this replica holds the chain's lease (undefined: another replica sends). */
  async sendOnce(): Promise<RefundRoundReport | undefined> {
    const { db, setting, lock } = this.deps;
    if (lock && !(await lock.acquire())) return undefined;
    const report: RefundRoundReport = { approved: 0, sent: [], confirmed: [], failed: [], waiting: [] };
    report.approved = (await autoApproveRefunds(db, setting.id, this.deps.autoApprove)).length;
    await this.reportBalances();
    const held = new Map<string, number>();
    let gasTooHigh: string | undefined;
    for (const send of await openRefundSends(db, setting.id)) {
      if (send.state === 'sending') {
        await this.follow(send, report);
        continue;
      }
      const wait = gasTooHigh ?? (await this.waitReason(send));
      if (wait) {
        if (wait.startsWith('daily limit')) held.set(send.token ?? 'native', (held.get(send.token ?? 'native') ?? 0) + 1);
        if (wait.startsWith('gas')) gasTooHigh = wait;
        await recordRefundSendWaiting(db, send.id, wait);
        report.waiting.push({ id: send.id, paymentId: send.paymentId, reason: wait });
        continue;
      }
      await this.send(send, report);
    }
    for (const asset of chainAssets(setting)) setRefundsHeldByLimit(setting.id, asset.symbol, held.get(asset.token ?? 'native') ?? 0);
    return report;
  }

  /** The wallet's balance of each asset of the chain, for the low-balance alert. */
  private async reportBalances(): Promise<void> {
    const { chain, setting, log } = this.deps;
    try {
      for (const asset of chainAssets(setting)) {
        const balance =
          asset.token === null
            ? await chain.getBalance({ address: this.address })
            : await chain.readContract({ address: asset.token, abi: erc20Abi, functionName: 'balanceOf', args: [this.address] });
        setRefundWalletBalance(setting.id, asset.symbol, Number(formatUnits(balance, asset.decimals)));
      }
    } catch (error) {
      log.warn('refund wallet balance not read', { chainId: setting.id, error: messageOf(error) });
    }
  }

  /** Why an approved refund waits this round (the daily limit, the gas cap), or undefined. */
  private async waitReason(send: OpenRefundSend): Promise<string | undefined> {
    const { db, chain, setting, dailyLimits, maxFeePerGas } = this.deps;
    const limit = dailyLimits.get(send.token ?? 'native');
    if (limit !== undefined) {
      const sent = await refundsSentInLastDay(db, setting.id, send.token);
      if (sent + BigInt(send.amount) > limit) {
        const asset = assetOf(setting, send.token);
        return `daily limit: ${formatUnits(sent, asset.decimals)} ${asset.symbol} sent in the last 24 h, ${formatUnits(BigInt(send.amount), asset.decimals)} more would pass the limit of ${formatUnits(limit, asset.decimals)}`;
      }
    }
    if (maxFeePerGas !== undefined) {
      const fees = await chain.estimateFeesPerGas();
      if (fees.maxFeePerGas > maxFeePerGas)
        return `gas: a send needs a max fee of ${fees.maxFeePerGas} wei per gas, above REFUND_MAX_FEE_PER_GAS ${maxFeePerGas}`;
    }
    return undefined;
  }

  /** Signs an approved refund, records it `sending`, then broadcasts it. */
  private async send(send: OpenRefundSend, report: RefundRoundReport): Promise<void> {
    const { db, chain, setting, log } = this.deps;
    const payment = await findPayment(db, send.paymentId);
    const due = BigInt(payment?.refundDue ?? '0');
    if (!payment || due === 0n) {
      await cancelRefundSend(db, send.id, `nothing is due on payment ${send.paymentId} any more (refunded by hand?)`);
      return;
    }
    const recipient = send.recipient as Hex;
    const request =
      send.token === null
        ? { to: recipient, value: due }
        : { to: send.token as Hex, data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [recipient, due] }) };
    let prepared;
    try {
      // The wallet running dry is named plainly, before the node's estimate fails with its own words.
      if (send.token !== null) {
        const held = await chain.readContract({ address: send.token as Hex, abi: erc20Abi, functionName: 'balanceOf', args: [this.address] });
        if (held < due)
          throw new SendFailure('insufficient_funds', `the refund wallet ${this.address} holds ${held} of ${send.token}, less than the ${due} due`);
      }
      prepared = await this.wallet.prepareTransactionRequest({ ...request, account: this.account, chain: this.wallet.chain });
      const cost = (send.token === null ? due : 0n) + prepared.gas * (prepared.maxFeePerGas ?? prepared.gasPrice ?? 0n);
      const balance = await chain.getBalance({ address: this.address });
      if (balance < cost)
        throw new SendFailure(
          'insufficient_funds',
          `the refund wallet ${this.address} holds ${balance} wei, less than the ${cost} wei this refund and its gas need`,
        );
    } catch (error) {
      if (prepared) this.account.nonceManager?.reset({ address: this.address, chainId: setting.id });
      const failure =
        error instanceof SendFailure
          ? error
          : new SendFailure(/insufficient funds|exceeds balance/i.test(messageOf(error)) ? 'insufficient_funds' : 'broadcast_failed', messageOf(error));
      await this.fail(send, failure, true, report);
      return;
    }
    const rawTx = await this.wallet.signTransaction(prepared);
    const txHash = keccak256(rawTx);
    const recorded = await recordRefundSending(db, { id: send.id, from: this.address, nonce: prepared.nonce, txHash, rawTx, amount: due.toString() });
    if (!recorded) {
      this.account.nonceManager?.reset({ address: this.address, chainId: setting.id });
      return;
    }
    await this.deps.beforeBroadcast?.({ id: send.id, txHash });
    try {
      await chain.sendRawTransaction({ serializedTransaction: rawTx });
    } catch (error) {
      // The node may have taken it before failing to answer: only a transaction it does not know failed.
      if (await this.known(txHash)) {
        report.sent.push({ id: send.id, paymentId: send.paymentId, txHash });
        return;
      }
      this.account.nonceManager?.reset({ address: this.address, chainId: setting.id });
      const reason: FailureReason = /insufficient funds/i.test(messageOf(error)) ? 'insufficient_funds' : 'broadcast_failed';
      await this.fail(send, new SendFailure(reason, messageOf(error)), true, report);
      return;
    }
    log.info('refund sent', {
      chainId: setting.id,
      refundSend: send.id,
      paymentId: send.paymentId,
      txHash,
      to: recipient,
      amount: due.toString(),
      token: send.token,
    });
    report.sent.push({ id: send.id, paymentId: send.paymentId, txHash });
  }

  private async known(txHash: Hex): Promise<boolean> {
    try {
      await this.deps.chain.getTransaction({ hash: txHash });
      return true;
    } catch (error) {
      if (error instanceof TransactionNotFoundError) return false;
      throw error;
    }
  }

  /**
   * A `sending` row: confirmed and recorded, still on its way, reverted, or lost. A lost transaction whose
   * nonce is still free is broadcast again from its recorded bytes (the same hash); one whose nonce went
   * to another transaction paid nothing, so the row is approved again.
   */
  private async follow(send: OpenRefundSend, report: RefundRoundReport): Promise<void> {
    const { db, chain, setting, log } = this.deps;
    const txHash = send.txHash as Hex;
    let receipt;
    try {
      receipt = await chain.getTransactionReceipt({ hash: txHash });
    } catch (error) {
      if (!(error instanceof TransactionReceiptNotFoundError)) throw error;
    }
    if (receipt) {
      if (receipt.status !== 'success') {
        await this.fail(send, new SendFailure('reverted', `${txHash} reverted on chain: it paid nothing back`), false, report);
        return;
      }
      // A refund counts when a payment in its block would: the chain's own confirmation policy.
      const policy = setting.confirmationPolicy ?? 'depth';
      if (policy === 'depth') {
        const confirmations = Number((await chain.getBlockNumber({ cacheTime: 0 })) - receipt.blockNumber + 1n);
        if (confirmations < setting.confirmations) return;
      } else if ((await chain.getBlock({ blockTag: policy })).number < receipt.blockNumber) return;
      let outcome: RefundPaymentResult;
      try {
        outcome = await refundPayment(
          { db, chain: refundChainReader(chain, setting.id), confirmations: policy === 'depth' ? setting.confirmations : 1 },
          { paymentId: send.paymentId, txHash, actor: REFUND_WALLET_ACTOR, to: send.recipient, note: `refund send ${send.id}` },
        );
      } catch (error) {
        if (error instanceof RefundVerificationError || error instanceof RefundConflictError) {
          await this.fail(send, new SendFailure('verification_failed', `${txHash} confirmed but was not recorded: ${error.message}`), false, report);
          return;
        }
        throw error;
      }
      await recordRefundSent(db, send.id);
      countRefundSent(setting.id, assetOf(setting, send.token).symbol);
      log.info('refund confirmed and recorded', { chainId: setting.id, refundSend: send.id, paymentId: send.paymentId, txHash, amount: outcome.refunded });
      report.confirmed.push({ id: send.id, paymentId: send.paymentId, txHash });
      await this.deps.onRefunded?.(outcome);
      return;
    }
    if (await this.known(txHash)) return;
    const mined = await chain.getTransactionCount({ address: send.from as Hex, blockTag: 'latest' });
    if (send.nonce !== null && mined > send.nonce) {
      await this.fail(send, new SendFailure('nonce_taken', `nonce ${send.nonce} was used by another transaction; ${txHash} never ran`), true, report);
      return;
    }
    try {
      await chain.sendRawTransaction({ serializedTransaction: send.rawTx as Hex });
      log.warn('refund transaction the network did not know was broadcast again from its recorded bytes', { chainId: setting.id, refundSend: send.id, txHash });
      report.sent.push({ id: send.id, paymentId: send.paymentId, txHash });
    } catch (error) {
      if (await this.known(txHash)) return;
      const reason: FailureReason = /insufficient funds/i.test(messageOf(error)) ? 'insufficient_funds' : 'broadcast_failed';
      await this.fail(send, new SendFailure(reason, messageOf(error)), true, report);
    }
  }

  private async fail(send: OpenRefundSend, failure: SendFailure, retry: boolean, report: RefundRoundReport): Promise<void> {
    const { db, setting, log } = this.deps;
    await recordRefundSendFailure(db, send.id, { error: failure.message, retry });
    countRefundSendFailure(setting.id, failure.reason);
    log.warn(retry ? 'refund not sent; it stays due and is tried again' : 'refund failed; it stays due until an admin approves it again', {
      chainId: setting.id,
      refundSend: send.id,
      paymentId: send.paymentId,
      reason: failure.reason,
      error: failure.message,
    });
    report.failed.push({ id: send.id, paymentId: send.paymentId, reason: failure.reason, error: failure.message });
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sendOnce()
        .catch((error: unknown) => this.deps.log.warn('refund round failed; will retry', { chainId: this.deps.setting.id, error: messageOf(error) }))
        .finally(() => {
          this.running = undefined;
        });
    }, intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.deps.lock?.release();
  }
}
