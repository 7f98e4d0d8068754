import { createWalletClient, type PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { chainFor, chainTransport, readBalances, sweepDeposits, type DepositSettings, type DepositSweep } from '@reelboard/chain';
import type { Logger } from '@reelboard/logger';
import type { WatchList } from './watch-list.js';

/** Deposit addresses swept per transaction: the gas of one sweep stays far below a block's limit. */
export const SWEEP_BATCH = 50;

export interface SweepWorthParameters {
  chain: PublicClient;
  deposits: DepositSettings;
  quotes: readonly { uploadId: string; address: `0x${string}` }[];
  /** Only addresses holding at least this much are swept (0n: anything non-zero). */
  minAmount: bigint;
}

/** The quotes whose deposit address holds at least `minAmount` now, in the quoted asset. */
export async function quotesWorthSweeping({ chain, deposits, quotes, minAmount }: SweepWorthParameters): Promise<string[]> {
  const head = await chain.getBlockNumber({ cacheTime: 0 });
  const balances = await readBalances(chain, { addresses: quotes.map((q) => q.address), token: deposits.token, blockNumber: head });
  return quotes.filter((_, i) => (balances[i] ?? 0n) > 0n && (balances[i] ?? 0n) >= minAmount).map((q) => q.uploadId);
}

/** Sweeps the quotes' deposit addresses in batches; returns every sweep made. */
export async function sweepInBatches(
  chain: PublicClient,
  { rpcUrls, chainId, privateKey }: { rpcUrls: readonly string[]; chainId: number; privateKey: `0x${string}` },
  deposits: DepositSettings,
  quoteIds: readonly string[],
): Promise<DepositSweep[]> {
  // The same endpoints as reads, failing over alike (a signed transaction sent twice is one transaction).
  const wallet = createWalletClient({ account: privateKeyToAccount(privateKey), chain: chainFor({ rpcUrls, chainId }), transport: chainTransport({ rpcUrls, chainId }) });
  const swept: DepositSweep[] = [];
  for (let i = 0; i < quoteIds.length; i += SWEEP_BATCH) {
    const { sweeps } = await sweepDeposits(wallet, chain, deposits, quoteIds.slice(i, i + SWEEP_BATCH));
    swept.push(...sweeps);
  }
  return swept;
}

/**
 * Sweeps watched deposit addresses into the merchant when they hold enough to be worth the gas.
 * The key only pays gas: a sweep can only ever pay the merchant baked into the sweeper.
 */
export class AutoSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      chain: PublicClient;
      rpcUrls: readonly string[];
      chainId: number;
      privateKey: `0x${string}`;
      deposits: DepositSettings;
      watchList: WatchList;
      minAmount: bigint;
      log: Logger;
    },
  ) {}

  async sweepOnce(): Promise<number> {
    const { chain, deposits, watchList, minAmount, log } = this.deps;
    const quoteIds = await quotesWorthSweeping({ chain, deposits, quotes: await watchList.watched(), minAmount });
    if (quoteIds.length === 0) return 0;
    const sweeps = await sweepInBatches(chain, this.deps, deposits, quoteIds);
    log.info('deposit addresses swept', { count: sweeps.length, native: sweeps.reduce((s, x) => s + x.native, 0n).toString(), token: sweeps.reduce((s, x) => s + x.token, 0n).toString() });
    return sweeps.length;
  }

  start(intervalMs: number): void {
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
    }, intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
