import type { Redis } from 'ioredis';
import { createWalletClient, type PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  chainFor,
  chainTransport,
  type DepositSettings,
  type DepositSweep,
  ensureDepositFactory,
  readBalances,
  type SweepTarget,
  sweepDeposits,
  sweepWouldRevert,
} from '@reelboard/chain';
import type { Logger } from '@reelboard/logger';
import { settingsOfQuote } from './deposit-watcher.js';
import { ScanLock } from './scan-lock.js';
import type { WatchedQuote, WatchList } from './watch-list.js';

/** Deposit addresses swept per transaction: the gas of one sweep stays far below a block's limit. */
export const SWEEP_BATCH = 50;

/** What a deposit address must hold to be worth a sweep's gas, each asset in its own base units. */
export interface SweepMinimums {
  /** The chain's native coin, in wei (0n: anything non-zero). */
  native: bigint;
  /** The quoted ERC-20, in its base units (0n: anything non-zero); unused on a native deployment. */
  token: bigint;
}

export interface SweepWorthParameters {
  chain: PublicClient;
  deposits: DepositSettings;
  quotes: readonly { uploadId: string; address: `0x${string}` }[];
  minimums: SweepMinimums;
}

/**
 * The quotes whose deposit address holds at least its minimum now, of either asset: the quoted token,
 * or native coin (sent by mistake to a token quote, or the price of a native one).
 */
export async function quotesWorthSweeping({ chain, deposits, quotes, minimums }: SweepWorthParameters): Promise<string[]> {
  const head = await chain.getBlockNumber({ cacheTime: 0 });
  const addresses = quotes.map((q) => q.address);
  const native = await readBalances(chain, { addresses, token: null, blockNumber: head });
  const token = deposits.token ? await readBalances(chain, { addresses, token: deposits.token, blockNumber: head }) : [];
  const worth = (held: bigint | undefined, min: bigint) => (held ?? 0n) > 0n && (held ?? 0n) >= min;
  return quotes.filter((_, i) => worth(native[i], minimums.native) || worth(token[i], minimums.token)).map((q) => q.uploadId);
}

/** Watched quotes grouped by the settings their deposit addresses derive from (one factory, one merchant, one token each). */
export function groupBySettings<Q extends Pick<WatchedQuote, 'merchant' | 'token'>>(
  quotes: readonly Q[],
  configured: DepositSettings,
): Map<DepositSettings, Q[]> {
  const byKey = new Map<string, { settings: DepositSettings; quotes: Q[] }>();
  for (const quote of quotes) {
    const settings = settingsOfQuote(quote, configured);
    const key = `${settings.merchant}:${settings.token ?? 'native'}`;
    const group = byKey.get(key) ?? { settings, quotes: [] };
    group.quotes.push(quote);
    byKey.set(key, group);
  }
  return new Map([...byKey.values()].map(({ settings, quotes }) => [settings, quotes]));
}

/** The network's gas price is above the configured cap: nothing was sent. */
export class GasPriceTooHighError extends Error {
  override readonly name = 'GasPriceTooHighError';
  constructor(
    readonly gasPrice: bigint,
    readonly cap: bigint,
  ) {
    super(`the gas price is ${gasPrice} wei, above the sweep cap of ${cap} wei; sweep later`);
  }
}

export interface SweepOutcome {
  sweeps: DepositSweep[];
  /** Quotes whose sweep reverts on its own (a token that refuses the transfer): left for an operator, the rest swept. */
  skipped: { quoteId: string; reason: string }[];
}

/**
 * Sweeps the quotes' deposit addresses in batches. Each batch is simulated first; one that would
 * revert is split in halves until the quotes that revert on their own are found, so one bad deposit
 * never holds back the other 49. With `maxGasPrice`, nothing is sent while gas costs more than that.
 */
export async function sweepInBatches(
  chain: PublicClient,
  { rpcUrls, chainId, privateKey, maxGasPrice }: { rpcUrls: readonly string[]; chainId: number; privateKey: `0x${string}`; maxGasPrice?: bigint | undefined },
  deposits: DepositSettings,
  quotes: readonly SweepTarget[],
): Promise<SweepOutcome> {
  const account = privateKeyToAccount(privateKey);
  // The same endpoints as reads, failing over alike (a signed transaction sent twice is one transaction).
  const wallet = createWalletClient({ account, chain: chainFor({ rpcUrls, chainId }), transport: chainTransport({ rpcUrls, chainId }) });
  const outcome: SweepOutcome = { sweeps: [], skipped: [] };
  if (quotes.length === 0) return outcome;
  if (maxGasPrice !== undefined) {
    const gasPrice = await chain.getGasPrice();
    if (gasPrice > maxGasPrice) throw new GasPriceTooHighError(gasPrice, maxGasPrice);
  }
  await ensureDepositFactory(wallet, chain, deposits);
  const sweepIsolating = async (ids: readonly SweepTarget[]): Promise<void> => {
    const reverts = await sweepWouldRevert(chain, account.address, deposits, ids);
    if (reverts === undefined) {
      outcome.sweeps.push(...(await sweepDeposits(wallet, chain, deposits, ids)).sweeps);
      return;
    }
    if (ids.length === 1) {
      const only = ids[0] as SweepTarget;
      outcome.skipped.push({ quoteId: typeof only === 'string' ? only : only.quoteId, reason: reverts });
      return;
    }
    const half = Math.ceil(ids.length / 2);
    await sweepIsolating(ids.slice(0, half));
    await sweepIsolating(ids.slice(half));
  };
  for (let i = 0; i < quotes.length; i += SWEEP_BATCH) await sweepIsolating(quotes.slice(i, i + SWEEP_BATCH));
  return outcome;
}

/**
 * Sweeps watched deposit addresses into the merchant when they hold enough to be worth the gas, on
 * one replica at a time (a Redis lease: two replicas would sweep the same addresses and race their
 * transactions). The key only pays gas: a sweep can only ever pay the merchant baked into the sweeper.
 */
export class AutoSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly lock: ScanLock;

  constructor(
    private readonly deps: {
      chain: PublicClient;
      rpcUrls: readonly string[];
      chainId: number;
      privateKey: `0x${string}`;
      deposits: DepositSettings;
      watchList: WatchList;
      minimums: SweepMinimums;
      /** No sweep is sent while the gas price (wei) is above this. */
      maxGasPrice?: bigint | undefined;
      redis: Redis;
      prefix: string;
      intervalMs: number;
      log: Logger;
      /** The lease's key under `<prefix>:payment:`, one per chain (default `sweep-lock`, the home chain's). */
      lockKey?: string | undefined;
    },
  ) {
    // Longer than the interval, so the holder keeps it from one run to the next.
    this.lock = new ScanLock(deps.redis, `${deps.prefix}:payment:${deps.lockKey ?? 'sweep-lock'}`, deps.intervalMs * 2 + 10_000);
  }

  /** One run if this replica holds the lease: how many addresses were swept (undefined: another replica sweeps). */
  async sweepOnce(): Promise<number | undefined> {
    if (!(await this.lock.acquire())) return undefined;
    const { chain, deposits, watchList, minimums, log } = this.deps;
    let swept = 0;
    // Each quote is swept by the factory of its own settings, to the merchant it was issued for: a
    // quote from before a change of MERCHANT_ADDRESS or PAYMENT_TOKEN still pays the old merchant.
    for (const [settings, quotes] of groupBySettings(await watchList.watched(), deposits)) {
      // The token minimum is in the configured token's units; another token's is unknown: anything non-zero.
      const groupMinimums = { native: minimums.native, token: settings.token === deposits.token ? minimums.token : 0n };
      const quoteIds = new Set(await quotesWorthSweeping({ chain, deposits: settings, quotes, minimums: groupMinimums }));
      if (quoteIds.size === 0) continue;
      // Each by the salt its quote was issued with (none stored: its id), whatever the gateway's key is now.
      const targets = quotes.filter((q) => quoteIds.has(q.uploadId)).map((q) => ({ quoteId: q.uploadId, salt: q.salt }));
      let outcome: SweepOutcome;
      try {
        outcome = await sweepInBatches(chain, this.deps, settings, targets);
      } catch (error) {
        if (!(error instanceof GasPriceTooHighError)) throw error;
        log.info('automatic sweep waits for a lower gas price', { gasPrice: error.gasPrice.toString(), cap: error.cap.toString(), addresses: quoteIds.size });
        return swept;
      }
      const { sweeps, skipped } = outcome;
      for (const skip of skipped) log.warn('deposit address not swept: its sweep reverts on its own; the others were swept', skip);
      log.info('deposit addresses swept', {
        merchant: settings.merchant,
        token: settings.token,
        count: sweeps.length,
        nativeAmount: sweeps.reduce((s, x) => s + x.native, 0n).toString(),
        tokenAmount: sweeps.reduce((s, x) => s + x.token, 0n).toString(),
        skipped: skipped.length,
      });
      swept += sweeps.length;
    }
    return swept;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweepOnce()
        .then(() => undefined)
        .catch((error: unknown) => {
          this.deps.log.warn('automatic sweep failed; will retry', { error: error instanceof Error ? error.message : String(error) });
        })
        .finally(() => {
          this.running = undefined;
        });
    }, this.deps.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.lock.release();
  }
}
