import { guardPaymentSettings } from '@reelboard/bus';
import { assertChainId, createChainClient, depositAddressOf, depositDerivationProblem, depositFactory, quoteSettingsOf } from '@reelboard/chain';
import { rpcUrlsFrom } from '@reelboard/config';
import { backfillQuoteSettings, connectDatabase, quotesToWatch } from '@reelboard/db';
import { connectPipeline } from '@reelboard/lifecycle';
import { countRpcError, runService } from '@reelboard/runtime';
import { loadPaymentWatcherConfig } from './config.js';
import { DepositWatcher } from './deposit-watcher.js';
import { handlePaymentSubmitted } from './handle-payment-submitted.js';
import { handleUploadExpire } from './handle-upload-expire.js';
import { handleUploadReceived } from './handle-upload-received.js';
import { rpcRequests, watchRefundsDue } from './metrics.js';
import { ScanLock } from './scan-lock.js';
import { StuckWorkSweeper } from './stuck-work.js';
import { AutoSweeper } from './sweep.js';
import { WatchList } from './watch-list.js';

await runService({
  name: 'payment-watcher',
  loadConfig: () => loadPaymentWatcherConfig(),
  start: async (config, log) => {
    const { redis, bus, uploads } = await connectPipeline(config, 'payment-watcher', log);
    const rpcUrls = rpcUrlsFrom(config);
    const chain = createChainClient({
      rpcUrls,
      chainId: config.CHAIN_ID,
      maxLogRange: config.RPC_MAX_LOG_RANGE,
      rankIntervalMs: config.RPC_RANK_INTERVAL_MS,
      pollingIntervalMs: config.POLL_INTERVAL_MS,
      batchSize: config.RPC_BATCH_SIZE,
      onRequest: () => rpcRequests.inc(),
      onRequestError: countRpcError,
    });
    await assertChainId(chain, config.CHAIN_ID);
    const db = connectDatabase(config.DATABASE_URL, { min: 0, max: config.DATABASE_POOL_MAX });
    watchRefundsDue(db);
    const watchList = new WatchList(redis, config.REDIS_PREFIX);
    const lateWatchMs = config.LATE_WATCH_SECONDS * 1000;
    const deposits = { merchant: config.MERCHANT_ADDRESS, token: config.PAYMENT_TOKEN ?? null };
    // Deposit addresses are computed off chain: a chain that derives them otherwise would take money to addresses no sweep reaches.
    const derivation = await depositDerivationProblem(chain, deposits);
    if (derivation) throw new Error(`payment-watcher refuses to start: deposit addresses would differ on this chain: ${derivation}`);
    // The gateway must quote under the settings this watcher watches and sweeps under.
    const settingsGuard = await guardPaymentSettings(redis, config.REDIS_PREFIX, 'payment-watcher', {
      chainId: config.CHAIN_ID,
      ...deposits,
      sweeperCodeHash: depositFactory(deposits).sweeperCodeHash,
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
    const pollIntervalMs = config.POLL_INTERVAL_MS;
    // Any replica settles hints and expiries; one at a time (the lease) reads new blocks.
    const watcher = new DepositWatcher({
      bus,
      uploads,
      watchList,
      chain,
      lock: new ScanLock(redis, `${config.REDIS_PREFIX}:payment:scan-lock`, Math.max(10_000, pollIntervalMs * 10)),
      log,
      chainId: config.CHAIN_ID,
      deposits,
      confirmations: config.CONFIRMATIONS,
      confirmationPolicy: config.CONFIRMATION_POLICY,
      hashesKept: config.REORG_HASHES_KEPT,
      startBehind: config.SCAN_START_BEHIND,
      maxBlocksPerPass: config.SCAN_MAX_BLOCKS_PER_PASS,
      openReadIntervalMs: config.OPEN_QUOTE_READ_SECONDS * 1000,
      expiredReadIntervalMs: config.EXPIRED_QUOTE_READ_SECONDS * 1000,
      ledger: { quotesToWatch: (expiredAfter) => quotesToWatch(db, { chainId: config.CHAIN_ID, expiredAfter }), lateWatchMs },
    });
    // Redis is a cache of what is watched: after every start the first pass puts back what the ledger
    // has open, whatever Redis holds (a failing pass, Postgres not migrated yet, is retried).
    await watchList.markWatchSetStale();

    bus.consume('upload.received', (upload, context) => handleUploadReceived({ bus, watchList, lateWatchMs }, upload, context), { concurrency });
    // A renewal's quote is watched and expired like an upload's.
    bus.consume('renewal.quoted', (renewal, context) => handleUploadReceived({ bus, watchList, lateWatchMs }, renewal, context), { concurrency });
    bus.consume(
      'payment.submitted',
      (payload, context) => handlePaymentSubmitted({ uploads, chain, watcher, confirmations: config.CONFIRMATIONS, pollIntervalMs }, payload, context),
      { concurrency },
    );
    bus.consume(
      'upload.expire',
      (payload, context) =>
        handleUploadExpire({ bus, uploads, watchList, chainId: config.CHAIN_ID, stagingDir: config.STAGING_DIR, pollIntervalMs }, payload, context),
      { concurrency },
    );
    watcher.start(pollIntervalMs);
    const sweeper = config.SWEEP_PRIVATE_KEY
      ? new AutoSweeper({
          chain,
          rpcUrls,
          chainId: config.CHAIN_ID,
          privateKey: config.SWEEP_PRIVATE_KEY,
          deposits,
          watchList,
          minimums: { native: config.SWEEP_MIN_AMOUNT, token: config.SWEEP_MIN_TOKEN_AMOUNT ?? 0n },
          maxGasPrice: config.SWEEP_MAX_GAS_PRICE,
          redis,
          prefix: config.REDIS_PREFIX,
          intervalMs: config.SWEEP_INTERVAL_SECONDS * 1000,
          log,
        })
      : undefined;
    sweeper?.start();
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
        rpc: async () => void (await chain.getBlockNumber()),
      },
      // The passes go on without Postgres (only a rebuild of the watch set needs it): shown, not gating.
      reported: { postgres: async () => void (await db.raw('SELECT 1')) },
      closers: [
        () => watcher.stop(),
        async () => sweeper?.stop(),
        () => stuckWork.stop(),
        () => bus.close(config.SHUTDOWN_GRACE_MS),
        () => settingsGuard.stop(),
        async () => void (await redis.quit()),
        () => db.destroy(),
      ],
    };
  },
});
