import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { connectRedis, RetryLaterError, type StageContext } from '@reelboard/bus';
import { createChainClient, type DepositSettings } from '@reelboard/chain';
import type { Channel, PayloadOf, StatusEvent, StatusEventName, UploadReceived } from '@reelboard/contracts';
import { createBus, type PipelineBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { MERCHANT } from '@reelboard/testkit/anvil';
import { DepositWatcher, type DepositWatcherDeps } from '../../src/deposit-watcher.js';
import { ScanLock } from '../../src/scan-lock.js';
import { WatchList } from '../../src/watch-list.js';

const repoRoot = new URL('../../../..', import.meta.url).pathname;

/** The running local Redis (from scripts/infra/up.sh). */
export function redisUrl(): string {
  const text = readFileSync(join(repoRoot, '.data', 'infra.env'), 'utf8');
  const match = /^REDIS_URL=(.*)$/m.exec(text);
  if (!match?.[1]) throw new Error('REDIS_URL missing from .data/infra.env: start scripts/infra/up.sh');
  return match[1];
}

/** A bus on the real Redis under a prefix of its own, so test files never see each other's keys. */
export function testBus(name: string) {
  const redis = connectRedis(redisUrl(), name);
  const prefix = `test-${name}-${Date.now().toString(36)}`;
  const log = createLogger(name, 'error');
  const bus = createBus(redis, prefix, name, log);
  return { redis, prefix, log, bus };
}

export const PRICE = 10_000_000_000_000_000n;

/** A deposit watcher on anvil (chain 31337, 2 confirmations) with its own bus, lifecycle and watch list, and every status event it published. */
export interface WatcherRig {
  env: ReturnType<typeof testBus>;
  bus: PipelineBus;
  uploads: Uploads;
  watchList: WatchList;
  watcher: DepositWatcher;
  deposits: DepositSettings;
  events: StatusEvent[];
  close(): Promise<void>;
}

/**
 * Starts a watcher rig under its own Redis prefix; its first pass has run when this returns (the chain's head is its start).
 * `options` sets the watcher's read cadence (by default every balance on every pass).
 */
export async function watcherRig(
  name: string,
  rpcUrl: string,
  deposits: DepositSettings,
  options: Pick<DepositWatcherDeps, 'openReadIntervalMs' | 'expiredReadIntervalMs' | 'toleranceBps'> = {},
): Promise<WatcherRig> {
  const env = testBus(name);
  const uploads = new Uploads(env.redis, env.prefix, env.bus.status);
  const watchList = new WatchList(env.redis, env.prefix);
  const watcher = new DepositWatcher({
    bus: env.bus,
    uploads,
    watchList,
    chain: createChainClient({ rpcUrl, chainId: 31337, batchSize: 200 }),
    lock: new ScanLock(env.redis, `${env.prefix}:payment:scan-lock`, 5_000),
    log: env.log,
    chainId: 31337,
    deposits,
    confirmations: 2,
    startBehind: 0,
    maxBlocksPerPass: 200,
    ...options,
  });
  const events: StatusEvent[] = [];
  await env.bus.status.subscribe((event) => events.push(event));
  await watcher.scanOnce();
  return {
    env,
    bus: env.bus,
    uploads,
    watchList,
    watcher,
    deposits,
    events,
    async close() {
      await env.bus.close(1_000);
      await env.redis.quit();
    },
  };
}

/** An upload as the gateway would register it, with a quote open now (overridable). */
export function makeUpload(owner: Hex, quote: Partial<UploadReceived['quote']> = {}): UploadReceived {
  const now = Date.now();
  return {
    uploadId: randomUUID(),
    owner: owner.toLowerCase() as Hex,
    form: { title: 't', description: '', hashtags: [], latitude: 0, longitude: 0 },
    quote: {
      chainId: 31337,
      to: MERCHANT,
      amount: PRICE.toString(),
      token: null,
      createdAt: new Date(now - 2_000).toISOString(),
      expiresAt: new Date(now + 15 * 60_000).toISOString(),
      ...quote,
    },
    staged: { source: 'x/source', sourceBytes: 1 },
    receivedAt: new Date(now).toISOString(),
  };
}

export interface RecordedStatus {
  event: StatusEventName;
  reason?: string;
  message?: string;
}

/** A stage context like the bus gives a handler, recording what the handler reports and emits. */
export function recordingContext(bus: PipelineBus, log: ReturnType<typeof createLogger>) {
  const statuses: RecordedStatus[] = [];
  const emitted: { channel: Channel; payload: unknown }[] = [];
  const context: StageContext = {
    log,
    attempt: 1,
    emit: async <N extends Channel>(next: N, payload: PayloadOf<N>) => {
      emitted.push({ channel: next, payload });
      await bus.publish(next, payload);
    },
    status: async (event, extra = {}) => {
      statuses.push({ event, ...extra });
    },
  };
  return { context, statuses, emitted };
}

/** Runs a handler once; `retry` if it asked to be run again later (as the bus would). */
export async function runOnce(run: () => Promise<void>): Promise<'done' | 'retry'> {
  try {
    await run();
    return 'done';
  } catch (error) {
    if (error instanceof RetryLaterError) return 'retry';
    throw error;
  }
}
