import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMANDS } from '../scripts/build.js';
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
const ENGINES = ['settings-check', 'redis', 'postgres', 's3', 's3-init', 'migrate', 'anvil', 'caddy'];

/**
 * The Compose found here: the v2 plugin (`docker compose`) when Docker has it, else a standalone
 * `docker-compose`, which is v1 on Debian 12 (what CI installs, scripts/infra/install.sh) and v2 on
 * Debian 13. The two render `config` differently (v2 leaves out services of inactive profiles and
 * writes a hex address unquoted, which YAML reads as a number), so the checks read v2's JSON.
 */
interface ComposeCli {
  /** How it is run, e.g. `docker compose`. */
  command: string[];
  /** What `version --short` says, e.g. 2.26.1. */
  version: string;
  /** 1 or 2. */
  major: number;
}

async function findCompose(): Promise<ComposeCli> {
  const tried: string[] = [];
  for (const command of [['docker', 'compose'], ['docker-compose']]) {
    try {
      const { stdout } = await run(command[0]!, [...command.slice(1), 'version', '--short'], { env: { PATH: process.env.PATH } });
      const version = stdout.trim().replace(/^v/, '');
      return { command, version, major: Number(version.split('.')[0]) };
    } catch (err) {
      tried.push(`${command.join(' ')}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no Docker Compose found (install docker-compose, scripts/infra/install.sh): ${tried.join('; ')}`);
}

const cli = await findCompose();

// `env` replaces the variables the file interpolates (a real host's settings); none are inherited.
async function compose(args: string[], env: Record<string, string> = {}): Promise<string> {
  const options = { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } };
  const { stdout } = await run(cli.command[0]!, [...cli.command.slice(1), '-f', composeFile, ...args], options);
  return stdout;
}

// Parsed YAML of `config` output is untyped; the checks read it loosely.
type Obj = Record<string, any>;

const resolutions = new Map<string, Promise<Record<string, Obj>>>();
/** The services as `config` resolves them with `env` (memoised: each call takes seconds). */
function resolved(env: Record<string, string> = DEV): Promise<Record<string, Obj>> {
  const key = JSON.stringify(env);
  if (!resolutions.has(key))
    resolutions.set(
      key,
      // Every profile (dev: anvil, tls: Caddy), so v2 renders what v1 always does.
      compose(['--profile', 'dev', '--profile', 'tls', 'config', ...(cli.major >= 2 ? ['--format', 'json'] : [])], env).then(
        (text) => (parse(text) as Obj).services,
      ),
    );
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

/** What the file requires (no defaults): the secrets and the merchant. */
const REQUIRED = ['POSTGRES_PASSWORD', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'MERCHANT_ADDRESS', 'DEPOSIT_SALT_KEY'] as const;

/** A developer's `--profile dev` stack on the local chain: the required settings only (anvil's account 9 may be the merchant there). */
const DEV: Record<string, string> = {
  POSTGRES_PASSWORD: 'dev-database-password',
  S3_ACCESS_KEY_ID: 'dev-access-key',
  S3_SECRET_ACCESS_KEY: 'dev-secret-key',
  MERCHANT_ADDRESS: '0xa0Ee7A142d267C1f36714E4a8F75612F20a79720',
  DEPOSIT_SALT_KEY: 'a-developer-chosen-deposit-salt-key-of-32-chars',
};

/** What an operator of a real host sets before `docker compose up`. */
const REAL_HOST = {
  PUBLIC_URL: 'https://reelboard.example.com',
  S3_PRESIGN_ENDPOINT: 'https://media.reelboard.example.com',
  MERCHANT_ADDRESS: '0x1111111111111111111111111111111111111111',
  RPC_URL: 'https://rpc.example.com',
  CHAIN_ID: '8453',
  POSTGRES_PASSWORD: 'a-long-database-password',
  S3_ACCESS_KEY_ID: 'an-access-key',
  S3_SECRET_ACCESS_KEY: 'a-long-secret-key',
  DEPOSIT_SALT_KEY: 'an-operator-chosen-deposit-salt-key-of-64-hex-digits',
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

describe(`docker-compose.yml, rendered by ${cli.command.join(' ')} ${cli.version}`, () => {
  it(`is accepted by \`${cli.command.join(' ')} config -q\` (Compose ${cli.version}) with no environment at all, as with a real host's settings`, async () => {
    // DESIGN: `config -q` must accept the file; the required settings are checked when it starts (below).
    await expect(compose(['config', '-q'])).resolves.toBe('');
    await expect(compose(['config', '-q'], DEV)).resolves.toBe('');
    await expect(compose(['config', '-q'], REAL_HOST)).resolves.toBe('');
  });

  it('settings-check runs first and fails naming each secret or the merchant unset or empty (a copied .env.example); nothing waits past it', async () => {
    const services = await resolved({});
    const check = services['settings-check']!;
    expect(check.restart).toBe('no');
    // The rendered check, run as the container runs it (any POSIX sh), with the environment compose gives it;
    // `config` prints `$$` escaped, which compose turns into `$` when it starts the container.
    const script: string[] = check.entrypoint;
    expect(script.slice(0, 2)).toEqual(['sh', '-c']);
    const runCheck = (env: Record<string, string>) =>
      run('sh', ['-c', script[2]!.replaceAll('$$', '$')], { env: { PATH: process.env.PATH, ...env } }).then(
        ({ stdout }) => ({ code: 0, out: stdout }),
        (error: { code: number; stderr: string }) => ({ code: error.code, out: error.stderr }),
      );
    const unset = await runCheck(check.environment);
    expect(unset.code).toBe(1);
    expect(unset.out).toContain(`settings-check: set ${REQUIRED.join(' ')}`);
    for (const name of REQUIRED) {
      const one = await runCheck({ ...(await resolved(REAL_HOST))['settings-check']!.environment, [name]: '' });
      expect(one, `${name}=`).toEqual({ code: 1, out: expect.stringMatching(new RegExp(`settings-check: set ${name} \\(`)) });
    }
    expect(await runCheck((await resolved(REAL_HOST))['settings-check']!.environment)).toEqual({ code: 0, out: expect.stringContaining('are set') });
    // .env.example copied as it is: its required variables are empty.
    const example = Object.fromEntries(
      [...readFileSync(resolve(repoRoot, '.env.example'), 'utf8').matchAll(/^([A-Z0-9_]+)=(.*)$/gm)].map((match) => [match[1]!, match[2]!]),
    );
    expect(example).toMatchObject({ POSTGRES_PASSWORD: '', MERCHANT_ADDRESS: '' });
    expect((await runCheck((await resolved(example))['settings-check']!.environment)).code).toBe(1);
    // Everything that uses a secret waits for the check to succeed, directly or through what it waits for:
    // Postgres never initialises without a password, the S3 server never starts without keys.
    const waitsForCheck = (name: string, seen = new Set<string>()): boolean => {
      if (seen.has(name)) return false;
      seen.add(name);
      const deps = (services[name]?.depends_on ?? {}) as Record<string, { condition: string }>;
      if (deps['settings-check']?.condition === 'service_completed_successfully') return true;
      return Object.keys(deps).some((dep) => waitsForCheck(dep, seen));
    };
    for (const name of ['postgres', 's3', 's3-init', 'migrate', ...SERVICES]) expect(waitsForCheck(name), name).toBe(true);
    expect(services.postgres!.depends_on['settings-check'].condition).toBe('service_completed_successfully');
    expect(services.s3!.depends_on['settings-check'].condition).toBe('service_completed_successfully');
  }, 120_000);

  it("anvil's public test account as the merchant: rendered for the local chain, refused by the services on a real one", async () => {
    const offLocal = await resolved({ ...REAL_HOST, MERCHANT_ADDRESS: DEV.MERCHANT_ADDRESS! });
    for (const name of ['api-gateway', 'payment-watcher'] as const) {
      expect(() => configLoaders[name]!(offLocal[name]!.environment), name).toThrow(
        /MERCHANT_ADDRESS: 0xa0ee7a142d267c1f36714e4a8f75612f20a79720 is one of the public test accounts/,
      );
    }
    const local = await resolved(DEV);
    expect(loadPaymentWatcherConfig(local['payment-watcher']!.environment).CHAIN_ID).toBe(31337);
  });

  it('DEPOSIT_SALT_KEY reaches the gateway only; the gateway refuses to run off the local chain without one', async () => {
    const host = await resolved(REAL_HOST);
    expect(host['api-gateway']!.environment.DEPOSIT_SALT_KEY).toBe(REAL_HOST.DEPOSIT_SALT_KEY);
    for (const name of SERVICES.filter((s) => s !== 'api-gateway')) expect(host[name]?.environment?.DEPOSIT_SALT_KEY, name).toBeUndefined();
    expect(loadGatewayConfig(host['api-gateway']!.environment).DEPOSIT_SALT_KEY).toBe(REAL_HOST.DEPOSIT_SALT_KEY);
    const withoutKey = await resolved({ ...REAL_HOST, DEPOSIT_SALT_KEY: '' });
    expect(() => loadGatewayConfig(withoutKey['api-gateway']!.environment)).toThrow(/DEPOSIT_SALT_KEY: is required on chain 8453/);
  });

  it('passes TRUST_PROXY, SWEEP_PRIVATE_KEY, CORS_ORIGINS and LOG_LEVEL through to the services', async () => {
    const sweepKey = `0x${'ab'.repeat(32)}`;
    const services = await resolved({
      ...REAL_HOST,
      TRUST_PROXY: '172.16.0.0/12',
      CORS_ORIGINS: 'https://a.example,https://b.example',
      LOG_LEVEL: 'debug',
      SWEEP_PRIVATE_KEY: sweepKey,
    });
    const gateway = loadGatewayConfig(services['api-gateway']!.environment);
    expect(gateway.TRUST_PROXY).toBe('172.16.0.0/12');
    expect(gateway.CORS_ORIGINS).toEqual(['https://a.example', 'https://b.example']);
    expect(gateway.LOG_LEVEL).toBe('debug');
    expect(loadPaymentWatcherConfig(services['payment-watcher']!.environment).SWEEP_PRIVATE_KEY).toBe(sweepKey);
    expect(loadTranscoderConfig(services.transcoder!.environment).LOG_LEVEL).toBe('debug');
    // Unset, the services' own defaults hold.
    const defaults = loadGatewayConfig((await resolved(REAL_HOST))['api-gateway']!.environment);
    expect([defaults.TRUST_PROXY, defaults.CORS_ORIGINS, defaults.LOG_LEVEL]).toEqual(['loopback', [], 'info']);
  });

  it('publishes the gateway on 127.0.0.1 unless GATEWAY_BIND says otherwise', async () => {
    expect(publishedPorts((await resolved())['api-gateway']!)).toEqual([{ hostIp: '127.0.0.1', published: 8080, target: 8080 }]);
    const open = await resolved({ ...REAL_HOST, GATEWAY_BIND: '0.0.0.0', GATEWAY_HOST_PORT: '80' });
    expect(publishedPorts(open['api-gateway']!)).toEqual([{ hostIp: '0.0.0.0', published: 80, target: 8080 }]);
    for (const [name, service] of Object.entries(await resolved())) {
      // Caddy (the tls profile) is the one meant to face the network: it terminates TLS.
      if (name === 'caddy') continue;
      for (const port of publishedPorts(service)) expect(port.hostIp, `${name} publishes ${port.published}`).toBe('127.0.0.1');
    }
  });

  it('a one-shot migrate service runs before every service; anvil only in the dev profile, and nothing waits for it', async () => {
    const services = await resolved();
    const migrate = services.migrate!;
    expect(migrate.restart).toBe('no');
    expect(migrate.depends_on.postgres.condition).toBe('service_healthy');
    // The compiled command (scripts/build.ts, in every image) of the db package's migration CLI.
    expect(migrate.working_dir).toBe('/app');
    expect(migrate.command).toEqual(['node', '--enable-source-maps', 'dist/commands/migrate.js']);
    expect(readFileSync(resolve(repoRoot, COMMANDS.migrate!.source), 'utf8')).toContain('migrateToLatest');
    expect(new URL(migrate.environment.DATABASE_URL).password).toBe(DEV.POSTGRES_PASSWORD);
    for (const name of SERVICES) {
      expect(services[name]!.depends_on.migrate?.condition, name).toBe('service_completed_successfully');
      expect(services[name]!.depends_on.anvil, name).toBeUndefined();
      expect(services[name]!.environment.MIGRATE_ON_START, name).toBe('false');
    }
    expect(services.anvil!.profiles).toEqual(['dev']);
    for (const [name, service] of Object.entries(services)) if (name !== 'anvil' && name !== 'caddy') expect(service.profiles, name).toBeUndefined();
  });

  it('caps Redis memory and refuses writes rather than evicting queue keys', async () => {
    const command: string[] = (await resolved()).redis!.command;
    expect(command[command.indexOf('--maxmemory') + 1]).toBe('512mb');
    expect(command[command.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    const sized: string[] = (await resolved({ ...REAL_HOST, REDIS_MAXMEMORY: '2gb' })).redis!.command;
    expect(sized[sized.indexOf('--maxmemory') + 1]).toBe('2gb');
  });

  it('defines the seven services and the shared engines; no worker has a fixed name or host port', async () => {
    // With the dev and tls profiles: Compose v2 lists anvil and caddy only then (v1 always does).
    const listed = (await compose(['--profile', 'dev', '--profile', 'tls', 'config', '--services'], DEV)).split('\n').filter(Boolean);
    expect(listed.sort()).toEqual([...SERVICES, ...ENGINES].sort());

    const keys = serviceKeys(await compose(['config'], DEV));
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
    for (const env of [DEV, REAL_HOST]) {
      const services = await resolved(env);
      for (const [name, load] of Object.entries(configLoaders)) {
        const config = load(services[name]!.environment) as Record<string, unknown>;
        if ('PUBLIC_URL' in config) expect(config.PUBLIC_URL, name).toBe(env === REAL_HOST ? REAL_HOST.PUBLIC_URL : 'http://localhost:8080');
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

  it('builds Postgres with PostGIS on the official multi-arch image, not the amd64-only postgis/postgis', async () => {
    const postgres = (await resolved()).postgres!;
    expect(String(postgres.image)).not.toMatch(/^(docker\.io\/)?postgis\//);
    expect(postgres.build.dockerfile).toBe('infra/docker/postgis.Dockerfile');
    const dockerfile = readFileSync(resolve(repoRoot, postgres.build.dockerfile), 'utf8');
    expect(dockerfile).toMatch(/^FROM postgres:\$\{PG_MAJOR\}-bookworm$/m);
    expect(dockerfile).toContain(['postgresql-$', '{PG_MAJOR}-postgis-3'].join(''));
    expect(postgres.build.args.PG_MAJOR).toBe('15');
  });

  it('puts TLS in front only in the tls profile: Caddy keeps the Host of presigned URLs and streams events', async () => {
    const services = await resolved();
    const caddy = services.caddy!;
    expect(caddy.profiles).toEqual(['tls']);
    expect(caddy.image).toMatch(/^caddy:\d+\.\d+\.\d+$/);
    expect(caddy.environment).toEqual({ PUBLIC_HOST: 'localhost', S3_PUBLIC_HOST: 's3.localhost' });
    const caddyfile = readFileSync(resolve(repoRoot, 'infra', 'caddy', 'Caddyfile'), 'utf8');
    const site = (host: string) => caddyfile.slice(caddyfile.indexOf(host), caddyfile.indexOf('\n}', caddyfile.indexOf(host)));
    expect(site('{$PUBLIC_HOST')).toContain('reverse_proxy api-gateway:8080');
    expect(site('{$PUBLIC_HOST')).toContain('flush_interval -1');
    expect(site('{$S3_PUBLIC_HOST')).toContain('reverse_proxy s3:7070');
    // A rewritten Host breaks every SigV4 presigned URL (signed for S3_PRESIGN_ENDPOINT's host).
    expect(caddyfile).not.toMatch(/header_up\s+Host/i);
  });

  it('checks Postgres over TCP, which fails while the image initialises the database on its socket', async () => {
    const test: string[] = (await resolved()).postgres!.healthcheck.test;
    expect(test).toContain('pg_isready');
    expect(test[test.indexOf('-h') + 1]).toBe('127.0.0.1');
  });

  it('the image is built on the Node major the suite runs on, without BuildKit-only syntax', () => {
    const text = readFileSync(resolve(repoRoot, 'infra', 'docker', 'Dockerfile'), 'utf8');
    expect(text).not.toMatch(/^# ?syntax=/m);
    const dockerfile = text
      .split('\n')
      .filter((line) => !line.startsWith('#'))
      .join('\n');
    expect(dockerfile).not.toMatch(/RUN\s+--mount/);
    const nodeImage = /^ARG NODE_IMAGE=node:(\d+)[\w.]*-(\w+)-slim$/m.exec(dockerfile);
    expect(nodeImage, 'ARG NODE_IMAGE=node:<version>-<debian>-slim').not.toBeNull();
    expect(Number(nodeImage![1])).toBe(Number(process.versions.node.split('.')[0]));
    // Debian 12 (bookworm) ships ffmpeg 5.1, the one the media tests and benchmarks ran with.
    expect(nodeImage![2]).toBe('bookworm');
  });
});
