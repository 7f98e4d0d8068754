import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, createWriteStream, mkdirSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './infra-env.js';
import { portOpen } from './ports.js';

const run = promisify(execFile);
/** The Postgres binaries scripts/infra would run (PG_BIN, the cluster's or the distribution's major). */
const PG_BIN =
  process.env.PG_BIN ??
  execFileSync('bash', ['-c', 'source "$1"; pg_bin_dir', 'pg-bin', join(repoRoot, 'scripts', 'infra', 'lib.sh')], { encoding: 'utf8' }).trim();
const HOST = '127.0.0.1';

/** One engine the test owns: it can stop it (gracefully or not) and start it again on the same data. */
export interface PrivateEngine {
  readonly name: string;
  readonly port: number;
  /** Starts the engine (again) on its data directory and waits until it answers. */
  start(): Promise<void>;
  /** Stops it: SIGTERM lets it flush (Redis AOF, anvil state), SIGKILL does not. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  readonly running: boolean;
}

/** Redis, Postgres+PostGIS, an S3 server and anvil, private to one test file, on their own ports. */
export interface PrivateInfra {
  redis: PrivateEngine;
  postgres: PrivateEngine;
  s3: PrivateEngine;
  anvil: PrivateEngine;
  /** Overrides for startStack: the six services talk to these engines only. */
  env: Record<string, string>;
  /** Where s3rver keeps the bucket's objects on disk (`<key>._S3rver_object`), to check what was left. */
  bucketDir: string;
  /** Stops every engine and removes their data. */
  close(): Promise<void>;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

function findAnvil(): string {
  const base = join(repoRoot, 'node_modules', '.pnpm');
  const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const dir = readdirSync(base)
    .filter((entry) => entry.startsWith(`@foundry-rs+anvil-linux-${arch}@`))
    .sort()
    .at(-1);
  if (!dir) throw new Error('anvil binary not found under node_modules/.pnpm (run pnpm install)');
  return join(base, dir, 'node_modules', '@foundry-rs', `anvil-linux-${arch}`, 'bin', 'anvil');
}

/** A long-running child process the test starts, kills and restarts on the same data. */
function processEngine(name: string, port: number, logDir: string, command: () => [string, string[]], ready: () => Promise<boolean>): PrivateEngine {
  let child: ChildProcess | undefined;
  return {
    name,
    port,
    get running() {
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (this.running) return;
      const [file, args] = command();
      const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
      child = spawn(file, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout?.pipe(log);
      child.stderr?.pipe(log);
      const started = child;
      await waitUntil(`${name} on :${port}`, async () => {
        if (started.exitCode !== null) throw new Error(`${name} exited with ${started.exitCode}`);
        return ready();
      });
    },
    async stop(signal = 'SIGTERM') {
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      const exited = new Promise((resolve) => current.once('exit', resolve));
      current.kill(signal);
      await exited;
      child = undefined;
    },
  };
}

/** A Postgres cluster of its own (initdb into a temp dir), run as the `postgres` user when root. */
function postgresEngine(port: number, base: string): PrivateEngine {
  const pgdata = join(base, 'pgdata');
  const sockets = join(base, 'sock');
  const asPg = (file: string, args: string[]) =>
    process.getuid?.() === 0 ? run('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: '/' }) : run(file, args);
  let running = false;
  let initialised = false;
  return {
    name: 'postgres',
    port,
    get running() {
      return running;
    },
    async start() {
      if (running) return;
      if (!initialised) {
        mkdirSync(pgdata, { recursive: true });
        mkdirSync(sockets, { recursive: true });
        if (process.getuid?.() === 0) {
          const { stdout } = await run('id', ['-u', 'postgres']);
          const { stdout: gid } = await run('id', ['-g', 'postgres']);
          chmodSync(base, 0o755);
          for (const dir of [pgdata, sockets]) chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
        }
        chmodSync(pgdata, 0o700);
        // Trust: a throwaway cluster bound to loopback, for one test file.
        await asPg(join(PG_BIN, 'initdb'), ['-D', pgdata, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale']);
        initialised = true;
      }
      await asPg(join(PG_BIN, 'pg_ctl'), [
        '-D',
        pgdata,
        '-l',
        join(pgdata, 'server.log'),
        '-w',
        '-t',
        '60',
        '-o',
        `-p ${port} -k ${sockets} -c listen_addresses=${HOST} -c fsync=off`,
        'start',
      ]);
      running = true;
      await asPg(join(PG_BIN, 'psql'), [
        '-h',
        sockets,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        'postgres',
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reelboard') THEN CREATE ROLE reelboard LOGIN SUPERUSER PASSWORD 'reelboard'; END IF; END $$;`,
      ]);
      const { stdout } = await asPg(join(PG_BIN, 'psql'), [
        '-h',
        sockets,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        'postgres',
        '-X',
        '-tA',
        '-c',
        `SELECT 1 FROM pg_database WHERE datname = 'reelboard'`,
      ]);
      if (stdout.trim() !== '1') {
        await asPg(join(PG_BIN, 'psql'), [
          '-h',
          sockets,
          '-p',
          String(port),
          '-U',
          'postgres',
          '-d',
          'postgres',
          '-X',
          '-q',
          '-c',
          'CREATE DATABASE reelboard OWNER reelboard',
        ]);
        await asPg(join(PG_BIN, 'psql'), [
          '-h',
          sockets,
          '-p',
          String(port),
          '-U',
          'postgres',
          '-d',
          'reelboard',
          '-X',
          '-q',
          '-c',
          'CREATE EXTENSION IF NOT EXISTS postgis',
        ]);
      }
    },
    async stop(signal = 'SIGTERM') {
      if (!running) return;
      // fast = SIGINT to the postmaster (clients cut off); immediate = the crash-like stop.
      await asPg(join(PG_BIN, 'pg_ctl'), ['-D', pgdata, '-w', '-t', '60', '-m', signal === 'SIGKILL' ? 'immediate' : 'fast', 'stop']);
      running = false;
    },
  };
}

/**
 * Starts private Redis (append-only), Postgres+PostGIS, s3rver and anvil (state kept on disk)
 * on ports basePort..basePort+3, each in a temp dir, so fault tests can stop and restart them
 * without touching the shared local infrastructure.
 */
export async function startPrivateInfra(basePort: number): Promise<PrivateInfra> {
  const base = await mkdtemp(join(tmpdir(), 'reelboard-private-'));
  // The postgres user must be able to reach its cluster inside.
  chmodSync(base, 0o755);
  const logDir = join(repoRoot, 'test-artifacts', 'logs', 'private-infra');
  mkdirSync(logDir, { recursive: true });
  for (const dir of ['redis', 's3', 'anvil']) mkdirSync(join(base, dir));
  const ports = { redis: basePort, postgres: basePort + 1, s3: basePort + 2, anvil: basePort + 3 };
  const bucket = 'reelboard-faults';
  const anvil = findAnvil();

  const redis = processEngine(
    'redis',
    ports.redis,
    logDir,
    () => [
      'redis-server',
      ['--bind', HOST, '--port', String(ports.redis), '--dir', join(base, 'redis'), '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
    ],
    () => portOpen(ports.redis),
  );
  const s3 = processEngine(
    's3rver',
    ports.s3,
    logDir,
    () => [
      process.execPath,
      [
        join(repoRoot, 'node_modules', 's3rver', 'bin', 's3rver.js'),
        '-d',
        join(base, 's3'),
        '-a',
        HOST,
        '-p',
        String(ports.s3),
        '--silent',
        '--configure-bucket',
        bucket,
      ],
    ],
    () => portOpen(ports.s3),
  );
  const rpcUrl = `http://${HOST}:${ports.anvil}`;
  const chain = processEngine(
    'anvil',
    ports.anvil,
    logDir,
    () => [
      anvil,
      [
        '--host',
        HOST,
        '--port',
        String(ports.anvil),
        '--chain-id',
        '31337',
        '--block-time',
        '1',
        '--state',
        join(base, 'anvil', 'state.json'),
        '--state-interval',
        '1',
      ],
    ],
    async () => {
      const res = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
        signal: AbortSignal.timeout(1000),
      });
      return res.ok;
    },
  );
  const postgres = postgresEngine(ports.postgres, join(base, 'pg'));
  mkdirSync(join(base, 'pg'));

  const engines = [redis, postgres, s3, chain];
  try {
    await Promise.all(engines.map((engine) => engine.start()));
  } catch (error) {
    await Promise.allSettled(engines.map((engine) => engine.stop('SIGKILL')));
    throw error;
  }
  return {
    redis,
    postgres,
    s3,
    anvil: chain,
    bucketDir: join(base, 's3', bucket),
    env: {
      REDIS_URL: `redis://${HOST}:${ports.redis}`,
      DATABASE_URL: `postgres://reelboard:reelboard@${HOST}:${ports.postgres}/reelboard`,
      S3_ENDPOINT: `http://${HOST}:${ports.s3}`,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      RPC_URL: rpcUrl,
      CHAIN_ID: '31337',
    },
    close: async () => {
      await Promise.allSettled(engines.map((engine) => engine.stop()));
      await rm(base, { recursive: true, force: true });
    },
  };
}
