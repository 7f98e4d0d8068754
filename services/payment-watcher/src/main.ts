import type { Redis } from 'ioredis';
import { guardPaymentSettings } from '@reelboard/bus';
import { assertChainId, createChainClient, depositAddressOf, depositDerivationProblem, depositFactory, quoteSettingsOf } from '@reelboard/chain';
import { type ChainSetting, selectChains } from '@reelboard/config';
import { backfillQuoteSettings, connectDatabase, type Knex, quoteAssetsToWatch, quotesToWatch } from '@reelboard/db';
import { announceRefund, connectPipeline, type PipelineBus, type Uploads } from '@reelboard/lifecycle';
import type { Logger } from '@reelboard/logger';
import { countRpcError, runService } from '@reelboard/runtime';
import { loadPaymentWatcherConfig, type PaymentWatcherConfig, watcherChains } from './config.js';
import { DepositWatcher } from './deposit-watcher.js';
import { type HintChain, handlePaymentSubmitted } from './handle-payment-submitted.js';
import { handleUploadExpire } from './handle-upload-expire.js';
import { handleUploadReceived } from './handle-upload-received.js';
import { rpcRequests, watchRefundsDue } from './metrics.js';
import { limitsOnChain } from './refund-config.js';
import { RefundSender } from './refund-sender.js';
import { ScanLock } from './scan-lock.js';
import { StuckWorkSweeper } from './stuck-work.js';
import { AutoSweeper } from './sweep.js';
import { WatchList } from './watch-list.js';

await runService({
  name: 'payment-watcher',
  loadConfig: () => loadPaymentWatcherConfig(),
  start: async (config, log) => {
    const { redis, bus, uploads } = await connectPipeline(config, 'payment-watcher', log);
    const chains = watcherChains(config);
    const home = chains[0]!;
    const watched = selectChains(chains, config.WATCH_CHAINS);
    const db = connectDatabase(config.DATABASE_URL, { min: 0, max: config.DATABASE_POOL_MAX });
    watchRefundsDue(db);
    // Every configured chain has its watch list (Redis keys), watched here or not: a quote on any of
    // them is put where the replica watching that chain reads it.
    const watchLists = new Map(chains.map((chain) => [chain.id, new WatchList(redis, config.REDIS_PREFIX, chain.id === home.id ? undefined : chain.id)]));
    const watchListFor = (chainId: number) => watchLists.get(chainId);
    const lateWatchMs = config.LATE_WATCH_SECONDS * 1000;
    const homeDeposits = { merchant: config.MERCHANT_ADDRESS, token: config.PAYMENT_TOKEN ?? null };
    // The gateway must quote under the settings this watcher watches and sweeps under.
    const settingsGuard = await guardPaymentSettings(redis, config.REDIS_PREFIX, 'payment-watcher', {
      chainId: config.CHAIN_ID,
      ...homeDeposits,
      sweeperCodeHash: depositFactory(homeDeposits).sweeperCodeHash,
    });
    // Quotes recorded before they carried their settings (migration 009) were issued under the
    // configuration running now: each gets it where it derives the quote's own address.
    await backfillQuoteSettings(db, config.CHAIN_ID, (quote) => {
      const settings = { merchant: config.MERCHANT_ADDRESS, token: quote.token };
      return depositAddressOf(settings, quote.quoteId) === quote.depositAddress ? quoteSettingsOf(settings) : undefined;
    }).then(
      ({ filled, left }) => {
        if (filled > 0 || left > 0) log.info('quote settings backfilled from the configuration', { filled, left });
        if (left > 0)
          log.warn('quotes whose address the configured merchant does not derive keep no settings; the configured merchant is assumed for them', { left });
      },
      (error: unknown) =>
        log.warn('quote settings not backfilled (Postgres unreachable or not migrated)', { error: error instanceof Error ? error.message : String(error) }),
    );
    const concurrency = config.PAYMENT_CONCURRENCY;
    // One watcher per chain this replica watches: its own client, lease, cursor, watch set and sweeps.
    const runs: ChainRun[] = [];
    for (const setting of watched) {
      runs.push(await startChain(config, setting, { home: setting.id === home.id, redis, bus, uploads, db, log, watchList: watchListFor(setting.id)! }));
    }
    const homeRun = runs.find((run) => run.setting.id === home.id);
    const pollIntervalMs = config.POLL_INTERVAL_MS;
    // Redis is a cache of what is watched: after every start the first pass puts back what the ledger
    // has open, whatever Redis holds (a failing pass, Postgres not migrated yet, is retried).
    for (const run of runs) await run.watchList.markWatchSetStale();

    // A quote with offers is watched in every asset its offers' chains list: money in one it did not offer is recorded, due back.
    const assetsOf = (chainId: number) => {
      const chain = chains.find((c) => c.id === chainId);
      return chain ? [null, ...chain.tokens.map((token) => token.address)] : [];
    };
    const received = { bus, watchList: watchListFor(home.id)!, lateWatchMs, watchListFor, assetsOf };
    bus.consume('upload.received', (upload, context) => handleUploadReceived(received, upload, context), { concurrency });
    // A renewal's quote is watched and expired like an upload's.
    bus.consume('renewal.quoted', (renewal, context) => handleUploadReceived(received, renewal, context), { concurrency });
    // Hints are checked by the replicas watching the home chain (where the gateway quotes). A hint may name
    // another offered chain: checked by that chain's watcher here, or, where another Deployment watches it,
    // by a client and a deposit watcher of that chain made on the first such hint (never started: the
    // passes stay with their own replica; a hint's settle is idempotent beside them).
    if (homeRun) {
      const hintChains = new Map<number, Promise<HintChain>>();
      const hintChainOf = (chainId: number): Promise<HintChain> | undefined => {
        const run = runs.find((r) => r.setting.id === chainId);
        if (run) return Promise.resolve(hintChainOfRun(run));
        const setting = chains.find((chain) => chain.id === chainId);
        const watchList = watchListFor(chainId);
        if (!setting || !watchList) return undefined;
        let made = hintChains.get(chainId);
        if (!made) {
          made = chainWatcher(config, setting, { home: false, redis, bus, uploads, log, watchList }).then(({ chain, watcher }) => ({
            chain,
            watcher,
            confirmations: setting.confirmations,
            pollIntervalMs: setting.blockTimeMs,
          }));
          // A chain whose RPC failed its check is tried again on the next hint (the job is retried).
          made.catch(() => hintChains.delete(chainId));
          hintChains.set(chainId, made);
        }
        return made;
      };
      bus.consume(
        'payment.submitted',
        (payload, context) =>
          handlePaymentSubmitted(
            { uploads, chainId: home.id, ...hintChainOfRun(homeRun), otherChain: async (chainId) => hintChainOf(chainId), assetsOf },
            payload,
            context,
          ),
        { concurrency },
      );
    }
    bus.consume(
      'upload.expire',
      (payload, context) =>
        handleUploadExpire(
          {
            bus,
            uploads,
            watchList: watchListFor(home.id)!,
            watchListFor,
            watchLists: [...watchLists.values()],
            chainId: home.id,
            stagingDir: config.STAGING_DIR,
            pollIntervalMs,
            assetsOf,
          },
          payload,
          context,
        ),
      { concurrency },
    );
    for (const run of runs) run.start();
    log.info('watching chains', { chains: runs.map((run) => `${run.setting.id} (${run.setting.name})`) });
    const stuckWork = new StuckWorkSweeper({
      redis,
      prefix: config.REDIS_PREFIX,
      uploads,
      publishFailed: async (failure) => void (await bus.publish('upload.failed', failure)),
      deadlines: {
        paidMs: config.STUCK_PAID_SECONDS * 1000,
        processingMs: config.STUCK_PROCESSING_SECONDS * 1000,
        renewalMs: config.STUCK_RENEWAL_SECONDS * 1000,
      },
      log,
      intervalMs: config.STUCK_SWEEP_INTERVAL_SECONDS * 1000,
    });
    stuckWork.start();
    return {
      readiness: {
        redis: async () => void (await redis.ping()),
        rpc: async () => void (await Promise.all(runs.map((run) => run.chain.getBlockNumber()))),
      },
      // The passes go on without Postgres (only a rebuild of the watch set needs it): shown, not gating.
      reported: { postgres: async () => void (await db.raw('SELECT 1')) },
      closers: [
        ...runs.map((run) => () => run.stop()),
        () => stuckWork.stop(),
        () => bus.close(config.SHUTDOWN_GRACE_MS),
        () => settingsGuard.stop(),
        async () => void (await redis.quit()),
        () => db.destroy(),
      ],
    };
  },
});

/**
 * One chain's client (refused when the RPC serves another chain) and its deposit watcher under its own
 * lease and cursor, not started: startChain runs its passes; a hint naming a chain another replica
 * watches uses it only to read and settle.
 */
async function chainWatcher(
  config: PaymentWatcherConfig,
  setting: ChainSetting,
  deps: { home: boolean; redis: Redis; bus: PipelineBus; uploads: Uploads; db?: Knex; log: Logger; watchList: WatchList },
) {
  const { home, redis, bus, uploads, db, log, watchList } = deps;
  const label = `chain ${setting.id} (${setting.name})`;
  const chain = createChainClient({
    rpcUrls: setting.rpcUrls,
    chainId: setting.id,
    maxLogRange: config.RPC_MAX_LOG_RANGE,
    rankIntervalMs: config.RPC_RANK_INTERVAL_MS,
    pollingIntervalMs: setting.blockTimeMs,
    batchSize: config.RPC_BATCH_SIZE,
    onRequest: () => rpcRequests.inc({ chain: String(setting.id) }),
    onRequestError: countRpcError,
  });
  try {
    await assertChainId(chain, setting.id);
  } catch (error) {
    throw new Error(`${label}: ${error instanceof Error ? error.message : String(error)}`);
  }
  // The home chain keeps the single token PAYMENT_TOKEN names; another chain's merchant transfers are read in its first token.
  const deposits = { merchant: config.MERCHANT_ADDRESS, token: home ? (config.PAYMENT_TOKEN ?? null) : (setting.tokens[0]?.address ?? null) };
  const scope = home ? '' : `chain:${setting.id}:`;
  const watcher = new DepositWatcher({
    bus,
    uploads,
    watchList,
    chain,
    lock: new ScanLock(redis, `${config.REDIS_PREFIX}:payment:${scope}scan-lock`, Math.max(10_000, setting.blockTimeMs * 10)),
    log: log.child({ chainId: setting.id }),
    chainId: setting.id,
    deposits,
    toleranceBps: config.PAYMENT_TOLERANCE_BPS,
    confirmations: setting.confirmations,
    confirmationPolicy: setting.confirmationPolicy,
    hashesKept: config.REORG_HASHES_KEPT,
    startBehind: config.SCAN_START_BEHIND,
    maxBlocksPerPass: config.SCAN_MAX_BLOCKS_PER_PASS,
    openReadIntervalMs: config.OPEN_QUOTE_READ_SECONDS * 1000,
    expiredReadIntervalMs: config.EXPIRED_QUOTE_READ_SECONDS * 1000,
    ledger: db
      ? {
          quotesToWatch: (expiredAfter) => quotesToWatch(db, { chainId: setting.id, expiredAfter }),
          quoteAssetsToWatch: (expiredAfter) => quoteAssetsToWatch(db, { chainId: setting.id, expiredAfter }),
          chainAssets: [null, ...setting.tokens.map((token) => token.address)],
          lateWatchMs: config.LATE_WATCH_SECONDS * 1000,
        }
      : undefined,
  });
  return { chain, watcher, deposits, scope };
}

/**
 * Starts watching one chain: its client (refused when the RPC serves another chain), the CREATE2
 * check for the native coin and each accepted token (refused with the reason where deposit addresses
 * would differ), its deposit watcher under its own lease and cursor, and its automatic sweeper.
 */
async function startChain(
  config: PaymentWatcherConfig,
  setting: ChainSetting,
  deps: { home: boolean; redis: Redis; bus: PipelineBus; uploads: Uploads; db: Knex; log: Logger; watchList: WatchList },
) {
  const { redis, uploads, db, log, watchList } = deps;
  const label = `chain ${setting.id} (${setting.name})`;
  const { chain, watcher, deposits, scope } = await chainWatcher(config, setting, deps).catch((error: Error) => {
    throw new Error(`payment-watcher refuses to start: ${error.message}`);
  });
  // Deposit addresses are computed off chain: a chain that derives them otherwise would take money to addresses no sweep reaches.
  for (const token of [null, ...setting.tokens.map((t) => t.address)]) {
    const derivation = await depositDerivationProblem(chain, { merchant: config.MERCHANT_ADDRESS, token });
    if (derivation)
      throw new Error(
        `payment-watcher refuses to start: deposit addresses would differ on this chain: ${derivation} (${label}, ${token ?? setting.native.symbol})`,
      );
  }
  const sweeper = config.SWEEP_PRIVATE_KEY
    ? new AutoSweeper({
        chain,
        rpcUrls: setting.rpcUrls,
        chainId: setting.id,
        privateKey: config.SWEEP_PRIVATE_KEY,
        deposits,
        watchList,
        minimums: { native: config.SWEEP_MIN_AMOUNT, token: config.SWEEP_MIN_TOKEN_AMOUNT ?? 0n },
        maxGasPrice: config.SWEEP_MAX_GAS_PRICE,
        redis,
        prefix: config.REDIS_PREFIX,
        intervalMs: config.SWEEP_INTERVAL_SECONDS * 1000,
        log,
        lockKey: `${scope}sweep-lock`,
      })
    : undefined;
  // Refunds are paid on the chain (and in the asset) of the payment, by one replica per chain.
  const refunds = config.REFUND_PRIVATE_KEY
    ? new RefundSender({
        db,
        chain,
        setting,
        privateKey: config.REFUND_PRIVATE_KEY,
        maxFeePerGas: config.REFUND_MAX_FEE_PER_GAS,
        dailyLimits: limitsOnChain(setting, config.REFUND_DAILY_LIMIT),
        autoApprove: limitsOnChain(setting, config.REFUND_AUTO_APPROVE_MAX),
        lock: new ScanLock(redis, `${config.REDIS_PREFIX}:payment:${scope}refund-lock`, config.REFUND_INTERVAL_SECONDS * 2000 + 10_000),
        onRefunded: (outcome) => announceRefund(uploads, outcome, 'refund-wallet'),
        log: log.child({ chainId: setting.id }),
      })
    : undefined;
  return {
    setting,
    chain,
    watcher,
    watchList,
    start: () => {
      watcher.start(setting.blockTimeMs);
      sweeper?.start();
      refunds?.start(config.REFUND_INTERVAL_SECONDS * 1000);
    },
    stop: async () => {
      await watcher.stop();
      await sweeper?.stop();
      await refunds?.stop();
    },
  };
}

type ChainRun = Awaited<ReturnType<typeof startChain>>;

const hintChainOfRun = (run: ChainRun): HintChain => ({
  chain: run.chain,
  watcher: run.watcher,
  confirmations: run.setting.confirmations,
  pollIntervalMs: run.setting.blockTimeMs,
});
