// The gateway process on real Redis, Postgres, S3 and anvil: its public port serves neither the
// probes nor the metrics (they are on its internal port), and when its RPC provider fails,
// /readyz says so by name and state without repeating the provider's URL, whose path holds the
// API key (nor does the log line that records why).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { infraEnv, repoRoot } from '@reelboard/testkit/infra-env';
import { type RpcProxy, startRpcProxy } from '@reelboard/testkit/rpc-proxy';

const BASE_PORT = Number(process.env.TEST_BASE_PORT ?? 18080) + 60;
const PUBLIC_PORT = BASE_PORT;
const INTERNAL_PORT = BASE_PORT + 1;
const KEY = randomBytes(16).toString('hex');
const infra = infraEnv();

let proxy: RpcProxy;
let gateway: ChildProcess;
let output = '';

const publicUrl = (path: string) => `http://127.0.0.1:${PUBLIC_PORT}${path}`;
const internalUrl = (path: string) => `http://127.0.0.1:${INTERNAL_PORT}${path}`;

beforeAll(async () => {
  proxy = await startRpcProxy(infra.RPC_URL ?? '', KEY);
  gateway = spawn(process.execPath, ['--import', 'tsx', 'services/api-gateway/src/main.ts'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      REDIS_URL: infra.REDIS_URL ?? '',
      REDIS_PREFIX: `internal-${Date.now().toString(36)}`,
      DATABASE_URL: infra.TEST_DATABASE_URL ?? '',
      S3_ENDPOINT: infra.S3_ENDPOINT ?? '',
      S3_BUCKET: infra.TEST_S3_BUCKET ?? '',
      S3_ACCESS_KEY_ID: infra.S3_ACCESS_KEY_ID ?? '',
      S3_SECRET_ACCESS_KEY: infra.S3_SECRET_ACCESS_KEY ?? '',
      S3_FORCE_PATH_STYLE: 'true',
      RPC_URL: proxy.url,
      CHAIN_ID: infra.CHAIN_ID ?? '31337',
      MERCHANT_ADDRESS: '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720',
      PUBLIC_URL: `http://localhost:${PUBLIC_PORT}`,
      PORT: String(PUBLIC_PORT),
      INTERNAL_PORT: String(INTERNAL_PORT),
      STAGING_DIR: '/tmp/reelboard-internal-endpoints-test',
      LOG_LEVEL: 'info',
    },
  });
  gateway.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  gateway.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (gateway.exitCode !== null) throw new Error(`the gateway exited with ${gateway.exitCode}: ${output}`);
    if (
      await fetch(internalUrl('/healthz')).then(
        (res) => res.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) throw new Error('the gateway did not start');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

afterAll(async () => {
  if (gateway && gateway.exitCode === null) {
    const exited = new Promise((resolve) => gateway.once('exit', resolve));
    gateway.kill('SIGTERM');
    await exited;
  }
  await proxy?.close();
});

describe('internal endpoints', () => {
  it('are not on the public port, and are on the internal one', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await fetch(publicUrl(path));
      expect(res.status, `public ${path}`).toBe(404);
      expect(await res.text(), `public ${path}`).not.toMatch(/process_cpu|checks/);
    }
    // The public port is the API's.
    expect((await fetch(publicUrl('/v1/hashtags?prefix=a'))).status).toBe(200);
    expect((await fetch(internalUrl('/healthz'))).status).toBe(200);
    expect(await (await fetch(internalUrl('/metrics'))).text()).toMatch(/process_cpu_seconds_total\{service="api-gateway"\}/);
    const ready = await fetch(internalUrl('/readyz'));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true, degraded: false, checks: { redis: 'ok', postgres: 'ok', rpc: 'ok', s3: 'ok' } });
    // And the internal port serves nothing else.
    expect((await fetch(internalUrl('/v1/hashtags?prefix=a'))).status).toBe(404);
  });

  it('/readyz names a failing RPC by its state only: its URL and key never leak, not even to the log', async () => {
    proxy.refuse = true;
    try {
      const res = await fetch(internalUrl('/readyz'));
      const text = await res.text();
      // The RPC does not gate the gateway (an outage hits every replica): still ready, degraded.
      expect(res.status).toBe(200);
      expect(JSON.parse(text)).toEqual({ ok: true, degraded: true, checks: { redis: 'ok', postgres: 'ok', rpc: 'down', s3: 'ok' } });
      expect(text).not.toContain(KEY);
      expect(text).not.toContain('/v3/');
      // The gateway's log reaches this process through a pipe: waited for, not given a fixed 200 ms.
      const line = await vi.waitFor(
        () => {
          const found = output.split('\n').find((l) => l.includes('readiness check failed'));
          expect(found, output).toBeDefined();
          return found;
        },
        { timeout: 10_000, interval: 50 },
      );
      expect(line).toContain('"check":"rpc"');
      expect(line).toContain('127.0.0.1');
      expect(output).not.toContain(KEY);
    } finally {
      proxy.refuse = false;
    }
  });
});
