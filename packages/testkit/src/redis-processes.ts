// Redis servers and sentinels a test starts as real processes (Debian's redis-server; a sentinel
// is `redis-server <conf> --sentinel`, what the redis-sentinel package runs), on free ports, in a
// temp dir, so a test can kill a master and watch the sentinels promote its replica.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { repoRoot } from './infra-env.js';

const HOST = '127.0.0.1';

/** A TCP port nobody listens on now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RedisProcess {
  readonly port: number;
  readonly pid: number | undefined;
  /** A plain client of this one process (no retries: for checks). */
  client(): Redis;
  /** Sends the signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A group of Redis processes sharing one temp dir; `close` kills them all and removes it. */
export interface RedisProcesses {
  /** A redis-server with extra config directives (`['maxmemory-policy', 'allkeys-lru']`). */
  server(options?: { directives?: string[][]; replicaOf?: number }): Promise<RedisProcess>;
  /** A sentinel monitoring `master` (port) as `name`, with short failure detection for tests. */
  sentinel(options: { master: number; name: string; quorum: number; downAfterMs?: number }): Promise<RedisProcess>;
  close(): Promise<void>;
}

async function waitForPing(port: number, child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis process on :${port} exited with ${child.exitCode}`);
    const probe = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`redis process on :${port} did not answer within ${timeoutMs} ms`);
}

export async function redisProcesses(label: string): Promise<RedisProcesses> {
  const base = await mkdtemp(join(tmpdir(), `reelboard-${label}-`));
  const logDir = join(repoRoot, 'test-artifacts', 'logs', label);
  mkdirSync(logDir, { recursive: true });
  const children = new Set<ChildProcess>();

  const launch = async (kind: string, port: number, config: string, sentinel: boolean): Promise<RedisProcess> => {
    const dir = join(base, `${kind}-${port}`);
    mkdirSync(dir);
    const file = join(dir, `${kind}.conf`);
    writeFileSync(file, `${config}\ndir ${dir}\n`);
    const child = spawn('redis-server', sentinel ? [file, '--sentinel'] : [file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(join(logDir, `${kind}-${port}.log`), { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    children.add(child);
    child.once('exit', () => children.delete(child));
    await waitForPing(port, child);
    return {
      port,
      pid: child.pid,
      client: () => new Redis({ host: HOST, port, maxRetriesPerRequest: 1, retryStrategy: () => null }),
      kill: async (signal = 'SIGKILL') => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill(signal);
        await exited;
      },
    };
  };

  return {
    async server({ directives = [], replicaOf } = {}) {
      const port = await freePort();
      const lines = [
        `port ${port}`,
        `bind ${HOST}`,
        'save ""',
        'appendonly no',
        ...(replicaOf ? [`replicaof ${HOST} ${replicaOf}`] : []),
        ...directives.map((d) => d.join(' ')),
      ];
      return launch(replicaOf ? 'replica' : 'redis', port, lines.join('\n'), false);
    },
    async sentinel({ master, name, quorum, downAfterMs = 1_000 }) {
      const port = await freePort();
      const lines = [
        `port ${port}`,
        `bind ${HOST}`,
        `sentinel monitor ${name} ${HOST} ${master} ${quorum}`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} 10000`,
        `sentinel parallel-syncs ${name} 1`,
      ];
      return launch('sentinel', port, lines.join('\n'), true);
    },
    async close() {
      await Promise.all(
        [...children].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGKILL');
            }),
        ),
      );
      await rm(base, { recursive: true, force: true });
    },
  };
}
