import type { PublicClient } from 'viem';
import type { Bus } from '@reelboard/bus';
import { findIncomingTransfers, type IncomingTransfer } from '@reelboard/chain';
import type { UploadReceived } from '@reelboard/contracts';
import type { Logger } from '@reelboard/logger';
import { EXPIRED_CLAIM, type PaymentLedger } from './payment-ledger.js';
import type { ScanLock } from './scan-lock.js';

type Address = `0x${string}`;

export interface MerchantWatcherDeps {
  bus: Bus;
  chain: PublicClient;
  ledger: PaymentLedger;
  lock: ScanLock;
  log: Logger;
  chainId: number;
  merchant: Address;
  /** The configured ERC-20 token, whose Transfer logs to the merchant are followed too. */
  token: Address | null;
  /** Blocks re-read behind the cursor on every pass, so a transfer re-mined by a shallow reorg is still seen. */
  overlapBlocks: number;
  /** Where a first start begins: this many blocks behind the head. */
  startBehind: number;
  /** Most blocks read in one pass, so a long catch-up does not hold the lease for minutes. */
  maxBlocksPerPass: number;
}

/**
 * Picks the upload a payment found on chain is for, among its sender's uploads: open ones in the
 * payment's currency first (the oldest whose price it covers, else the oldest: an underpayment),
 * then, for a payment after every quote expired, the most recently expired one (a late payment,
 * recorded for refund). Uploads already paid, or with a payment in flight, are skipped.
 */
export async function matchTransfer(
  deps: Pick<MerchantWatcherDeps, 'bus' | 'ledger'>,
  transfer: IncomingTransfer,
  blockTimeMs: number,
): Promise<{ uploadId: string } | { alreadyFor: string } | undefined> {
  const candidates: { upload: UploadReceived; expiresAt: number }[] = [];
  for (const { uploadId, expiresAt } of await deps.ledger.openUploadsOf(transfer.from)) {
    const claim = await deps.ledger.paidBy(uploadId);
    // The client already submitted this very transaction for one of its uploads.
    if (claim === transfer.txHash || (await deps.ledger.isInFlight(uploadId, transfer.txHash))) return { alreadyFor: uploadId };
    if (claim !== undefined && claim !== EXPIRED_CLAIM) continue;
    if ((await deps.ledger.inFlightCount(uploadId)) > 0) continue;
    const upload = await deps.bus.status.getUpload(uploadId);
    if (upload && upload.quote.token === transfer.token) candidates.push({ upload, expiresAt });
  }
  const inTime = candidates.filter((c) => c.expiresAt >= blockTimeMs && Date.parse(c.upload.quote.createdAt) <= blockTimeMs + 1000).sort((a, b) => a.expiresAt - b.expiresAt);
  const covered = inTime.find((c) => BigInt(c.upload.quote.amount) <= transfer.value);
  const chosen = covered ?? inTime[0] ?? candidates.filter((c) => c.expiresAt < blockTimeMs).sort((a, b) => b.expiresAt - a.expiresAt)[0];
  return chosen && { uploadId: chosen.upload.uploadId };
}

/**
 * Follows new blocks for payments to the merchant, so an upload whose tab closed after paying is
 * still found. Each match is handed to `payment.submitted`, where it is verified like a hash the
 * client sent. One replica scans at a time (the lock); the cursor in Redis survives restarts.
 */
export class MerchantWatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: MerchantWatcherDeps) {}

  /** One pass: if this replica holds the lease, scans from the cursor to the head. Returns blocks scanned. */
  async scanOnce(): Promise<number> {
    const { chain, ledger, lock, merchant, token } = this.deps;
    if (!(await lock.acquire())) return 0;
    const headReadAt = Date.now();
    const head = await chain.getBlockNumber({ cacheTime: 0 });
    const cursor = await ledger.scanCursor();
    const start = cursor ? cursor.block + 1n : head - BigInt(Math.min(this.deps.startBehind, Number(head)));
    const fromBlock = start - BigInt(Math.min(this.deps.overlapBlocks, Number(start)));
    const toBlock = head < start + BigInt(this.deps.maxBlocksPerPass) - 1n ? head : start + BigInt(this.deps.maxBlocksPerPass) - 1n;
    if (toBlock < fromBlock) {
      await ledger.saveScanCursor(head, headReadAt);
      return 0;
    }
    const transfers = await findIncomingTransfers(chain, { merchant, token, fromBlock, toBlock });
    const blockTimes = new Map<bigint, number>();
    for (const transfer of transfers) {
      if (!blockTimes.has(transfer.blockNumber)) {
        blockTimes.set(transfer.blockNumber, Number((await chain.getBlock({ blockNumber: transfer.blockNumber })).timestamp) * 1000);
      }
      await this.dispatch(transfer, blockTimes.get(transfer.blockNumber) ?? Date.now());
    }
    // Only a pass that reached the head covers everything mined up to when the head was read.
    await ledger.saveScanCursor(toBlock, toBlock === head ? headReadAt : (cursor?.headReadAt ?? 0));
    return Number(toBlock - fromBlock) + 1;
  }

  private async dispatch(transfer: IncomingTransfer, blockTimeMs: number): Promise<void> {
    const { bus, ledger, log, chainId } = this.deps;
    if (!(await ledger.claimFound(chainId, transfer.txHash, transfer.token))) return;
    try {
      const match = await matchTransfer(this.deps, transfer, blockTimeMs);
      if (!match) {
        log.warn('payment to the merchant matches no upload', { txHash: transfer.txHash, from: transfer.from, value: transfer.value.toString(), token: transfer.token });
        return;
      }
      if ('alreadyFor' in match) {
        log.info('payment found on chain is already being verified', { uploadId: match.alreadyFor, txHash: transfer.txHash });
        return;
      }
      const { uploadId } = match;
      // In flight before it is queued: the upload's expiry waits for the verdict.
      await ledger.addInFlight(uploadId, transfer.txHash);
      await bus.publish('payment.submitted', { uploadId, txHash: transfer.txHash });
      log.info('payment found on chain', { uploadId, txHash: transfer.txHash, block: transfer.blockNumber.toString() });
    } catch (error) {
      // Not handed on: let the next pass (which re-reads overlapping blocks) try again.
      await ledger.releaseFound(chainId, transfer.txHash, transfer.token);
      throw error;
    }
  }

  /** Scans every `intervalMs` until stopped; a failed pass is logged and tried again. */
  start(intervalMs: number): void {
    const loop = async () => {
      if (this.stopped) return;
      this.running = this.scanOnce().then(
        () => undefined,
        (error: unknown) => {
          this.deps.log.warn('block scan failed; will retry', { error: error instanceof Error ? error.message : String(error) });
        },
      );
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), intervalMs);
    };
    void loop();
  }

  /** Stops scanning, waits for a running pass and gives up the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.deps.lock.release();
  }
}
