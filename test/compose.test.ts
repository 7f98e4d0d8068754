import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const composeFile = resolve(repoRoot, 'docker-compose.yml');

const WORKERS = ['payment-watcher', 'transcoder', 'preview-extractor', 'uploader', 'profile-writer', 'notifier'];
const SERVICES = ['api-gateway', ...WORKERS];
const ENGINES = ['redis', 'postgres', 'minio', 'minio-init', 'anvil'];

// Debian's docker-compose v1 is what CI has (scripts/infra/install.sh); the v2 plugin works too.
async function compose(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('docker-compose', ['-f', composeFile, ...args], { cwd: repoRoot });
    return stdout;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { stdout } = await run('docker', ['compose', '-f', composeFile, ...args], { cwd: repoRoot });
    return stdout;
  }
}

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
    await expect(compose('config', '-q')).resolves.toBe('');
  });

  it('defines the seven services and the shared engines; no worker has a fixed name or host port', async () => {
    const listed = (await compose('config', '--services')).split('\n').filter(Boolean);
    expect(listed.sort()).toEqual([...SERVICES, ...ENGINES].sort());

    const keys = serviceKeys(await compose('config'));
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
});
