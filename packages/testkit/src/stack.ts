import { type ChildProcess, spawn } from 'node:child_process';
import { createECDH } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { infraEnv, repoRoot } from './infra-env.js';

export const SERVICES = ['api-gateway', 'payment-watcher', 'transcoder', 'preview-extractor', 'uploader', 'profile-writer', 'notifier'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Well-known anvil dev accounts (public test keys of the default mnemonic). */
export const ANVIL_ACCOUNTS = {
  buyer: { address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', key: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d' },
  stranger: { address: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', key: '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a' },
  cli: { address: '0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65', key: '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a' },
  merchant: { address: '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720' },
} as const;

export interface Stack {
  gatewayUrl: string;
  env: Record<string, string>;
  stagingDir: string;
  /** The internal HTTP port (/healthz, /readyz, /metrics) of a service; the gateway's public port serves none of them. */
  portOf(name: ServiceName): number;
  /** Starts (or restarts) one service. */
  start(name: ServiceName): Promise<void>;
  /** Sends a signal to one service and waits for it to exit; returns its exit code. */
  stop(name: ServiceName, signal?: NodeJS.Signals): Promise<number | null>;
  /** The process id of a running service (fault tests signal it and its ffmpeg children). */
  pidOf(name: ServiceName): number | undefined;
  /** Starts one more replica of a service (its own probe port), e.g. a second transcoder. */
  startExtra(name: ServiceName, idSuffix: string): Promise<ExtraReplica>;
  /** Stops every service and removes the staging directory. */
  shutdown(): Promise<void>;
}

/** A replica started beside the stack's own. */
export interface ExtraReplica {
  /** Its internal port (probes, metrics). */
  port: number;
  pid: number | undefined;
  /** Signals the replica and waits for it to exit; returns its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const BASE_PORT = Number(process.env.TEST_BASE_PORT ?? 18080);
/**
 * How long a service may take to answer /healthz after it is spawned (STACK_START_TIMEOUT_MS
 * overrides it): seven services importing under tsx at once took 65-80 s to answer on 2 cores at
 * load average 20-40. A start that fails is still reported at once.
 */
const START_TIMEOUT_MS = Number(process.env.STACK_START_TIMEOUT_MS ?? 180_000);

/**
 * What a service is started from: its TypeScript source under tsx (the default, what a developer
 * edits), or with STACK_RUNTIME=dist the compiled bundle the images run (`pnpm build`; the test
 * command builds and uses it, so the suite runs what ships, and seven services start in seconds).
 */
export function serviceCommand(name: string): string[] {
  const runtime = process.env.STACK_RUNTIME ?? 'source';
  if (runtime === 'source') return ['--import', 'tsx', join(repoRoot, 'services', name, 'src', 'main.ts')];
  if (runtime !== 'dist') throw new Error(`STACK_RUNTIME must be 'source' or 'dist', not '${runtime}'`);
  const bundle = join(repoRoot, 'services', name, 'dist', 'main.js');
  if (!existsSync(bundle)) throw new Error(`STACK_RUNTIME=dist but ${bundle} is missing: run \`pnpm build\` first`);
  return ['--enable-source-maps', bundle];
}

async function waitForHealth(url: string, child: ChildProcess, name: string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} during start-up (see test-artifacts/logs/${name}.log)`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} did not answer ${url} within ${timeoutMs} ms`);
}

/** A fresh VAPID key pair as the notifier and gateway read it. */
function vapidKeys(): { VAPID_PUBLIC_KEY: string; VAPID_PRIVATE_KEY: string } {
  const ecdh = createECDH('prime256v1');
  const publicKey = ecdh.generateKeys().toString('base64url');
  const privateKey = ecdh.getPrivateKey();
  // 32 bytes, leading zeros kept (Node drops them).
  return { VAPID_PUBLIC_KEY: publicKey, VAPID_PRIVATE_KEY: Buffer.concat([Buffer.alloc(32 - privateKey.length), privateKey]).toString('base64url') };
}

/** What every service of a test stack is started with: the local infrastructure, a key prefix of its own, then `overrides`. */
export function stackEnvironment(stagingDir: string, overrides: Partial<Record<string, string>> = {}): Record<string, string> {
  const infra = infraEnv();
  const gatewayPort = BASE_PORT;
  return {
    REDIS_URL: infra.REDIS_URL ?? '',
    REDIS_PREFIX: `test-${Date.now().toString(36)}`,
    DATABASE_URL: infra.TEST_DATABASE_URL ?? '',
    S3_ENDPOINT: infra.S3_ENDPOINT ?? '',
    S3_REGION: infra.S3_REGION ?? 'us-east-1',
    S3_BUCKET: infra.TEST_S3_BUCKET ?? '',
    S3_ACCESS_KEY_ID: infra.S3_ACCESS_KEY_ID ?? '',
    S3_SECRET_ACCESS_KEY: infra.S3_SECRET_ACCESS_KEY ?? '',
    S3_FORCE_PATH_STYLE: 'true',
    RPC_URL: infra.RPC_URL ?? '',
    CHAIN_ID: infra.CHAIN_ID ?? '31337',
    STAGING_DIR: stagingDir,
    PUBLIC_URL: `http://localhost:${gatewayPort}`,
    // The gateway's public port (the other services have none).
    PORT: String(gatewayPort),
    // A merchant of its own per run: the watcher matches payments to the merchant by wallet and
    // amount, so two runs sharing one chain must not share a merchant.
    MERCHANT_ADDRESS: privateKeyToAddress(generatePrivateKey()),
    PRICE_WEI: '10000000000000000',
    CONFIRMATIONS: '2',
    POLL_INTERVAL_MS: '500',
    LOG_LEVEL: 'debug',
    // Suites and drills leave many unpaid uploads of a few wallets behind; the staging limits have tests of their own.
    STAGING_MAX_UNPAID_UPLOADS_PER_WALLET: '10000',
    STAGING_MAX_UNPAID_BYTES_PER_WALLET: String(2 ** 45),
    STAGING_RESERVE_BYTES: String(256 * 1024 ** 2),
    // A VAPID pair of its own (a P-256 key pair, base64url, as web-push makes them): Web Push is on.
    ...vapidKeys(),
    ...(Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Record<string, string>),
  };
}

/**
 * Runs the seven services as real processes against the real local infrastructure, isolated from
 * a development stack by their own Redis key prefix, database, bucket and staging directory.
 */
export async function startStack(overrides: Partial<Record<string, string>> = {}): Promise<Stack> {
  const stagingDir = await mkdtemp(join(tmpdir(), 'reelboard-staging-'));
  const logDir = join(repoRoot, 'test-artifacts', 'logs');
  mkdirSync(logDir, { recursive: true });
  const gatewayPort = BASE_PORT;
  const env = stackEnvironment(stagingDir, overrides);
  const children = new Map<ServiceName, ChildProcess>();
  // Internal ports follow the gateway's public one: BASE_PORT + 1 … + 7.
  const portOf = (name: ServiceName) => BASE_PORT + 1 + SERVICES.indexOf(name);

  const spawnService = (name: ServiceName, port: number, logName: string): ChildProcess => {
    const log = createWriteStream(join(logDir, `${logName}.log`), { flags: 'a' });
    const child = spawn(process.execPath, serviceCommand(name), {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, INTERNAL_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    return child;
  };
  const start = async (name: ServiceName) => {
    const child = spawnService(name, portOf(name), name);
    children.set(name, child);
    await waitForHealth(`http://127.0.0.1:${portOf(name)}/healthz`, child, name);
  };
  const extras = new Set<ChildProcess>();
  const signalAndWait = async (child: ChildProcess, signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    return exited;
  };
  const startExtra = async (name: ServiceName, idSuffix: string): Promise<ExtraReplica> => {
    // Extra replicas take internal ports after the seven services' own (up to BASE_PORT + 19).
    const port = BASE_PORT + 1 + SERVICES.length + extras.size;
    const child = spawnService(name, port, `${name}-${idSuffix}`);
    extras.add(child);
    await waitForHealth(`http://127.0.0.1:${port}/healthz`, child, `${name}-${idSuffix}`);
    return { port, pid: child.pid, stop: async (signal = 'SIGTERM') => signalAndWait(child, signal) };
  };

  const stop = async (name: ServiceName, signal: NodeJS.Signals = 'SIGTERM') => {
    const child = children.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    const code = await exited;
    children.delete(name);
    return code;
  };

  try {
    // The notifier starts after the chain's services, so on a small, busy machine it does not slow
    // their start-up (the gateway, with the most to load, is the last to answer).
    await Promise.all(SERVICES.filter((name) => name !== 'notifier').map(start));
    await start('notifier');
  } catch (error) {
    await Promise.all(SERVICES.map((name) => stop(name, 'SIGKILL')));
    throw error;
  }

  return {
    gatewayUrl: `http://localhost:${gatewayPort}`,
    env,
    stagingDir,
    portOf,
    start,
    stop,
    pidOf: (name) => children.get(name)?.pid,
    startExtra,
    shutdown: async () => {
      await Promise.all([...SERVICES.map((name) => stop(name)), ...[...extras].map((child) => signalAndWait(child, 'SIGTERM'))]);
      await rm(stagingDir, { recursive: true, force: true });
    },
  };
}
