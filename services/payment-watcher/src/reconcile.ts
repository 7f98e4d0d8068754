import type { Hex, Log, PublicClient } from 'viem';
import {
  type DepositSettings,
  type DepositSweep,
  decodeTransfers,
  depositAddressOf,
  depositFactory,
  erc20TransferEvent,
  readBalances,
  readSweeps,
  refundChainReader,
  successfulOnly,
  sweptIn,
} from '@reelboard/chain';
import type { CreditStatus, CreditTransfer, PaymentCredited } from '@reelboard/contracts';
import {
  applyCredit,
  type Knex,
  type LedgerQuoteTotal,
  ledgerChainRecords,
  ledgerTotals,
  type ReconcileScope,
  readReconcileCheckpoint,
  recordedRefundProblem,
  saveReconcileCheckpoint,
  stalledQuotes,
} from '@reelboard/db';
import { type ConfirmationPolicy, confirmedHeight } from './confirmed-height.js';

type Address = `0x${string}`;

export interface ReconcileParameters {
  db: Knex;
  chain: PublicClient;
  chainId: number;
  deposits: DepositSettings;
  /** Blocks on top of (and including) a credit's block before it counts, with policy `depth`: the chain is read at head - confirmations + 1. */
  confirmations: number;
  /** The chain's confirmation policy (CHAINS, CONFIRMATION_POLICY): with `safe` / `finalized` the chain is read at the node's block of that tag, as the watcher's passes. */
  confirmationPolicy?: ConfirmationPolicy | undefined;
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
  /**
   * How long after a paid quote's deadline its work must show in the ledger (a listing saved, a
   * renewal applied) before it counts as lost; default LOST_WORK_AFTER_MS.
   */
  lostWorkAfterMs?: number | undefined;
  /**
   * Settings besides `deposits` whose quotes are judged too: the merchant and token this deployment
   * used before a change, until its old quotes are past their late window. Quotes of any other
   * settings in the database (another deployment sharing it) are not this deployment's to judge.
   */
  alsoSettings?: readonly DepositSettings[] | undefined;
}

/** An hour: the media work of an upload paid at its deadline is long done by then. */
export const LOST_WORK_AFTER_MS = 3_600_000;

/** Settles one quote's total as the deposit watcher would; returns how the credit stands. */
export type RepairSettle = (quote: LedgerQuoteTotal, total: bigint, at: { fromBlock: bigint; toBlock: bigint; blockTime: number }) => Promise<CreditStatus>;

/** One way the ledger and the chain disagree. */
export type Difference =
  | { kind: 'deposit_missing'; quoteId: string; address: Address; chainTotal: bigint; ledgerTotal: bigint }
  | { kind: 'deposit_excess'; quoteId: string; address: Address; chainTotal: bigint; ledgerTotal: bigint }
  | { kind: 'rows_mismatch'; quoteId: string; address: Address; creditedTotal: bigint; rowsTotal: bigint }
  | { kind: 'merchant_missing'; transfer: CreditTransfer; merchant: Address; token: Address | null; blockNumber: bigint }
  /** An unmatched transfer the ledger owes back that the chain no longer shows (gone in a reorg, or reverted). */
  | { kind: 'unmatched_gone'; paymentId: number; txHash: string; amount: string; reason: 'not_found' | 'reverted' }
  /** A row made `reversed` whose transaction is back on chain, successful, and credited by no other row. */
  | { kind: 'reversed_on_chain'; paymentId: number; txHash: string; amount: string; blockNumber: bigint }
  /** A recorded refund the chain does not show paying what was recorded (the money is due again). */
  | { kind: 'refund_unverified'; paymentId: number; txHash: string; problem: string }
  /** A paid upload quote with no listing saved, nothing due back, past its deadline: its job was lost. */
  | { kind: 'paid_no_listing'; quoteId: string; uploadId: string; expiresAt: string }
  /** A paid renewal never applied to its listing, nothing due back. */
  | { kind: 'renewal_not_applied'; quoteId: string; listingId: string | null; expiresAt: string };

export interface ReconcileReturnType {
  /** The confirmed block the chain was read at. */
  height: bigint;
  quotesChecked: number;
  merchantTransfersChecked: number;
  /** Ledger rows naming a transaction (unmatched, reversed, refunds) checked against the chain. */
  ledgerRowsChecked: number;
  /** Blocks read whole for transfers to the merchant (from `fromBlock` to `height`). */
  blocksRead: number;
  differences: Difference[];
  /** Differences recorded by `repair`. */
  repaired: number;
  /**
   * Quotes in the ledger issued under other settings than `deposits` and `alsoSettings` (another
   * deployment's sharing the database, or this one's before a change of merchant or token): not judged.
   */
  notJudged: { merchant: Address; token: Address | null; quotes: number }[];
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
    // Under its stored salt: a quote issued under an earlier DEPOSIT_SALT_KEY is still ours.
    if (depositAddressOf(settings, quote.quoteId, quote.depositSalt as Hex | null) !== quote.depositAddress) continue;
    const key = `${settings.merchant}:${settings.token ?? 'native'}`;
    const group = groups.get(key) ?? { settings, quotes: [] };
    group.quotes.push(quote);
    groups.set(key, group);
  }
  return new Map([...groups.values()].map(({ settings, quotes }) => [settings, quotes]));
}

/** Each (merchant, token) once, lower case. */
function uniqueSettings(list: readonly DepositSettings[]): DepositSettings[] {
  const byKey = new Map<string, DepositSettings>();
  for (const d of list) {
    const settings = { merchant: d.merchant.toLowerCase() as Address, token: (d.token?.toLowerCase() ?? null) as Address | null };
    byKey.set(`${settings.merchant}:${settings.token ?? 'native'}`, settings);
  }
  return [...byKey.values()];
}

/**
 * Compares the chain with the Postgres ledger: for every deposit address this merchant ever issued,
 * what it received in all (balance plus swept) against what the ledger credited; and every transfer
 * to the plain merchant address in the range against the ledger's `unmatched` rows. Quotes of other
 * merchants or tokens (another deployment sharing the database) are not this merchant's to judge.
 */
export async function reconcilePayments(params: ReconcileParameters): Promise<ReconcileReturnType> {
  const { db, chain, chainId, deposits, repair } = params;
  // Read where the watcher's passes read (the same helper): money they may not count yet is not a difference.
  const height = await confirmedHeight(chain, params);
  const blockTime = Number((await chain.getBlock({ blockNumber: height })).timestamp) * 1000;
  const ledger = await ledgerTotals(db, chainId);
  const differences: Difference[] = [];
  let repaired = 0;
  let quotesChecked = 0;
  const ourQuoteIds = new Set<string>();
  const sweeps: DepositSweep[] = [];
  // Each quote under the settings it was issued with (its merchant and token): a quote from before a
  // change of MERCHANT_ADDRESS or PAYMENT_TOKEN is still checked, in its own asset, by its own factory.
  const judged = [deposits, ...(params.alsoSettings ?? [])].map((d) => `${d.merchant.toLowerCase()}:${d.token?.toLowerCase() ?? 'native'}`);
  const notJudged: ReconcileReturnType['notJudged'] = [];
  // A quote's other offers, and assets it did not offer, are at the same address in other assets: judged with the quote's merchant.
  const merchants = new Set([deposits, ...(params.alsoSettings ?? [])].map((d) => d.merchant.toLowerCase()));
  for (const [settings, group] of quotesBySettings(ledger.quotes, deposits)) {
    const own = judged.includes(`${settings.merchant}:${settings.token ?? 'native'}`);
    const ours = group.filter((quote) => own || (quote.otherAsset === true && merchants.has(settings.merchant)));
    // Named, so a "matches" under new settings never hides the quotes issued under the old ones.
    if (!own && group.length > ours.length) notJudged.push({ merchant: settings.merchant, token: settings.token, quotes: group.length - ours.length });
    if (ours.length === 0) continue;
    quotesChecked += ours.length;
    for (const quote of ours) ourQuoteIds.add(quote.quoteId);
    const groupSweeps = await readSweeps(chain, settings, { fromBlock: 0n, toBlock: height });
    sweeps.push(...groupSweeps);
    const swept = new Map<string, bigint>();
    for (const sweep of groupSweeps) swept.set(sweep.deposit, (swept.get(sweep.deposit) ?? 0n) + sweptIn(sweep, settings.token));
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
              .reduce((sum, sweep) => sum + sweptIn(sweep, settings.token), 0n)
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

  // Transfers to the plain merchant address: top-level native ones and token Transfer logs (sweeps
  // excluded); to the merchants of --also too (a deployment's merchant before a change), each in its
  // token, since the watcher's passes read only the configured merchant's.
  const merchantSettings = uniqueSettings([deposits, ...(params.alsoSettings ?? [])]);
  const merchantAddresses = new Set(merchantSettings.map((d) => d.merchant));
  const recorded = new Set(ledger.unmatched.map((u) => `${u.txHash}:${u.logIndex ?? 'native'}`));
  const sweepTxs = new Set(sweeps.map((s) => s.txHash));
  let found: { transfer: CreditTransfer; merchant: Address; token: Address | null; blockNumber: bigint; time: number }[] = [];
  const numbers: bigint[] = [];
  for (let n = params.fromBlock < 0n ? 0n : params.fromBlock; n <= height; n++) numbers.push(n);
  for (let i = 0; i < numbers.length; i += 500) {
    const blocks = await Promise.all(numbers.slice(i, i + 500).map((blockNumber) => chain.getBlock({ blockNumber, includeTransactions: true })));
    for (const block of blocks) {
      for (const tx of block.transactions) {
        const to = tx.to?.toLowerCase() as Address | undefined;
        if (to && merchantAddresses.has(to) && tx.value > 0n) {
          found.push({
            transfer: { txHash: tx.hash, logIndex: null, from: tx.from.toLowerCase() as Address, amount: tx.value.toString() },
            merchant: to,
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
  for (const settings of merchantSettings) {
    if (!settings.token || numbers.length === 0) continue;
    const logs = await chain.getLogs({
      address: settings.token,
      event: erc20TransferEvent,
      args: { to: settings.merchant },
      fromBlock: numbers[0],
      toBlock: height,
    });
    for (const t of decodeTransfers(logs as Log[])) {
      if (sweepTxs.has(t.txHash)) continue;
      found.push({
        transfer: { txHash: t.txHash, logIndex: t.logIndex, from: t.from, amount: t.value.toString() },
        merchant: settings.merchant,
        token: settings.token,
        blockNumber: t.blockNumber,
        time: blockTime,
      });
    }
  }
  for (const item of found) {
    if (recorded.has(`${item.transfer.txHash}:${item.transfer.logIndex ?? 'native'}`)) continue;
    differences.push({ kind: 'merchant_missing', transfer: item.transfer, merchant: item.merchant, token: item.token, blockNumber: item.blockNumber });
    if (repair) {
      await applyCredit(db, {
        kind: 'merchant',
        chainId,
        address: item.merchant,
        token: item.token,
        transfer: item.transfer,
        blockNumber: item.blockNumber.toString(),
        blockTime: new Date(item.time).toISOString(),
      });
      repaired += 1;
    }
  }
  // A reversed transfer back in the range read is already `merchant_missing` (which --repair records);
  // the ledger half finds the ones in blocks before it.
  const missingTxs = new Set(differences.flatMap((d) => (d.kind === 'merchant_missing' ? [d.transfer.txHash.toLowerCase()] : [])));
  const ledgerSide = await ledgerToChain(params, ourQuoteIds, height, missingTxs);
  differences.push(...ledgerSide.differences);
  return {
    height,
    quotesChecked,
    merchantTransfersChecked: found.length,
    ledgerRowsChecked: ledgerSide.checked,
    blocksRead: numbers.length,
    differences,
    repaired,
    notJudged,
  };
}

/**
 * The ledger -> chain half: every row that names a transaction is looked up by its hash, wherever its
 * block is (no range: a row is as old as it is). Rows of this merchant's quotes and of its own address
 * only, as for the chain -> ledger half.
 */
async function ledgerToChain(
  params: ReconcileParameters,
  ourQuotes: Set<string>,
  height: bigint,
  reportedMissing: Set<string>,
): Promise<{ differences: Difference[]; checked: number }> {
  const { db, chain, chainId, deposits } = params;
  const records = await ledgerChainRecords(db, chainId);
  const merchants = new Set(uniqueSettings([deposits, ...(params.alsoSettings ?? [])]).map((d) => `${d.merchant}:${d.token ?? 'native'}`));
  const ours = <T extends { quoteId: string | null; toAddress: string; token: string | null }>(rows: T[]) =>
    rows.filter((row) => (row.quoteId !== null ? ourQuotes.has(row.quoteId) : merchants.has(`${row.toAddress}:${row.token ?? 'native'}`)));
  const unmatched = ours(records.unmatched);
  const reversed = ours(records.reversed);
  const refunds = ours(records.refunds);
  const reader = refundChainReader(chain, chainId);
  // A receipt above the confirmed height does not count yet: as if the chain did not show it.
  const confirmedReceipt = async (txHash: string) => {
    const receipt = await reader.receipt(txHash as Address);
    return receipt && receipt.blockNumber <= height ? receipt : null;
  };
  const differences: Difference[] = [];
  const [unmatchedReceipts, reversedReceipts, refundProblems] = await Promise.all([
    Promise.all(unmatched.map((row) => confirmedReceipt(row.txHash))),
    Promise.all(reversed.map((row) => confirmedReceipt(row.txHash))),
    Promise.all(
      refunds.map((refund) =>
        recordedRefundProblem(
          { ...reader, receipt: confirmedReceipt },
          {
            paymentId: refund.paymentId,
            token: refund.token,
            txHash: refund.txHash,
            amount: refund.amount,
            recipients: refund.recipient ? [refund.recipient] : [refund.owner, refund.from].filter((a): a is string => a !== null),
          },
        ),
      ),
    ),
  ]);
  for (const [i, row] of unmatched.entries()) {
    const receipt = unmatchedReceipts[i];
    if (receipt?.status === 'success') continue;
    differences.push({ kind: 'unmatched_gone', paymentId: row.paymentId, txHash: row.txHash, amount: row.amount, reason: receipt ? 'reverted' : 'not_found' });
  }
  for (const [i, row] of reversed.entries()) {
    const receipt = reversedReceipts[i];
    if (receipt?.status !== 'success' || reportedMissing.has(row.txHash.toLowerCase())) continue;
    differences.push({ kind: 'reversed_on_chain', paymentId: row.paymentId, txHash: row.txHash, amount: row.amount, blockNumber: receipt.blockNumber });
  }
  for (const [i, refund] of refunds.entries()) {
    const problem = refundProblems[i];
    if (problem) differences.push({ kind: 'refund_unverified', paymentId: refund.paymentId, txHash: refund.txHash, problem });
  }
  for (const quote of await stalledQuotes(db, chainId, params.lostWorkAfterMs ?? LOST_WORK_AFTER_MS)) {
    if (!ourQuotes.has(quote.quoteId)) continue;
    differences.push(
      quote.purpose === 'renewal'
        ? { kind: 'renewal_not_applied', quoteId: quote.quoteId, listingId: quote.listingId, expiresAt: quote.expiresAt }
        : { kind: 'paid_no_listing', quoteId: quote.quoteId, uploadId: quote.uploadId, expiresAt: quote.expiresAt },
    );
  }
  return { differences, checked: unmatched.length + reversed.length + refunds.length };
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
      return `transfer ${d.transfer.txHash}${d.transfer.logIndex === null ? '' : `#${d.transfer.logIndex}`} of ${d.transfer.amount} from ${d.transfer.from} to the merchant ${d.merchant} in block ${d.blockNumber} is not in the ledger`;
    case 'unmatched_gone':
      return `payment ${d.paymentId}: the ledger owes back ${d.amount} of transfer ${d.txHash}, which the chain ${d.reason === 'reverted' ? 'shows reverted' : 'no longer shows'} (nothing arrived: do not refund it)`;
    case 'reversed_on_chain':
      return `payment ${d.paymentId} is reversed, but its transfer ${d.txHash} of ${d.amount} is on chain again in block ${d.blockNumber} and no ledger row credits it`;
    case 'refund_unverified':
      return `payment ${d.paymentId}: its recorded refund ${d.txHash} does not stand on chain (${d.problem}); the money is still due back`;
    case 'paid_no_listing':
      return `quote ${d.quoteId}: upload ${d.uploadId} is paid, but no listing was saved and nothing is due back (deadline ${d.expiresAt}): its job was lost`;
    case 'renewal_not_applied':
      return `quote ${d.quoteId}: the renewal of listing ${d.listingId ?? '(none)'} is paid, but was never applied and nothing is due back (deadline ${d.expiresAt})`;
  }
}

/** Where a run starts reading blocks for transfers to the merchant, and why there. */
export interface ReconcileStart {
  fromBlock: bigint;
  source: 'argument' | 'checkpoint' | 'deployment' | 'no_factory';
}

/** Blocks read back when the factory is not on chain yet (nothing was swept, so no better start is known). */
export const NO_FACTORY_WINDOW = 10_000n;

/** The first block with code at `address` (given that the head has it): a binary search, one archive read per step. */
async function deploymentBlockOf(chain: PublicClient, address: Address, head: bigint): Promise<bigint | null> {
  const hasCode = async (blockNumber: bigint) => ((await chain.getCode({ address, blockNumber })) ?? '0x') !== '0x';
  if (!(await hasCode(head))) return null;
  let low = 0n;
  let high = head;
  while (low < high) {
    const middle = (low + high) / 2n;
    if (await hasCode(middle)) high = middle;
    else low = middle + 1n;
  }
  return high;
}

const scopeOf = (chainId: number, deposits: DepositSettings): ReconcileScope => ({ chainId, merchant: deposits.merchant, token: deposits.token });

/**
 * The block a run starts from: `--from-block` when given; else the one after the last block fully
 * reconciled (the checkpoint in Postgres); else the deposit factory's deployment block, found on chain
 * once and recorded. Before the factory is deployed the last NO_FACTORY_WINDOW blocks are read.
 */
export async function reconcileStart(
  params: { db: Knex; chain: PublicClient; chainId: number; deposits: DepositSettings },
  override?: bigint,
): Promise<ReconcileStart> {
  if (override !== undefined) return { fromBlock: override, source: 'argument' };
  const scope = scopeOf(params.chainId, params.deposits);
  let checkpoint = await readReconcileCheckpoint(params.db, scope);
  const head = await params.chain.getBlockNumber({ cacheTime: 0 });
  // A chain reset (a development node started again) or a reorg below the checkpoint: the blocks it
  // vouched for are not this chain's, so reconciliation starts over from the deployment.
  let reset = false;
  if (checkpoint?.lastBlock != null) {
    const block = checkpoint.lastBlock <= head ? await params.chain.getBlock({ blockNumber: checkpoint.lastBlock }).catch(() => null) : null;
    if (block && block.hash.toLowerCase() === checkpoint.lastBlockHash) return { fromBlock: checkpoint.lastBlock + 1n, source: 'checkpoint' };
    checkpoint = undefined;
    reset = true;
  }
  if (checkpoint?.deploymentBlock != null) return { fromBlock: checkpoint.deploymentBlock, source: 'deployment' };
  const factory = depositFactory(params.deposits).address;
  const deployed = await deploymentBlockOf(params.chain, factory, head).catch((error: Error) => {
    // A node that keeps no old state answers the search with an error: name what to do instead.
    throw new Error(
      `cannot find the block the deposit factory ${factory} was deployed in (${error.message.split('\n')[0]}); the node may keep no old state: give --from-block once, the checkpoint takes over from there`,
    );
  });
  if (reset) await saveReconcileCheckpoint(params.db, scope, { reset: true });
  if (deployed === null) return { fromBlock: head > NO_FACTORY_WINDOW ? head - NO_FACTORY_WINDOW : 0n, source: 'no_factory' };
  await saveReconcileCheckpoint(params.db, scope, { deploymentBlock: deployed });
  return { fromBlock: deployed, source: 'deployment' };
}

/**
 * Moves the checkpoint to the run's height when the run reconciled every block after the checkpoint:
 * it started no later than the block after it (or than the factory's deployment, on a first run; with
 * neither recorded, wherever `--from-block` said), and
 * every transfer to the merchant it found is in the ledger (a `merchant_missing` left unrecorded is
 * read again next time). Returns the new checkpoint, or null when it stays.
 */
export async function advanceCheckpoint(
  params: { db: Knex; chain: PublicClient; chainId: number; deposits: DepositSettings },
  fromBlock: bigint,
  result: Pick<ReconcileReturnType, 'height' | 'differences'>,
  repaired: boolean,
): Promise<bigint | null> {
  const scope = scopeOf(params.chainId, params.deposits);
  const checkpoint = await readReconcileCheckpoint(params.db, scope);
  const expected = checkpoint?.lastBlock != null ? checkpoint.lastBlock + 1n : checkpoint?.deploymentBlock;
  // With nothing recorded (the deployment could not be searched for), the operator's --from-block is the start.
  if (expected != null && fromBlock > expected) return null;
  if (!repaired && result.differences.some((d) => d.kind === 'merchant_missing')) return null;
  const block = await params.chain.getBlock({ blockNumber: result.height });
  await saveReconcileCheckpoint(params.db, scope, { lastBlock: { number: result.height, hash: block.hash } });
  return result.height;
}
