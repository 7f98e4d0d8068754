import { connectBus } from '@reelboard/bus';
import { assertChainId, createChainClient } from '@reelboard/chain';
import { runService } from '@reelboard/runtime';
import { loadPaymentWatcherConfig } from './config.js';
import { handlePaymentSubmitted } from './handle-payment-submitted.js';
import { handleUploadExpire } from './handle-upload-expire.js';
import { handleUploadReceived } from './handle-upload-received.js';
import { PaymentLedger } from './payment-ledger.js';
import { ScanLock } from './scan-lock.js';
import { MerchantWatcher } from './watch-merchant.js';

await runService({
  name: 'payment-watcher',
  loadConfig: () => loadPaymentWatcherConfig(),
  start: async (config, log) => {
    const { redis, bus } = connectBus(config, 'payment-watcher', log);
    const chain = createChainClient({ rpcUrl: config.RPC_URL, chainId: config.CHAIN_ID, pollingIntervalMs: config.POLL_INTERVAL_MS });
    await assertChainId(chain, config.CHAIN_ID);
    const ledger = new PaymentLedger(redis, config.REDIS_PREFIX);
    const concurrency = config.PAYMENT_CONCURRENCY;
    const pollIntervalMs = config.POLL_INTERVAL_MS;

    bus.consume('upload.received', (upload, context) => handleUploadReceived({ bus, ledger }, upload, context), { concurrency });
    bus.consume(
      'payment.submitted',
      (payload, context) =>
        handlePaymentSubmitted(
          // A transaction never seen is refused halfway through the expiry's wait for in-flight payments, so
          // the refusal reaches the owner before the upload ends `expired` (the same deadline for both raced).
          { bus, chain, ledger, chainId: config.CHAIN_ID, confirmations: config.CONFIRMATIONS, pollIntervalMs, unseenGraceMs: (config.EXPIRY_MAX_DELAY_SECONDS * 1000) / 2 },
          payload,
          context,
        ),
      {
        concurrency,
        // A transaction that cannot be checked (RPC down for long) is refused, not the upload: it stays payable.
        onGiveUp: async (payload, error, context) => {
          const { uploadId, txHash } = payload as { uploadId: string; txHash: string };
          await ledger.removeInFlight(uploadId, txHash);
          await context.status('payment.rejected', 'awaiting_payment', { reason: `payment could not be verified: ${error.message}` });
        },
      },
    );
    bus.consume(
      'upload.expire',
      (payload, context) =>
        handleUploadExpire({ bus, ledger, stagingDir: config.STAGING_DIR, pollIntervalMs, maxDelayMs: config.EXPIRY_MAX_DELAY_SECONDS * 1000 }, payload, context),
      { concurrency },
    );

    // Any replica verifies submitted hashes; one at a time (the lease) follows new blocks.
    const watcher = new MerchantWatcher({
      bus,
      chain,
      ledger,
      lock: new ScanLock(redis, `${config.REDIS_PREFIX}:payment:scan-lock`, Math.max(10_000, pollIntervalMs * 10)),
      log,
      chainId: config.CHAIN_ID,
      merchant: config.MERCHANT_ADDRESS,
      token: config.PAYMENT_TOKEN ?? null,
      overlapBlocks: config.CONFIRMATIONS,
      startBehind: config.SCAN_START_BEHIND,
      maxBlocksPerPass: 200,
    });
    watcher.start(pollIntervalMs);
    return {
      readiness: {
        redis: async () => void (await redis.ping()),
        rpc: async () => void (await chain.getBlockNumber()),
      },
      closers: [() => watcher.stop(), () => bus.close(config.SHUTDOWN_GRACE_MS), async () => void (await redis.quit())],
    };
  },
});
