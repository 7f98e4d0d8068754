import type { Server } from 'node:http';
import type { Response } from 'express';
import type { PublicClient } from 'viem';
import { guardPaymentSettings } from '@reelboard/bus';
import { assertChainId, createChainClient, depositDerivationProblem, depositFactory, refundChainReader } from '@reelboard/chain';
import { chainsFrom, rpcUrlsFrom } from '@reelboard/config';
import { connectDatabase } from '@reelboard/db';
import { connectPipeline } from '@reelboard/lifecycle';
import { countRpcError, runService, watchStagingSpace } from '@reelboard/runtime';
import { storageFromEnv } from '@reelboard/storage';
import { createApp } from './app.js';
import { loadGatewayConfig } from './config.js';
import { SiweAuth } from './infra/auth.js';
import { gatewayReadiness } from './infra/readiness.js';
import { createStaging } from './infra/resumable.js';
import { StatusHub } from './infra/status-hub.js';
import { ownerOfRequest, sizeTimeoutsForUploads } from './infra/upload-timeouts.js';
import { handleListingJob } from './listing-job.js';
import { worldGazetteer } from './places/gazetteer.js';
import { priceQuoter } from './use-cases/quote-price.js';

await runService({
  name: 'api-gateway',
  loadConfig: () => loadGatewayConfig(),
  start: async (config, log) => {
    const { redis, bus, uploads } = await connectPipeline(config, 'api-gateway', log);
    const chain = createChainClient({
      rpcUrls: rpcUrlsFrom(config),
      chainId: config.CHAIN_ID,
      maxLogRange: config.RPC_MAX_LOG_RANGE,
      rankIntervalMs: config.RPC_RANK_INTERVAL_MS,
      onRequestError: countRpcError,
    });
    await assertChainId(chain, config.CHAIN_ID);
    // Every chain in CHAINS is quoted on (its native coin at its own feed): a client each, made when first read.
    const clients = new Map<number, PublicClient>([[config.CHAIN_ID, chain]]);
    const clientOf = (chainId: number): PublicClient => {
      const known = clients.get(chainId);
      if (known) return known;
      const setting = chainsFrom(config).find((c) => c.id === chainId);
      if (!setting) throw new Error(`chain ${chainId} is not in CHAINS`);
      const client = createChainClient({ rpcUrls: setting.rpcUrls, chainId, onRequestError: countRpcError });
      clients.set(chainId, client);
      return client;
    };
    watchStagingSpace(config.STAGING_DIR);
    // Quotes name deposit addresses computed off chain: none is issued where the chain would derive them otherwise.
    const derivation = await depositDerivationProblem(chain, { merchant: config.MERCHANT_ADDRESS, token: config.PAYMENT_TOKEN ?? null });
    if (derivation) throw new Error(`api-gateway refuses to start (it would quote deposit addresses no sweep reaches): ${derivation}`);
    // Quotes must be issued under the settings the watcher watches and sweeps under.
    const settingsGuard = await guardPaymentSettings(redis, config.REDIS_PREFIX, 'api-gateway', {
      chainId: config.CHAIN_ID,
      merchant: config.MERCHANT_ADDRESS,
      token: config.PAYMENT_TOKEN ?? null,
      sweeperCodeHash: depositFactory({ merchant: config.MERCHANT_ADDRESS, token: config.PAYMENT_TOKEN ?? null }).sweeperCodeHash,
    });
    const auth = new SiweAuth(redis, chain, {
      publicUrl: config.PUBLIC_URL,
      chainId: config.CHAIN_ID,
      otherChainIds: config.CHAINS?.map((chain) => chain.id),
      nonceTtlSeconds: config.NONCE_TTL_SECONDS,
      sessionTtlSeconds: config.SESSION_TTL_SECONDS,
      prefix: config.REDIS_PREFIX,
    });
    const hub = new StatusHub(bus.status);
    await hub.start();
    const streams = new Set<Response>();
    const db = connectDatabase(config.DATABASE_URL, { min: 0, max: config.DATABASE_POOL_MAX });
    const storage = storageFromEnv(config);
    const { readiness, reportedChecks } = gatewayReadiness({ redis, db, chain, storage });
    const staging = createStaging({ config, redis, stateOf: (id) => uploads.state(id), log, ownerOf: (req) => ownerOfRequest(req) });
    const app = createApp({
      config,
      bus,
      uploads,
      auth,
      hub,
      log,
      streams,
      db,
      storage,
      redis,
      staging,
      refundChain: refundChainReader(chain, config.CHAIN_ID),
      quotePrice: priceQuoter(config, clientOf),
    });
    // Expired listings' owners told, due S3 objects deleted: one run per slot across replicas.
    await bus.schedule('listings.maintenance', { every: config.LISTING_JOB_INTERVAL_SECONDS * 1000 });
    bus.consume('listings.maintenance', handleListingJob({ db, storage, bus, log, rejectedObjectsMs: config.REJECTED_OBJECTS_DELETE_AFTER_HOURS * 3600_000 }), {
      concurrency: 1,
    });
    // Indexed before serving, so the first place search does not stall every request for it.
    const placesStarted = performance.now();
    const places = worldGazetteer().size;
    log.info('place names indexed', {
      places,
      ms: Math.round(performance.now() - placesStarted),
      heapMiB: Math.round(process.memoryUsage().heapUsed / 1048576),
    });
    const server = await new Promise<Server>((resolve, reject) => {
      const listening = app.listen(config.PORT, (error?: Error) => (error ? reject(error) : resolve(listening)));
    });
    sizeTimeoutsForUploads(server, config);
    log.info('serving the public API', { port: config.PORT });
    return {
      readiness,
      reported: reportedChecks,
      closers: [
        async () => {
          server.close();
          // Event streams never end on their own; a reconnecting client resumes on another replica.
          for (const stream of streams) stream.end();
          hub.stop();
        },
        () => staging.close(),
        () => bus.close(config.SHUTDOWN_GRACE_MS),
        () => settingsGuard.stop(),
        async () => void (await redis.quit()),
        () => db.destroy(),
        async () => storage.close(),
      ],
    };
  },
});
