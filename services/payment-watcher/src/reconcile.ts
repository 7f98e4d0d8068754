import type { Log, PublicClient } from 'viem';
import {
  type DepositSettings,
  type DepositSweep,
  decodeTransfers,
  depositAddressOf,
  erc20TransferEvent,
  readBalances,
  readSweeps,
  successfulOnly,
} from '@reelboard/chain';
import type { CreditStatus, CreditTransfer, PaymentCredited } from '@reelboard/contracts';
import { applyCredit, type Knex, type LedgerQuoteTotal, ledgerTotals } from '@reelboard/db';

type Address = `0x${string}`;

export interface ReconcileParameters {
  db: Knex;
  chain: PublicClient;
  chainId: number;
  deposits: DepositSettings;
  /** Blocks on top of (and including) a credit's block before it counts: the chain is read at head - confirmations + 1. */
  confirmations: number;
  /** First block scanned for transfers to the plain merchant address (deposit addresses need no range: balances are totals). */
  fromBlock: bigint;
  /** Record what the ledger lacks (deposit credits and unmatched merchant transfers). */
  repair: boolean;
  /**
   * How `repair` settles money the ledger lacks, judged at the block it arrived: the deposit watcher's
   * own settle, so the upload's lifecycle moves with the ledger (made paid and its work queued, or
   * owing a refund). Without it the credit is judged from the ledger's view of the quote alone.
   */
  settle?: RepairSettle | undefined;
}

/** Settles one quote's total as the deposit watcher would; returns how the credit stands. */
export type RepairSettle = (quote: LedgerQuoteTotal, total: bigint, at: { fromBlock: bigint; toBlock: bigint; blockTime: number }) => Promise<CreditStatus>;

/** One way the ledger and the chain disagree. */
export type Difference =
  | { kind: 'deposit_missing'; quoteId: string; address: Address; chainTotal: bigint; ledgerTotal: bigint }
  | { kind: 'deposit_excess'; quoteId: string; address: Address; chainTotal: bigint; ledgerTotal: bigint }
  | { kind: 'rows_mismatch'; quoteId: string; address: Address; creditedTotal: bigint; rowsTotal: bigint }
  | { kind: 'merchant_missing'; transfer: CreditTransfer; token: Address | null; blockNumber: bigint };

export interface ReconcileReturnType {
  /** The confirmed block the chain was read at. */
  height: bigint;
  quotesChecked: number;
  merchantTransfersChecked: number;
  differences: Difference[];
  /** Differences recorded by `repair`. */
  repaired: number;
}

/**
 * The first block in (from, to] at which `totalAt` exceeds `above`, given that it does at `to` (totals
 * never fall: balance plus swept): a binary search, a few archive reads per missing increment.
 */
async function firstBlockAbove(totalAt: (block: bigint) => Promise<bigint>, from: bigint, to: bigint, above: bigint): Promise<bigint> {
  let low = from + 1n;
  let high = to;
  while (low < high) {
    const middle = (low + high) / 2n;
    if ((await totalAt(middle)) > above) high = middle;
    else low = middle + 1n;
  }
  return high;
}

/** How money the ledger lacks stands against its quote, judged from the ledger's own view of the quote. */
function judgeMissing(quote: LedgerQuoteTotal, chainTotal: bigint, blockTime: number): CreditStatus {
  // A quote a reorg uncovered stays `paid` in the ledger, but what comes back first pays it again.
  if (quote.state === 'paid' && BigInt(quote.creditedTotal) >= BigInt(quote.amount)) return 'overpaid';
  if (quote.state === 'expired' || blockTime > Date.parse(quote.expiresAt)) return 'late';
  if (chainTotal < BigInt(quote.amount)) return 'partial';
  return chainTotal === BigInt(quote.amount) ? 'paid' : 'overpaid';
}

/**
 * The ledger's quotes this deployment can judge, by the settings each was issued with: its stored
 * merchant (or, for a quote from before quotes carried one, the configured merchant) and its token,
 * kept only where those settings derive the quote's own deposit address (another deployment's
 * quotes sharing the database are not ours to judge).
 */
export function quotesBySettings(quotes: readonly LedgerQuoteTotal[], configured: DepositSettings): Map<DepositSettings, LedgerQuoteTotal[]> {
  const groups = new Map<string, { settings: DepositSettings; quotes: LedgerQuoteTotal[] }>();
  for (const quote of quotes) {
    const settings: DepositSettings = {
      merchant: (quote.merchant ?? configured.merchant).toLowerCase() as Address,
      token: quote.token === null ? null : (quote.token.toLowerCase() as Address),
    };
    if (depositAddressOf(settings, quote.quoteId) !== quote.depositAddress) continue;
    const key = `${settings.merchant}:${settings.token ?? 'native'}`;
    const group = groups.get(key) ?? { settings, quotes: [] };
    group.quotes.push(quote);
    groups.set(key, group);
  }
  return new Map([...groups.values()].map(({ settings, quotes }) => [settings, quotes]));
}

/**
 * Compares the chain with the Postgres ledger: for every deposit address this merchant ever issued,
 * what it received in all (balance plus swept) against what the ledger credited; and every transfer
 * to the plain merchant address in the range against the ledger's `unmatched` rows. Quotes of other
 * merchants or tokens (another deployment sharing the database) are not this merchant's to judge.
 */
export async function reconcilePayments(params: ReconcileParameters): Promise<ReconcileReturnType> {
  const { db, chain, chainId, deposits, repair } = params;
  const head = await chain.getBlockNumber({ cacheTime: 0 });
  const height = head - BigInt(params.confirmations) + 1n;
  const blockTime = Number((await chain.getBlock({ blockNumber: height })).timestamp) * 1000;
  const ledger = await ledgerTotals(db, chainId);
  const differences: Difference[] = [];
  let repaired = 0;
  let quotesChecked = 0;
  const sweeps: DepositSweep[] = [];
  // Each quote under the settings it was issued with (its merchant and token): a quote from before a
  // change of MERCHANT_ADDRESS or PAYMENT_TOKEN is still checked, in its own asset, by its own factory.
  for (const [settings, ours] of quotesBySettings(ledger.quotes, deposits)) {
    quotesChecked += ours.length;
    const groupSweeps = await readSweeps(chain, settings, { fromBlock: 0n, toBlock: height });
    sweeps.push(...groupSweeps);
    const swept = new Map<string, bigint>();
    for (const sweep of groupSweeps) swept.set(sweep.deposit, (swept.get(sweep.deposit) ?? 0n) + (settings.token ? sweep.token : sweep.native));
    const balances = await readBalances(chain, { addresses: ours.map((q) => q.depositAddress as Address), token: settings.token, blockNumber: height });

    for (const [i, quote] of ours.entries()) {
      const address = quote.depositAddress as Address;
      const chainTotal = (balances[i] ?? 0n) + (swept.get(address) ?? 0n);
      const ledgerTotal = BigInt(quote.creditedTotal);
      if (BigInt(quote.rowsTotal) !== ledgerTotal)
        differences.push({ kind: 'rows_mismatch', quoteId: quote.quoteId, address, creditedTotal: ledgerTotal, rowsTotal: BigInt(quote.rowsTotal) });
      if (chainTotal === ledgerTotal) continue;
      if (chainTotal < ledgerTotal) {
        differences.push({ kind: 'deposit_excess', quoteId: quote.quoteId, address, chainTotal, ledgerTotal });
        continue;
      }
      differences.push({ kind: 'deposit_missing', quoteId: quote.quoteId, address, chainTotal, ledgerTotal });
      if (repair) {
        // Each increment is judged at the block it arrived in, not at the head: money paid in time and
        // found late by reconciliation still pays its upload.
        const totalAt = async (block: bigint) => {
          const [balance = 0n] = await readBalances(chain, { addresses: [address], token: settings.token, blockNumber: block });
          return (
            balance +
            groupSweeps
              .filter((sweep) => sweep.deposit === address && sweep.blockNumber <= block)
              .reduce((sum, sweep) => sum + (settings.token ? sweep.token : sweep.native), 0n)
          );
        };
        let known = ledgerTotal;
        let from = BigInt(quote.creditedBlock ?? '0');
        let view = quote;
        while (known < chainTotal) {
          const arrived = await firstBlockAbove(totalAt, from, height, known);
          const total = await totalAt(arrived);
          const arrivedAt = Number((await chain.getBlock({ blockNumber: arrived })).timestamp) * 1000;
          const at = { fromBlock: from + 1n, toBlock: arrived, blockTime: arrivedAt };
          const status = params.settle ? await params.settle(view, total, at) : judgeMissing(view, total, arrivedAt);
          const credit: PaymentCredited = {
            kind: 'deposit',
            uploadId: quote.uploadId,
            owner: quote.owner as Address,
            chainId,
            address,
            token: settings.token,
            quoteAmount: quote.amount,
            totalReceived: total.toString(),
            fromBlock: at.fromBlock.toString(),
            toBlock: arrived.toString(),
            blockTime: new Date(arrivedAt).toISOString(),
            transfers: [],
            status,
          };
          const outcome = await applyCredit(db, credit);
          view = { ...view, state: outcome.quoteState ?? view.state, creditedTotal: total.toString(), creditedBlock: arrived.toString() };
          known = total;
          from = arrived;
        }
        repaired += 1;
      }
    }
  }

  // Transfers to the plain merchant address: top-level native ones and token Transfer logs (sweeps excluded).
  const recorded = new Set(ledger.unmatched.map((u) => `${u.txHash}:${u.logIndex ?? 'native'}`));
  const sweepTxs = new Set(sweeps.map((s) => s.txHash));
  let found: { transfer: CreditTransfer; token: Address | null; blockNumber: bigint; time: number }[] = [];
  const numbers: bigint[] = [];
  for (let n = params.fromBlock < 0n ? 0n : params.fromBlock; n <= height; n++) numbers.push(n);
  for (let i = 0; i < numbers.length; i += 500) {
    const blocks = await Promise.all(numbers.slice(i, i + 500).map((blockNumber) => chain.getBlock({ blockNumber, includeTransactions: true })));
    for (const block of blocks) {
      for (const tx of block.transactions) {
        if (tx.to?.toLowerCase() === deposits.merchant && tx.value > 0n) {
          found.push({
            transfer: { txHash: tx.hash, logIndex: null, from: tx.from.toLowerCase() as Address, amount: tx.value.toString() },
            token: null,
            blockNumber: block.number,
            time: Number(block.timestamp) * 1000,
          });
        }
      }
    }
  }
  // A reverted transfer keeps its value in the block but moved nothing (a contract merchant that refuses it).
  found = await successfulOnly(chain, found, (item) => item.transfer.txHash);
  if (deposits.token && numbers.length > 0) {
    const logs = await chain.getLogs({
      address: deposits.token,
      event: erc20TransferEvent,
      args: { to: deposits.merchant },
      fromBlock: numbers[0],
      toBlock: height,
    });
    for (const t of decodeTransfers(logs as Log[])) {
      if (sweepTxs.has(t.txHash)) continue;
      found.push({
        transfer: { txHash: t.txHash, logIndex: t.logIndex, from: t.from, amount: t.value.toString() },
        token: deposits.token,
        blockNumber: t.blockNumber,
        time: blockTime,
      });
    }
  }
  for (const item of found) {
    if (recorded.has(`${item.transfer.txHash}:${item.transfer.logIndex ?? 'native'}`)) continue;
    differences.push({ kind: 'merchant_missing', transfer: item.transfer, token: item.token, blockNumber: item.blockNumber });
    if (repair) {
      await applyCredit(db, {
        kind: 'merchant',
        chainId,
        address: deposits.merchant,
        token: item.token,
        transfer: item.transfer,
        blockNumber: item.blockNumber.toString(),
        blockTime: new Date(item.time).toISOString(),
      });
      repaired += 1;
    }
  }
  return { height, quotesChecked, merchantTransfersChecked: found.length, differences, repaired };
}

/** One line per difference, for operators. */
export function describeDifference(d: Difference): string {
  switch (d.kind) {
    case 'deposit_missing':
      return `quote ${d.quoteId}: ${d.address} received ${d.chainTotal} on chain, the ledger credits ${d.ledgerTotal} (missing ${d.chainTotal - d.ledgerTotal})`;
    case 'deposit_excess':
      return `quote ${d.quoteId}: the ledger credits ${d.ledgerTotal}, but ${d.address} received only ${d.chainTotal} on chain (a reorg, or a bad record: check by hand)`;
    case 'rows_mismatch':
      return `quote ${d.quoteId}: its ledger rows add up to ${d.rowsTotal}, its credited total is ${d.creditedTotal}`;
    case 'merchant_missing':
      return `transfer ${d.transfer.txHash}${d.transfer.logIndex === null ? '' : `#${d.transfer.logIndex}`} of ${d.transfer.amount} from ${d.transfer.from} to the merchant in block ${d.blockNumber} is not in the ledger`;
  }
}
