import type { Log, PublicClient } from 'viem';
import type { Bus } from '@reelboard/bus';
import { type DepositSettings, decodeTransfers, erc20TransferEvent, readBalances, readSweeps, successfulOnly } from '@reelboard/chain';
import type { CreditStatus, CreditTransfer, Payment, StatusCodeOf } from '@reelboard/contracts';
import type { QuoteAssetToWatch, QuoteToWatch } from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';
import type { Logger } from '@reelboard/logger';
import { type ConfirmationPolicy, confirmedHeight } from './confirmed-height.js';
import { judgeCredit } from './judge-credit.js';
import { countCredit, countReorg, countReversal, scanLag } from './metrics.js';
import { LeaseLostError, type ScanLock } from './scan-lock.js';
import { type ChainAsset, creditKeyOf, type MerchantSeen, merchantKey, type WatchedQuote, type WatchList, watchKeyOf } from './watch-list.js';

type Address = `0x${string}`;
type Hash = `0x${string}`;
const STAGE = 'payment-watcher';

export type { ConfirmationPolicy } from './confirmed-height.js';

/** A reorg that replaced blocks the passes had read: the common ancestor, and the last block read on the lost branch. */
export interface Reorg {
  ancestor: bigint;
  replacedTo: bigint;
}

export interface DepositWatcherDeps {
  bus: Bus;
  uploads: Uploads;
  watchList: WatchList;
  /** A client whose transport batches requests (balances of every watched address go in a few batches). */
  chain: PublicClient;
  lock: ScanLock;
  log: Logger;
  chainId: number;
  /** The merchant and the quoted token: what every deposit address is bound to. */
  deposits: DepositSettings;
  /** A shortfall accepted as paid, in basis points of the quote (PAYMENT_TOLERANCE_BPS); 0 or unset: none. */
  toleranceBps?: number | undefined;
  /** Blocks on top of (and including) a credit's block before it counts (policy `depth`). */
  confirmations: number;
  /** When a block counts: `depth` (`confirmations` blocks on top), or the node's `safe` / `finalized` block. */
  confirmationPolicy?: ConfirmationPolicy | undefined;
  /** Hashes of recent blocks read kept to find the common ancestor after a reorg. */
  hashesKept?: number | undefined;
  /** Where a first start begins: this many blocks behind the confirmed head. */
  startBehind: number;
  /** Most blocks settled in one pass, so a long catch-up does not hold the lease for minutes. */
  maxBlocksPerPass: number;
  /**
   * How often (block time, ms) the balances of every open quote are read, for money that no
   * transaction, receipt or log of a block names (an internal transfer from a contract wallet).
   * 0 or unset: on every pass. Addresses a block shows a transfer to are read on that pass anyway.
   */
  openReadIntervalMs?: number | undefined;
  /**
   * The same for quotes past their deadline (late money, recorded for refund). 0 or unset: on every
   * pass. Each is read once an interval at a point set by a hash of its address (`expiredReads`).
   */
  expiredReadIntervalMs?: number | undefined;
  /**
   * `spread` (the default): each expired quote is read at its own point of the interval, on a pass
   * that reads the open quotes anyway, so every such pass reads a slice and the calls per pass stay
   * flat. `burst`: all of them on one pass once the interval has gone by (how they were read before;
   * kept for the cost benchmark's comparison).
   */
  expiredReads?: 'spread' | 'burst' | undefined;
  /**
   * The Postgres ledger the watch set is rebuilt from (at start, and whenever Redis lost it). Without
   * one (a test of the passes alone) the watch set is only what `upload.received` filled.
   */
  ledger?: WatchSetLedger | undefined;
}

/** Where the watch set comes from when Redis does not have it: the ledger's quotes. */
export interface WatchSetLedger {
  /** Quotes (open or ended) that expired after `expiredAfter`. */
  quotesToWatch(expiredAfter: Date): Promise<QuoteToWatch[]>;
  /** Their other (chain, asset)s on this chain: other offers, and assets not offered that received money. */
  quoteAssetsToWatch?(expiredAfter: Date): Promise<QuoteAssetToWatch[]>;
  /** The assets this chain lists (native null, then its tokens): a quote with an offer here is watched in each. */
  chainAssets?: readonly ChainAsset[] | undefined;
  /** How long after its deadline a quote's address is still watched (late money is recorded for refund). */
  lateWatchMs: number;
}

/** A range of blocks as a pass reads it: timestamps, and the transfers the chain shows in it. */
interface BlockRange {
  fromBlock: bigint;
  toBlock: bigint;
  times: Map<bigint, number>;
  hashes: Map<bigint, Hash>;
  /** The parent of the first block read: the cursor's block, unless a reorg replaced it. */
  parentHash: Hash | undefined;
  /** Top-level native transfers and token Transfer logs, by recipient, each with its asset (null: native). */
  transfers: Map<Address, (CreditTransfer & { blockNumber: bigint; asset: ChainAsset })[]>;
}

const lower = (value: string) => value.toLowerCase() as Address;

/** The settings a watched quote's deposit address derives from: its own, or the configured merchant for a quote from before quotes carried one. */
export const settingsOfQuote = (quote: Pick<WatchedQuote, 'merchant' | 'token'>, configured: DepositSettings): DepositSettings => ({
  merchant: lower(quote.merchant ?? configured.merchant),
  token: quote.token === null ? null : lower(quote.token),
});

/** Every distinct set of settings among the quotes and the configured one: each has its own factory, its own sweeps. */
export function settingsInUse(quotes: readonly Pick<WatchedQuote, 'merchant' | 'token'>[], configured: DepositSettings): DepositSettings[] {
  const all = new Map<string, DepositSettings>();
  for (const settings of [settingsOfQuote({ token: configured.token }, configured), ...quotes.map((q) => settingsOfQuote(q, configured))])
    all.set(`${settings.merchant}:${settings.token ?? 'native'}`, settings);
  return [...all.values()];
}

/** The sweeps of every factory the quotes use (one per merchant, whatever the token), in a range of blocks. */
const readAllSweeps = (chain: PublicClient, settings: readonly DepositSettings[], range: { fromBlock: bigint; toBlock: bigint }) => {
  const byMerchant = new Map(settings.map((s) => [s.merchant.toLowerCase(), s]));
  return Promise.all([...byMerchant.values()].map((s) => readSweeps(chain, s, range))).then((lists) => lists.flat());
};

/**
 * Credits payments by what reaches each quote's deposit address, however it got there (a plain
 * transfer, an internal call from a contract wallet or a 7702 account, an exchange withdrawal,
 * several partial payments), and an address whose total (balance plus what sweeps moved out) rose
 * is settled. What a pass reads follows activity, not the number of quotes (a hosted node bills
 * every balance read in a batch): the balances of addresses a block's transactions or token logs
 * pay, of quotes whose deadline the blocks pass (judged at their last in-time block), of every
 * open quote each `openReadIntervalMs` and of every expired one each `expiredReadIntervalMs`.
 * Transfers to the plain merchant address are recorded `unmatched`. One replica scans at a time.
 */
export class DepositWatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Whether the last pass held the scan lease (the scan lag is reported by that replica only). */
  private leased = false;

  constructor(private readonly deps: DepositWatcherDeps) {}

  /** The highest block that counts now: `confirmations` below the head, or the node's safe / finalized block. */
  async confirmedHeight(): Promise<bigint> {
    return confirmedHeight(this.deps.chain, { confirmationPolicy: this.deps.confirmationPolicy, confirmations: this.deps.confirmations });
  }

  /**
   * One pass: if this replica holds the lease, settles the blocks from the cursor to the confirmed head. Returns blocks read.
   * The lease is renewed while the pass runs and checked before each step that writes; a pass that
   * lost it (it ran out during a stall, another replica took it) throws LeaseLostError, its cursor
   * write refused, and leaves the blocks to the replica that holds it.
   */
  async scanOnce(): Promise<number> {
    const { lock } = this.deps;
    this.leased = await lock.acquire();
    if (!this.leased) {
      // Only the replica that reads blocks knows how far behind they are.
      scanLag.remove({ chain: String(this.deps.chainId) });
      return 0;
    }
    const heartbeat = lock.keepAlive();
    try {
      return await this.scanLeased();
    } catch (error) {
      if (error instanceof LeaseLostError) this.leased = false;
      throw error;
    } finally {
      heartbeat.stop();
    }
  }

  private async scanLeased(): Promise<number> {
    const { lock, watchList } = this.deps;
    const confirmed = await this.confirmedHeight();
    if (this.deps.ledger && !(await watchList.watchSetRestored())) {
      // Postgres down (or not migrated yet) must not stop the passes over what is watched: the marker
      // stays unset, so the next pass tries again.
      await this.restoreWatchSet().catch((error: unknown) =>
        this.deps.log.warn('watch set not restored from the ledger; will retry', { error: error instanceof Error ? error.message : String(error) }),
      );
    }
    // After the watch set: its quotes name the factories (one per merchant and token) whose sweeps are indexed.
    if (!(await watchList.sweepsIndexed())) await this.indexSweeps(confirmed);
    let cursor = await watchList.cursor();
    for (let attempt = 0; ; attempt++) {
      const fromBlock = cursor ? cursor.block + 1n : confirmed - BigInt(Math.min(this.deps.startBehind, Math.max(0, Number(confirmed))));
      if (fromBlock > confirmed || confirmed < 0n) {
        // The confirmed height fell below the cursor: only a reorg does that (a new branch not as long yet).
        if (cursor && confirmed < cursor.block && attempt === 0) {
          const reorg = await this.findReorg(cursor);
          if (reorg) {
            cursor = await this.followReorg(reorg, confirmed);
            continue;
          }
        }
        scanLag.set({ chain: String(this.deps.chainId) }, 0);
        return 0;
      }
      const toBlock = confirmed < fromBlock + BigInt(this.deps.maxBlocksPerPass) - 1n ? confirmed : fromBlock + BigInt(this.deps.maxBlocksPerPass) - 1n;
      // Renewed before each range of blocks: a pass that lost the lease stops before reading more.
      await lock.assertHeld();
      const quotes = await watchList.watched();
      const range = await this.readRange(fromBlock, toBlock, new Set(quotes.map((q) => lower(q.address))), quotes);
      // The first block read must stand on the one the cursor kept; if not, blocks read before were
      // replaced. Checked on what the pass reads anyway, so following reorgs costs no call of its own.
      if (cursor?.hash && range.parentHash !== cursor.hash) {
        const reorg = attempt === 0 ? await this.findReorg(cursor) : undefined;
        if (!reorg) return 0;
        cursor = await this.followReorg(reorg, confirmed);
        continue;
      }
      return this.settleRange(range, quotes, cursor?.time ?? 0, confirmed);
    }
  }

  /** Settles a range read: merchant transfers, quotes whose deadline falls inside it, then every quote at its end; moves the cursor. */
  private async settleRange(range: BlockRange, quotes: WatchedQuote[], before: number, confirmed: bigint): Promise<number> {
    const { watchList } = this.deps;
    const { fromBlock, toBlock } = range;
    await this.recordMerchantTransfers(range);
    const endTime = range.times.get(toBlock) ?? Date.now();
    // A quote that expired inside a range of several blocks is judged at its last in-time block
    // first, so what arrived in time counts as in time even when the watcher is catching up. The
    // cursor's block may be that block: its open quotes were not all read there (they are read
    // every openReadIntervalMs), so it is read now.
    if (before > 0) range.times.set(fromBlock - 1n, before);
    const straddling = quotes.filter((q) => Date.parse(q.expiresAt) >= before && Date.parse(q.expiresAt) < endTime);
    for (const [height, group] of this.groupByDeadline(straddling, range)) await this.settleAt(group, height, range);
    const { read, due } = await this.balancesDue(quotes, straddling, range, endTime);
    await this.settleAt(read, toBlock, range);
    await watchList.markBalancesRead(due);
    await watchList.saveCursor(toBlock, endTime, range.hashes.get(toBlock) as Hash, range.hashes, this.deps.hashesKept, this.deps.lock.fence());
    scanLag.set({ chain: String(this.deps.chainId) }, toBlock === confirmed ? 0 : Math.max(0, (await this.blockTime(confirmed)) - endTime) / 1000);
    await this.requeuePaid();
    return Number(toBlock - fromBlock) + 1;
  }

  /**
   * Whether the block the cursor stands on is still the chain's: if not, the common ancestor (the
   * highest block read whose kept hash the chain still shows). A reorg deeper than the hashes kept
   * goes back to the oldest one kept, loudly. A cursor saved before hashes were kept is trusted.
   */
  async findReorg(cursor: { block: bigint; hash: Hash | undefined }): Promise<Reorg | undefined> {
    const { chain, log, watchList } = this.deps;
    if (!cursor.hash) return undefined;
    const hashAt = (blockNumber: bigint) =>
      chain.getBlock({ blockNumber }).then(
        (block) => block.hash as Hash | null,
        () => null,
      );
    if ((await hashAt(cursor.block)) === cursor.hash) return undefined;
    const kept = [...(await watchList.recentHashes())].filter(([number]) => number < cursor.block).sort(([a], [b]) => (a < b ? 1 : -1));
    const onChain = await Promise.all(kept.map(([number]) => hashAt(number)));
    const index = kept.findIndex(([, hash], i) => onChain[i] === hash);
    if (index >= 0) return { ancestor: kept[index]![0], replacedTo: cursor.block };
    const oldest = kept.at(-1)?.[0] ?? cursor.block;
    log.error('reorg deeper than the block hashes kept: reading again from the oldest one kept (run pnpm payments reconcile)', {
      cursor: cursor.block.toString(),
      from: (oldest - 1n).toString(),
    });
    return { ancestor: oldest - 1n < 0n ? 0n : oldest - 1n, replacedTo: cursor.block };
  }

  /**
   * Follows a reorg: sweeps recorded on the lost branch are forgotten (the new chain's are read
   * again), every watched address whose total at the confirmed height is below what was credited
   * is `reversed` down to it (the ledger is told, the owner too, a metric counts it), and the cursor
   * goes back to the common ancestor so the blocks after it are read again. Money that comes back
   * (the transaction mined again) is then credited again by the passes, like any new money.
   */
  async followReorg(reorg: Reorg, confirmed: bigint): Promise<{ block: bigint; time: number; hash: Hash }> {
    const { bus, chain, chainId, deposits, log, uploads, watchList } = this.deps;
    const ancestorBlock = await chain.getBlock({ blockNumber: reorg.ancestor });
    const height = confirmed > reorg.ancestor ? confirmed : reorg.ancestor;
    log.warn('reorg deeper than the confirmations: reading again from the common ancestor', {
      ancestor: reorg.ancestor.toString(),
      replacedTo: reorg.replacedTo.toString(),
      confirmed: confirmed.toString(),
    });
    countReorg(chainId);
    await watchList.dropSweepsAbove(reorg.ancestor);
    const quotes = await watchList.watched();
    if (reorg.ancestor < height)
      await watchList.addSweeps(await readAllSweeps(chain, settingsInUse(quotes, deposits), { fromBlock: reorg.ancestor + 1n, toBlock: height }));
    const keys = quotes.map(creditKeyOf);
    const [totals, known, epochs] = await Promise.all([this.totalsAt(quotes, height), watchList.credited(keys), watchList.reversals(keys)]);
    for (const [i, quote] of quotes.entries()) {
      const total = totals[i] ?? 0n;
      const before = known[i] ?? 0n;
      if (total >= before) continue;
      const epoch = (epochs[i] ?? 0) + 1;
      // The ledger hears of it before the mark is lowered: a crash between the two replays the same job (same epoch).
      await bus.publish('payment.credited', {
        kind: 'reversed',
        uploadId: quote.uploadId,
        owner: quote.owner,
        chainId,
        address: quote.address,
        token: quote.token,
        totalReceived: total.toString(),
        creditedBefore: before.toString(),
        fromBlock: (reorg.ancestor + 1n).toString(),
        toBlock: reorg.replacedTo.toString(),
        epoch,
      });
      if (!(await watchList.lowerCredited(creditKeyOf(quote), total, epoch))) continue;
      const reason = `a reorg of blocks ${reorg.ancestor + 1n}..${reorg.replacedTo} took back ${before - total} of the ${before} received at ${quote.address}; the listing is held until the money is on chain again`;
      await uploads.status.publish({ uploadId: quote.uploadId, event: 'payment.reversed', stage: STAGE, code: 'reorg', reason });
      countReversal(chainId);
      log.error('credit reversed by a reorg', {
        uploadId: quote.uploadId,
        address: quote.address,
        credited: before.toString(),
        onChain: total.toString(),
        fromBlock: (reorg.ancestor + 1n).toString(),
        toBlock: reorg.replacedTo.toString(),
      });
    }
    await this.reverseLostMerchantTransfers(reorg, height);
    const cursor = { block: reorg.ancestor, time: Number(ancestorBlock.timestamp) * 1000, hash: ancestorBlock.hash as Hash };
    await watchList.saveCursor(cursor.block, cursor.time, cursor.hash, new Map([[cursor.block, cursor.hash]]), this.deps.hashesKept, this.deps.lock.fence());
    return cursor;
  }

  /**
   * The quotes whose balances a pass reads at the end of its range: those a transfer in the range
   * pays, those whose deadline the range passed, every open quote when its interval has gone by
   * since the last such read (block time: a catch-up reads them once, at its end), and the expired
   * quotes whose point of their interval (a hash of the address) falls since the last open read.
   * Returns the block time to record for each interval that came due.
   */
  private async balancesDue(
    quotes: readonly WatchedQuote[],
    straddling: readonly WatchedQuote[],
    range: BlockRange,
    endTime: number,
  ): Promise<{ read: WatchedQuote[]; due: { open?: number; expired?: number } }> {
    const last = await this.deps.watchList.balancesReadAt();
    const openInterval = this.deps.openReadIntervalMs ?? 0;
    const expiredInterval = this.deps.expiredReadIntervalMs ?? 0;
    const burst = this.deps.expiredReads === 'burst';
    // A clock that went back (a reorg onto blocks stamped earlier) makes the interval due, never stuck.
    const isDue = (at: number | undefined, interval: number) => at === undefined || endTime - at >= interval || endTime < at;
    const due = {
      ...(isDue(last.open, openInterval) ? { open: endTime } : {}),
      ...(burst && isDue(last.expired, expiredInterval) ? { expired: endTime } : {}),
    };
    const expiredDue: (address: Address) => boolean =
      expiredInterval <= 0
        ? () => true
        : burst
          ? () => due.expired !== undefined
          : due.open === undefined
            ? () => false
            : this.expiredSlice(last.open, endTime, expiredInterval);
    const picked = new Set(straddling.map(watchKeyOf));
    const read = quotes.filter((q) => {
      if (picked.has(watchKeyOf(q)) || range.transfers.has(q.address)) return true;
      if (Date.parse(q.expiresAt) >= endTime) return due.open !== undefined;
      return expiredDue(q.address);
    });
    return { read, due };
  }

  /**
   * Which expired quotes a pass reads when they are spread: each at the point of the interval a hash
   * of its address sets (deposit addresses are keccak outputs, so the points are uniform), when that
   * point falls in (since, endTime]. The windows of the passes that read open quotes follow each
   * other, so each expired quote is read once an interval and each such pass reads a slice (other
   * passes read none). No earlier read known, a window as long as the interval, or a clock gone
   * back: every expired quote.
   */
  private expiredSlice(since: number | undefined, endTime: number, interval: number): (address: Address) => boolean {
    if (since === undefined || endTime - since >= interval || endTime < since) return () => true;
    return (address) => {
      const point = Number(BigInt(address) % BigInt(interval));
      return Math.floor((endTime - point) / interval) > Math.floor((since - point) / interval);
    };
  }

  /** The last block of the range at or before each quote's deadline (quotes with none are left to the end of the range). */
  private groupByDeadline(quotes: WatchedQuote[], range: BlockRange): Map<bigint, WatchedQuote[]> {
    const groups = new Map<bigint, WatchedQuote[]>();
    for (const quote of quotes) {
      let last: bigint | undefined;
      for (const [block, time] of range.times) if (time <= Date.parse(quote.expiresAt) && (last === undefined || block > last)) last = block;
      if (last === undefined || last === range.toBlock) continue;
      groups.set(last, [...(groups.get(last) ?? []), quote]);
    }
    return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /**
   * Reads blocks fromBlock..toBlock: timestamps, top-level transfers that succeeded, token Transfer
   * logs, and sweeps. A reverted transaction keeps its `value` in the block but moved nothing, so a
   * top-level transfer to the merchant or to a watched address counts only once its receipt says
   * success; receipts are fetched for those candidates alone, not for every transaction of a block.
   */
  private async readRange(fromBlock: bigint, toBlock: bigint, watched: ReadonlySet<Address>, quotes: readonly WatchedQuote[]): Promise<BlockRange> {
    const { chain, deposits, watchList } = this.deps;
    const numbers: bigint[] = [];
    for (let n = fromBlock; n <= toBlock; n++) numbers.push(n);
    // Quotes issued under an earlier merchant or token keep their own factory and asset: read those too.
    const settings = settingsInUse(quotes, deposits);
    const tokens = [...new Set(settings.map((s) => s.token).filter((token): token is Address => token !== null))];
    const [blocks, sweeps, tokenLogs] = await Promise.all([
      Promise.all(numbers.map((blockNumber) => chain.getBlock({ blockNumber, includeTransactions: true }))),
      readAllSweeps(chain, settings, { fromBlock, toBlock }),
      tokens.length > 0 ? chain.getLogs({ address: tokens, event: erc20TransferEvent, fromBlock, toBlock }) : Promise.resolve([]),
    ]);
    await watchList.addSweeps(sweeps);
    const sweepTxs = new Set(sweeps.map((sweep) => sweep.txHash));
    const range: BlockRange = { fromBlock, toBlock, times: new Map(), hashes: new Map(), parentHash: blocks[0]?.parentHash, transfers: new Map() };
    const add = (to: Address, transfer: CreditTransfer & { blockNumber: bigint; asset: ChainAsset }) =>
      range.transfers.set(to, [...(range.transfers.get(to) ?? []), transfer]);
    const candidates: { to: Address; transfer: CreditTransfer & { blockNumber: bigint; asset: ChainAsset } }[] = [];
    for (const block of blocks) {
      range.times.set(block.number, Number(block.timestamp) * 1000);
      range.hashes.set(block.number, block.hash);
      for (const tx of block.transactions) {
        if (!tx.to || tx.value === 0n) continue;
        const to = lower(tx.to);
        if (to !== lower(deposits.merchant) && !watched.has(to)) continue;
        candidates.push({
          to,
          transfer: { txHash: tx.hash, logIndex: null, from: lower(tx.from), amount: tx.value.toString(), blockNumber: block.number, asset: null },
        });
      }
    }
    for (const { to, transfer } of await successfulOnly(chain, candidates, (c) => c.transfer.txHash)) add(to, transfer);
    for (const transfer of decodeTransfers(tokenLogs as Log[])) {
      // What a sweep moves to the merchant is the deposit's own money, not a new payment.
      if (sweepTxs.has(transfer.txHash)) continue;
      add(transfer.to, {
        txHash: transfer.txHash,
        logIndex: transfer.logIndex,
        from: transfer.from,
        amount: transfer.value.toString(),
        blockNumber: transfer.blockNumber,
        asset: lower(transfer.token),
      });
    }
    return range;
  }

  /**
   * Every transfer to the plain merchant address goes to the ledger as `unmatched`, due back (no
   * quote asked for it), and is remembered so a reorg that takes it off the chain takes it back.
   */
  private async recordMerchantTransfers(range: BlockRange): Promise<void> {
    const { bus, chainId, deposits, log, watchList } = this.deps;
    const found = range.transfers.get(lower(deposits.merchant)) ?? [];
    const epochs = await watchList.merchantReversals(found.map((t) => merchantKey(t)));
    const seen: MerchantSeen[] = [];
    for (const [i, { blockNumber, asset: _asset, ...transfer }] of found.entries()) {
      await this.deps.lock.assertHeld();
      const token = transfer.logIndex === null ? null : deposits.token;
      const epoch = epochs[i] ?? 0;
      await bus.publish('payment.credited', {
        kind: 'merchant',
        chainId,
        address: deposits.merchant,
        token,
        transfer,
        blockNumber: blockNumber.toString(),
        blockTime: new Date(range.times.get(blockNumber) ?? Date.now()).toISOString(),
        ...(epoch > 0 ? { epoch } : {}),
      });
      seen.push({ blockNumber: blockNumber.toString(), token, transfer });
      countCredit(chainId, 'unmatched');
      log.warn('transfer to the merchant address matches no quote; recorded for refund', { txHash: transfer.txHash, amount: transfer.amount });
    }
    await watchList.rememberMerchantTransfers(seen);
  }

  /**
   * After a reorg: a transfer to the merchant the ledger holds from a replaced block is taken back
   * unless the chain shows it again, succeeded and confirmed (a token transfer in the same block,
   * where its log index still names it); one mined again later is recorded again by the passes.
   */
  private async reverseLostMerchantTransfers(reorg: Reorg, height: bigint): Promise<void> {
    const { bus, chain, chainId, deposits, log, watchList } = this.deps;
    const lost = await watchList.merchantTransfersAbove(reorg.ancestor);
    const epochs = await watchList.merchantReversals(lost.map((m) => merchantKey(m.transfer)));
    for (const [i, seen] of lost.entries()) {
      const receipt = await chain.getTransactionReceipt({ hash: seen.transfer.txHash }).catch(() => undefined);
      const stays =
        receipt?.status === 'success' && receipt.blockNumber <= height && (seen.transfer.logIndex === null || receipt.blockNumber === BigInt(seen.blockNumber));
      if (stays) continue;
      const epoch = (epochs[i] ?? 0) + 1;
      await bus.publish('payment.credited', {
        kind: 'merchant_reversed',
        chainId,
        address: deposits.merchant,
        token: seen.token,
        transfer: seen.transfer,
        blockNumber: seen.blockNumber,
        fromBlock: (reorg.ancestor + 1n).toString(),
        toBlock: reorg.replacedTo.toString(),
        epoch,
      });
      await watchList.setMerchantReversals(merchantKey(seen.transfer), epoch);
      countReversal(chainId);
      log.error('transfer to the merchant reversed by a reorg; nothing of it is due back', {
        txHash: seen.transfer.txHash,
        amount: seen.transfer.amount,
        block: seen.blockNumber,
      });
    }
    await watchList.forgetMerchantTransfersAbove(reorg.ancestor);
  }

  /**
   * What each quote's address has received in all at `height`: its balance plus what sweeps moved out
   * by then, each in its own quote's asset (quotes issued under an earlier PAYMENT_TOKEN are read in
   * that token, not the configured one).
   */
  async totalsAt(quotes: readonly WatchedQuote[], height: bigint): Promise<bigint[]> {
    const { chain, watchList } = this.deps;
    const byAsset = new Map<Address | null, WatchedQuote[]>();
    for (const quote of quotes) {
      const asset = quote.token === null ? null : lower(quote.token);
      byAsset.set(asset, [...(byAsset.get(asset) ?? []), quote]);
    }
    const totals = new Map<string, bigint>();
    await Promise.all(
      [...byAsset].map(async ([token, group]) => {
        const addresses = group.map((q) => q.address);
        const [balances, swept] = await Promise.all([
          readBalances(chain, { addresses, token, blockNumber: height }),
          watchList.sweptUpTo(addresses, height, token),
        ]);
        group.forEach((q, i) => {
          totals.set(watchKeyOf(q), (balances[i] ?? 0n) + (swept[i] ?? 0n));
        });
      }),
    );
    return quotes.map((q) => totals.get(watchKeyOf(q)) ?? 0n);
  }

  /** What the watcher last knew each quote's address had received. */
  async knownTotals(quotes: readonly WatchedQuote[]): Promise<bigint[]> {
    return this.deps.watchList.credited(quotes.map(creditKeyOf));
  }

  /** A block's timestamp, ms. */
  async blockTime(blockNumber: bigint): Promise<number> {
    return Number((await this.deps.chain.getBlock({ blockNumber })).timestamp) * 1000;
  }

  /** Settles every quote whose total at `height` rose above what was known. */
  private async settleAt(quotes: readonly WatchedQuote[], height: bigint, range: BlockRange): Promise<void> {
    if (quotes.length === 0) return;
    const [totals, known] = await Promise.all([this.totalsAt(quotes, height), this.deps.watchList.credited(quotes.map(creditKeyOf))]);
    for (const [i, quote] of quotes.entries()) {
      const total = totals[i] ?? 0n;
      if (total <= (known[i] ?? 0n)) continue;
      // A credit is sent only under the lease (the ledger's job ids also make a repeated one a no-op).
      await this.deps.lock.assertHeld();
      const asset = quote.token === null ? null : lower(quote.token);
      // Only the transfers in this entry's asset explain its increase.
      const transfers = (range.transfers.get(quote.address) ?? [])
        .filter((t) => t.blockNumber <= height && t.asset === asset)
        .map(({ blockNumber: _b, asset: _a, ...rest }) => rest);
      await this.settle(quote, total, { fromBlock: range.fromBlock, toBlock: height, blockTime: range.times.get(height) ?? Date.now(), transfers });
    }
  }

  /**
   * Settles one quote's new total: decides it (judgeCredit), makes the upload paid if it covers the
   * quote (one atomic transition), sends the credit to the Postgres ledger and tells the owner.
   * Every step is idempotent: run again after a crash, it replays the same decision.
   */
  async settle(
    quote: WatchedQuote,
    total: bigint,
    at: { fromBlock: bigint; toBlock: bigint; blockTime: number; transfers: CreditTransfer[] },
  ): Promise<CreditStatus> {
    const { bus, uploads, chainId, log } = this.deps;
    const { uploadId } = quote;
    const [epoch = 0] = await this.deps.watchList.reversals([creditKeyOf(quote)]);
    // The state and the payment are read together: two settlers of one address (a pass and a hint)
    // may race, and a state read after the other's `pay` with a payment read before it would judge
    // a covered quote late.
    let { payment, state } = await uploads.paymentAndState(uploadId);
    const judge = (): { status: CreditStatus; settles: boolean } => {
      // An asset the quote did not offer never pays it: all of it is due back.
      if (quote.offered === false) return { status: 'unmatched', settles: false };
      // Paid in another (chain, asset): this offer's money is beyond what paid the quote, due back
      // (late once the quote had ended unpaid is judged by judgeCredit, which sees no payment).
      const paidHere = payment && payment.chainId === chainId && (payment.token?.toLowerCase() ?? null) === (quote.token?.toLowerCase() ?? null);
      if (payment && !paidHere) return { status: 'overpaid', settles: false };
      const verdict = judgeCredit({ quote, state, payment, total, blockTime: at.blockTime, toleranceBps: this.deps.toleranceBps });
      // Below a payment already made: only a reorg takes a total down, and what came back does not cover the quote yet.
      return payment && total < BigInt(quote.amount) ? { status: 'partial', settles: false } : verdict;
    };
    let verdict = judge();
    if (verdict.settles && !payment) {
      const candidate: Payment = {
        chainId,
        address: quote.address,
        token: quote.token,
        amount: total.toString(),
        blockNumber: at.toBlock.toString(),
        blockTime: new Date(at.blockTime).toISOString(),
        status: verdict.status === 'overpaid' ? 'overpaid' : 'paid',
        txHashes: [...new Set(at.transfers.map((t) => t.txHash))],
      };
      if (await uploads.pay(uploadId, candidate, STAGE)) {
        payment = candidate;
      } else {
        // Something else ended the wait first (the expiry, or another watcher): judge again as things are now.
        ({ payment, state } = await uploads.paymentAndState(uploadId));
        verdict = judge();
      }
    }
    await bus.publish('payment.credited', {
      kind: 'deposit',
      uploadId,
      owner: quote.owner,
      chainId,
      address: quote.address,
      token: quote.token,
      quoteAmount: quote.amount,
      totalReceived: total.toString(),
      fromBlock: at.fromBlock.toString(),
      toBlock: at.toBlock.toString(),
      blockTime: new Date(at.blockTime).toISOString(),
      transfers: at.transfers,
      status: verdict.status,
      ...(epoch > 0 ? { epoch } : {}),
    });
    log.info('credit settled', {
      uploadId,
      address: quote.address,
      token: quote.token,
      total: total.toString(),
      status: verdict.status,
      block: at.toBlock.toString(),
    });
    if (verdict.settles && payment) {
      // What a covered quote starts depends on what it pays for: an upload's media work; a renewal
      // needs nothing more (the ledger write of payment.credited above renews its listing).
      const upload = await uploads.get(uploadId);
      if (upload) await bus.publish('payment.confirmed', { ...upload, payment });
    } else {
      await this.tellOwner(quote, verdict.status, total);
    }
    // A block pass and a client's hint may settle the same total at once (both idempotent): it is counted once.
    if (await this.deps.watchList.raiseCredited(creditKeyOf(quote), total)) countCredit(this.deps.chainId, verdict.status);
    return verdict.status;
  }

  private async tellOwner(quote: WatchedQuote, status: CreditStatus, total: bigint): Promise<void> {
    const { uploads } = this.deps;
    const say = (code: StatusCodeOf<'payment.received'>, reason: string) =>
      uploads.status.publish({ uploadId: quote.uploadId, event: 'payment.received', stage: STAGE, code, reason });
    const asset = `${quote.token ?? 'the native coin'} on chain ${this.deps.chainId}`;
    if (status === 'unmatched') {
      await say('not_offered', `${total} of ${asset} received, which the quote did not offer; it does not pay the upload and is recorded for refund`);
    } else if (status === 'partial') {
      await say('partial', `received ${total} of ${quote.amount}; send the rest to ${quote.address} before ${quote.expiresAt}`);
    } else if (status === 'late') {
      await say('late', `${total} received in all, after the quote expired; recorded for refund`);
      // An upload that had expired with nothing received now has money to give back.
      await uploads.transition(quote.uploadId, 'oweRefund', { stage: STAGE, reason: 'money arrived after the quote expired; recorded for refund' });
    } else if (status === 'overpaid') {
      await say('overpaid', `${total} received in all (${asset}); the upload was already paid, the excess is recorded for refund`);
    }
  }

  /** A paid upload whose work was never queued (a crash between the two) gets it queued; the job id keeps it single. */
  private async requeuePaid(): Promise<void> {
    const { uploads, bus } = this.deps;
    for (const uploadId of await uploads.inState('paid')) {
      const [upload, payment] = await Promise.all([uploads.get(uploadId), uploads.payment(uploadId)]);
      if (upload && payment) await bus.publish('payment.confirmed', { ...upload, payment });
    }
  }

  /**
   * Rebuilds the watch set from the ledger: every quote Postgres has inside its late window is watched
   * again with what the ledger credited it, and an open quote's expiry is scheduled again (its
   * job id keeps it single). Money that reaches an address before this would otherwise be missed, or
   * judged against a credited mark of zero. Returns how many quotes were restored.
   */
  async restoreWatchSet(now = Date.now()): Promise<number> {
    const { ledger, watchList, bus, log } = this.deps;
    if (!ledger) return 0;
    const quotes = await ledger.quotesToWatch(new Date(now - ledger.lateWatchMs));
    await watchList.restore(
      quotes.map((q) => ({
        quote: {
          uploadId: q.uploadId,
          owner: q.owner,
          address: q.depositAddress,
          token: q.token,
          amount: q.amount,
          createdAt: q.createdAt,
          expiresAt: q.expiresAt,
          ...(q.merchant ? { merchant: q.merchant } : {}),
          ...(q.depositSalt ? { salt: q.depositSalt } : {}),
        },
        until: Date.parse(q.expiresAt) + ledger.lateWatchMs,
        credited: BigInt(q.creditedTotal),
      })),
    );
    for (const q of quotes)
      if (q.state === 'open') await bus.publish('upload.expire', { uploadId: q.uploadId }, { delayMs: Math.max(0, Date.parse(q.expiresAt) - now) });
    const others = (await ledger.quoteAssetsToWatch?.(new Date(now - ledger.lateWatchMs))) ?? [];
    await watchList.restore(this.otherAssetEntries(others, quotes, ledger));
    log.info('watch set restored from the ledger', {
      quotes: quotes.length,
      open: quotes.filter((q) => q.state === 'open').length,
      otherAssets: others.length,
    });
    return quotes.length;
  }

  /**
   * The watch entries of quotes' other (chain, asset)s on this chain, from the ledger's rows, and, for
   * each such quote, the chain's assets it has no row for (not offered, nothing received yet).
   */
  private otherAssetEntries(rows: readonly QuoteAssetToWatch[], own: readonly QuoteToWatch[], ledger: WatchSetLedger) {
    const entry = (q: QuoteAssetToWatch, token: Address | null, amount: string | null, credited: string) => ({
      quote: {
        uploadId: q.uploadId,
        owner: q.owner,
        address: q.depositAddress,
        token,
        amount: amount ?? '0',
        createdAt: q.createdAt,
        expiresAt: q.expiresAt,
        ...(q.merchant ? { merchant: q.merchant } : {}),
        entry: `${q.uploadId}:${token ?? 'native'}`,
        ...(amount === null ? { offered: false } : {}),
      },
      until: Date.parse(q.expiresAt) + ledger.lateWatchMs,
      credited: BigInt(credited),
    });
    const entries = rows.map((q) => entry(q, q.token === null ? null : lower(q.token), q.amount, q.creditedTotal));
    const byQuote = new Map<string, QuoteAssetToWatch[]>();
    for (const row of rows) byQuote.set(row.uploadId, [...(byQuote.get(row.uploadId) ?? []), row]);
    for (const [uploadId, held] of byQuote) {
      const ownHere = own.find((q) => q.uploadId === uploadId);
      for (const asset of ledger.chainAssets ?? []) {
        const same = (token: string | null) => (token?.toLowerCase() ?? null) === (asset?.toLowerCase() ?? null);
        if (held.some((row) => same(row.token)) || (ownHere && same(ownHere.token))) continue;
        entries.push(entry(held[0]!, asset, null, '0'));
      }
    }
    return entries;
  }

  /** A Redis that lost the sweep record rebuilds it from the factory's logs. */
  private async indexSweeps(toBlock: bigint): Promise<void> {
    const { chain, deposits, watchList } = this.deps;
    const settings = settingsInUse(await watchList.watched(), deposits);
    await watchList.addSweeps(await readAllSweeps(chain, settings, { fromBlock: 0n, toBlock: toBlock < 0n ? 0n : toBlock }));
    await watchList.markSweepsIndexed();
  }

  /** Scans every `intervalMs` until stopped; a failed pass is logged and tried again. */
  start(intervalMs: number): void {
    const loop = async () => {
      if (this.stopped) return;
      this.running = this.scanOnce().then(
        () => undefined,
        async (error: unknown) => {
          if (error instanceof LeaseLostError) {
            this.deps.log.warn('scan lease lost during a pass; its writes were refused, the replica holding the lease scans', { lease: error.key });
            return;
          }
          this.deps.log.warn('deposit pass failed; will retry', { error: error instanceof Error ? error.message : String(error) });
          await this.reportStall();
        },
      );
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), intervalMs);
    };
    void loop();
  }

  /** A failed pass read nothing: the lag is the wall clock's distance from the last block settled. */
  private async reportStall(): Promise<void> {
    try {
      if (!this.leased) return;
      const cursor = await this.deps.watchList.cursor();
      if (cursor) scanLag.set({ chain: String(this.deps.chainId) }, Math.max(0, Date.now() - cursor.time) / 1000);
    } catch {
      // Redis is unreachable too: the gauge keeps its last value, and the pass's failure is logged.
    }
  }

  /** Stops scanning, waits for a running pass and gives up the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.deps.lock.release();
  }
}
