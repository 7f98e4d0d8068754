import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express, Response } from 'express';
import type { Redis } from 'ioredis';
import { createChainClient, refundChainReader } from '@reelboard/chain';
import { connectDatabase, type Knex, migrateToLatest } from '@reelboard/db';
import { createBus, type PipelineBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { type ObjectStorage, storageFromEnv } from '@reelboard/storage';
import { signIn } from '@reelboard/testkit/client';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { createApp } from '../src/app.js';
import { type GatewayConfig, loadGatewayConfig } from '../src/config.js';
import { SiweAuth } from '../src/infra/auth.js';
import { createStaging } from '../src/infra/resumable.js';
import { StatusHub } from '../src/infra/status-hub.js';
import { ownerOfRequest } from '../src/infra/upload-timeouts.js';

export const infra = infraEnv();
export const CHAIN_ID = Number(infra.CHAIN_ID);

/** A gateway running in this process against the real Redis, Postgres, S3 server and anvil. */
export interface Gateway {
  base: string;
  app: Express;
  config: GatewayConfig;
  bus: PipelineBus;
  uploads: Uploads;
  db: Knex;
  storage: ObjectStorage;
  stagingDir: string;
  adminToken: string;
  staging: ReturnType<typeof createStaging>;
  /** Signs in with SIWE as an anvil account; returns the bearer token. */
  signIn(key: `0x${string}`): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts a gateway on a free port with its own Redis prefix and staging directory; `env`
 * overrides configuration (small limits, CORS origins, heartbeat interval).
 */
export async function startGateway(redis: Redis, env: Record<string, string> = {}): Promise<Gateway> {
  const log = createLogger('api-gateway-test', 'error');
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://localhost:${(server.address() as AddressInfo).port}`;
  const prefix = `gw-surface-${randomBytes(4).toString('hex')}`;
  const stagingDir = await mkdtemp(join(tmpdir(), 'gw-staging-'));
  const adminToken = randomBytes(24).toString('hex');
  const config = loadGatewayConfig({
    REDIS_URL: infra.REDIS_URL,
    REDIS_PREFIX: prefix,
    STAGING_DIR: stagingDir,
    RPC_URL: infra.RPC_URL,
    CHAIN_ID: infra.CHAIN_ID,
    PUBLIC_URL: base,
    MERCHANT_ADDRESS: ANVIL_ACCOUNTS.merchant.address,
    DATABASE_URL: infra.TEST_DATABASE_URL,
    S3_ENDPOINT: infra.S3_ENDPOINT,
    S3_BUCKET: infra.TEST_S3_BUCKET,
    S3_ACCESS_KEY_ID: infra.S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY: infra.S3_SECRET_ACCESS_KEY,
    S3_FORCE_PATH_STYLE: 'true',
    S3_URL_TTL_SECONDS: '900',
    ADMIN_ADDRESSES: ANVIL_ACCOUNTS.buyer.address,
    ADMIN_TOKEN: adminToken,
    ...env,
  });
  const db = connectDatabase(config.DATABASE_URL, { min: 0, max: 4 });
  await migrateToLatest(db);
  const storage = storageFromEnv(config);
  await storage.ensureBucket();
  const bus = createBus(redis, prefix, 'api-gateway', log);
  const uploads = new Uploads(redis, prefix, bus.status);
  const chain = createChainClient({ rpcUrl: config.RPC_URL, chainId: config.CHAIN_ID });
  const auth = new SiweAuth(redis, chain, { publicUrl: base, chainId: config.CHAIN_ID, nonceTtlSeconds: 300, sessionTtlSeconds: 3600, prefix });
  const hub = new StatusHub(bus.status);
  await hub.start();
  const streams = new Set<Response>();
  const staging = createStaging({ config, redis, stateOf: (id) => uploads.state(id), log, ownerOf: ownerOfRequest });
  const app = createApp({ config, bus, uploads, auth, hub, log, streams, db, storage, redis, staging, refundChain: refundChainReader(chain, config.CHAIN_ID) });
  server.on('request', app);
  return {
    base,
    app,
    config,
    bus,
    uploads,
    db,
    storage,
    stagingDir,
    adminToken,
    staging,
    signIn: async (key) => (await signIn(base, key, CHAIN_ID)).token,
    close: async () => {
      for (const stream of streams) stream.end();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      hub.stop();
      await staging.close();
      await bus.close(1000);
      await db.destroy();
      storage.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await rm(stagingDir, { recursive: true, force: true });
    },
  };
}

/** One Server-Sent Event, or a comment line. */
export type SseItem = { kind: 'event'; id: string | undefined; event: string | undefined; data: string } | { kind: 'comment'; text: string };

/** A status stream read as a client would: items in order, `undefined` once the server ends it. */
export interface SseStream {
  status: number;
  headers: Headers;
  /** The JSON body of a refusal (status other than 200). */
  body: unknown;
  /** The next event or comment; rejects when nothing arrives within `waitMs`. */
  next(waitMs?: number): Promise<SseItem | undefined>;
  /** The next item that is an event (comments skipped). */
  nextEvent(waitMs?: number): Promise<Extract<SseItem, { kind: 'event' }> | undefined>;
  close(): void;
}

/** Opens `GET url` as an event stream with the given headers, parsing it with eventsource-parser. */
export async function openStream(url: string, headers: Record<string, string>): Promise<SseStream> {
  const { createParser } = await import('eventsource-parser');
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const items: (SseItem | undefined)[] = [];
  const waiters: ((item: SseItem | undefined) => void)[] = [];
  const push = (item: SseItem | undefined) => {
    const waiter = waiters.shift();
    if (waiter) waiter(item);
    else items.push(item);
  };
  let body: unknown;
  if (res.status === 200 && res.body) {
    const parser = createParser({
      onEvent: (message) => push({ kind: 'event', id: message.id, event: message.event, data: message.data }),
      onComment: (text) => push({ kind: 'comment', text: text.trim() }),
    });
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch {
        // Aborted by close().
      }
      push(undefined);
    })();
  } else {
    body = await res.json();
  }
  const next = (waitMs = 10_000) =>
    new Promise<SseItem | undefined>((resolve, reject) => {
      if (items.length > 0) return resolve(items.shift());
      const timer = setTimeout(() => reject(new Error(`no event-stream item within ${waitMs} ms`)), waitMs);
      waiters.push((item) => {
        clearTimeout(timer);
        resolve(item);
      });
    });
  const nextEvent = async (waitMs?: number) => {
    for (;;) {
      const item = await next(waitMs);
      if (item === undefined || item.kind === 'event') return item;
    }
  };
  return { status: res.status, headers: res.headers, body, next, nextEvent, close: () => abort.abort() };
}
