import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadGatewayConfig } from '../services/api-gateway/src/config.js';
import { loadPaymentWatcherConfig } from '../services/payment-watcher/src/config.js';
import { loadPreviewConfig } from '../services/preview-extractor/src/config.js';
import { loadProfileWriterConfig } from '../services/profile-writer/src/config.js';
import { loadTranscoderConfig } from '../services/transcoder/src/config.js';
import { loadUploaderConfig } from '../services/uploader/src/config.js';

const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const composeFile = resolve(repoRoot, 'docker-compose.yml');

const WORKERS = ['payment-watcher', 'transcoder', 'preview-extractor', 'uploader', 'profile-writer', 'notifier'];
const SERVICES = ['api-gateway', ...WORKERS];
const ENGINES = ['redis', 'postgres', 's3', 's3-init', 'anvil'];

// Debian's docker-compose v1 is what CI has (scripts/infra/install.sh); the v2 plugin works too.
// `env` replaces the variables the file interpolates (a real host's settings); none are inherited.
async function compose(args: string[], env: Record<string, string> = {}): Promise<string> {
  const options = { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } };
  try {
    const { stdout } = await run('docker-compose', ['-f', composeFile, ...args], options);
    return stdout;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { stdout } = await run('docker', ['compose', '-f', composeFile, ...args], options);
    return stdout;
  }
}

// Parsed YAML of `config` output is untyped; the checks read it loosely.
type Obj = Record<string, any>;

const resolutions = new Map<string, Promise<Record<string, Obj>>>();
/** The services as `config` resolves them with `env` (memoised: each call takes seconds). */
function resolved(env: Record<string, string> = {}): Promise<Record<string, Obj>> {
  const key = JSON.stringify(env);
  if (!resolutions.has(key)) resolutions.set(key, compose(['config'], env).then((text) => (parse(text) as Obj).services));
  return resolutions.get(key)!;
}

/** Published ports, from v1's short syntax (`127.0.0.1:7070:7070/tcp`) or v2's long one. */
function publishedPorts(service: Obj): { hostIp: string; published: number; target: number }[] {
  return (service.ports ?? []).map((port: string | Obj) => {
    if (typeof port === 'object') return { hostIp: port.host_ip ?? '', published: Number(port.published), target: Number(port.target) };
    const parts = port.replace(/\/\w+$/, '').split(':');
    const [target, published, hostIp = ''] = parts.reverse();
    return { hostIp, published: Number(published), target: Number(target) };
  });
}

const configLoaders: Record<string, (env: NodeJS.ProcessEnv) => object> = {
  'api-gateway': loadGatewayConfig,
  'payment-watcher': loadPaymentWatcherConfig,
  transcoder: loadTranscoderConfig,
  'preview-extractor': loadPreviewConfig,
  uploader: loadUploaderConfig,
  'profile-writer': loadProfileWriterConfig,
};

/** What an operator of a real host sets before `docker compose up`. */
const REAL_HOST = {
  PUBLIC_URL: 'https://reelboard.example.com',
  S3_PRESIGN_ENDPOINT: 'https://media.reelboard.example.com',
  MERCHANT_ADDRESS: '0x1111111111111111111111111111111111111111',
  RPC_URL: 'https://rpc.example.com',
  CHAIN_ID: '8453',
  POSTGRES_PASSWORD: 'a-long-database-password',
};

/** Top-level keys of each service in the normalised `config` output (2-space YAML). */
function serviceKeys(normalised: string): Map<string, Set<string>> {
  const services = new Map<string, Set<string>>();
  let inServices = false;
  let current: Set<string> | undefined;
  for (const line of normalised.split('\n')) {
    const top = /^(\S[^:]*):/.exec(line);
    if (top) {
      inServices = top[1] === 'services';
      current = undefined;
      continue;
    }
    if (!inServices) continue;
    const service = /^ {2}([\w.-]+):\s*$/.exec(line);
    if (service) {
      current = new Set();
      services.set(service[1]!, current);
      continue;
    }
    const key = /^ {4}([\w.-]+):/.exec(line);
    if (key && current) current.add(key[1]!);
  }
  return services;
}

describe('docker-compose.yml', () => {
  it('is accepted by `docker-compose config -q`', async () => {
    await expect(compose(['config', '-q'])).resolves.toBe('');
  });

  it('defines the seven services and the shared engines; no worker has a fixed name or host port', async () => {
    const listed = (await compose(['config', '--services'])).split('\n').filter(Boolean);
    expect(listed.sort()).toEqual([...SERVICES, ...ENGINES].sort());

    const keys = serviceKeys(await compose(['config']));
    for (const name of WORKERS) {
      expect(keys.get(name), name).toBeDefined();
      expect(keys.get(name)!.has('container_name'), `${name} container_name`).toBe(false);
      expect(keys.get(name)!.has('ports'), `${name} ports`).toBe(false);
    }
    for (const name of SERVICES) {
      expect(keys.get(name)!.has('healthcheck'), `${name} healthcheck`).toBe(true);
      expect(keys.get(name)!.has('container_name'), `${name} container_name`).toBe(false);
    }
    expect(keys.get('api-gateway')!.has('ports')).toBe(true);
  });

  it("each service accepts the file's environment, with the defaults and with a real host's settings", async () => {
    for (const env of [{}, REAL_HOST]) {
      const services = await resolved(env);
      for (const [name, load] of Object.entries(configLoaders)) {
        const config = load(services[name]!.environment) as Record<string, unknown>;
        if ('PUBLIC_URL' in config) expect(config.PUBLIC_URL, name).toBe(Object.keys(env).length ? REAL_HOST.PUBLIC_URL : 'http://localhost:8080');
      }
      const gateway = loadGatewayConfig(services['api-gateway']!.environment);
      const watcher = loadPaymentWatcherConfig(services['payment-watcher']!.environment);
      const writer = loadProfileWriterConfig(services['profile-writer']!.environment);
      if (env === REAL_HOST) {
        expect(gateway.RPC_URL).toBe(REAL_HOST.RPC_URL);
        expect(gateway.CHAIN_ID).toBe(8453);
        expect(watcher.MERCHANT_ADDRESS.toLowerCase()).toBe(REAL_HOST.MERCHANT_ADDRESS);
        expect(new URL(writer.DATABASE_URL).password).toBe(REAL_HOST.POSTGRES_PASSWORD);
        expect(services.postgres!.environment.POSTGRES_PASSWORD).toBe(REAL_HOST.POSTGRES_PASSWORD);
        expect(gateway.S3_PRESIGN_ENDPOINT).toBe(REAL_HOST.S3_PRESIGN_ENDPOINT);
      } else {
        expect(gateway.RPC_URL).toBe('http://anvil:8545');
        expect(new URL(writer.DATABASE_URL).password).toBe(services.postgres!.environment.POSTGRES_PASSWORD);
      }
    }
  });

  it('keeps probes and metrics on the internal port: health checks use it, the host never sees it', async () => {
    const services = await resolved();
    for (const [name, load] of Object.entries(configLoaders)) {
      const config = load(services[name]!.environment) as Record<string, unknown>;
      expect(config.INTERNAL_PORT, name).toBe(9090);
      expect(services[name]!.healthcheck.test.join(' '), name).toContain('http://127.0.0.1:9090/healthz');
    }
    const gateway = loadGatewayConfig(services['api-gateway']!.environment);
    expect(publishedPorts(services['api-gateway']!).map((p) => p.target)).toEqual([gateway.PORT]);
  });

  it('presigns media URLs for the S3 port published on loopback, which a browser on the host can open', async () => {
    const services = await resolved();
    const gateway = loadGatewayConfig(services['api-gateway']!.environment);
    const presign = new URL(gateway.S3_PRESIGN_ENDPOINT ?? '');
    expect(presign.hostname).toBe('localhost');
    const s3Port = Number(new URL(gateway.S3_ENDPOINT ?? '').port);
    const published = publishedPorts(services.s3!).find((p) => p.target === s3Port);
    expect(published, 'S3 port published').toBeDefined();
    expect(published!.hostIp).toBe('127.0.0.1');
    expect(published!.published).toBe(Number(presign.port));
  });

  it('pins every image by version, and no image comes from the frozen minio/* repositories', async () => {
    const services = await resolved();
    for (const [name, service] of Object.entries(services)) {
      const image = String(service.image);
      expect(image, name).toMatch(/:[\w.-]+$/);
      expect(image, name).not.toMatch(/:latest$/);
      expect(image, name).not.toMatch(/^(docker\.io\/)?minio\//);
    }
    expect(services.s3!.image).toMatch(/:v?\d+\.\d+\.\d+$/);
  });

  it('checks Postgres over TCP, which fails while the image initialises the database on its socket', async () => {
    const test: string[] = (await resolved()).postgres!.healthcheck.test;
    expect(test).toContain('pg_isready');
    expect(test[test.indexOf('-h') + 1]).toBe('127.0.0.1');
  });

  it('the image is built on the Node major the suite runs on, without BuildKit-only syntax', () => {
    const text = readFileSync(resolve(repoRoot, 'infra', 'docker', 'Dockerfile'), 'utf8');
    expect(text).not.toMatch(/^# ?syntax=/m);
    const dockerfile = text.split('\n').filter((line) => !line.startsWith('#')).join('\n');
    expect(dockerfile).not.toMatch(/RUN\s+--mount/);
    const nodeImage = /^ARG NODE_IMAGE=node:(\d+)[\w.]*-(\w+)-slim$/m.exec(dockerfile);
    expect(nodeImage, 'ARG NODE_IMAGE=node:<version>-<debian>-slim').not.toBeNull();
    expect(Number(nodeImage![1])).toBe(Number(process.versions.node.split('.')[0]));
    // Debian 12 (bookworm) ships ffmpeg 5.1, the one the media tests and benchmarks ran with.
    expect(nodeImage![2]).toBe('bookworm');
  });
});
