// Every service, started as a real process on a Redis whose maxmemory-policy may evict keys
// (managed Redis often defaults to volatile-lru, which evicts exactly the keys with a TTL: upload
// records, payment claims), refuses to start and says which setting to change.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { freePort, type RedisProcesses, redisProcesses } from '@reelboard/testkit/redis-processes';
import { SERVICES, serviceCommand, stackEnvironment } from '@reelboard/testkit/stack';

let processes: RedisProcesses;
let staging: string;
let redisUrl: string;

beforeAll(async () => {
  processes = await redisProcesses('eviction');
  const redis = await processes.server({
    directives: [
      ['maxmemory', '64mb'],
      ['maxmemory-policy', 'volatile-lru'],
    ],
  });
  redisUrl = `redis://127.0.0.1:${redis.port}`;
  staging = await mkdtemp(join(tmpdir(), 'reelboard-eviction-'));
});

afterAll(async () => {
  await processes?.close();
  if (staging) await rm(staging, { recursive: true, force: true });
});

/** Runs one service until it exits (or 120 s pass: a busy machine starts seven at once slowly): its exit code and everything it wrote. */
async function runUntilExit(name: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, serviceCommand(name), {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, INTERNAL_PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  return { code, output };
}

describe('a Redis that may evict keys', () => {
  it('stops every service at start-up, naming maxmemory-policy', async () => {
    const env = stackEnvironment(staging, { REDIS_URL: redisUrl });
    const results = await Promise.all(SERVICES.map(async (name) => [name, await runUntilExit(name, env)] as const));
    for (const [name, { code, output }] of results) {
      expect(code, `${name} exit code; output:\n${output}`).toBe(1);
      expect(output, name).toMatch(/maxmemory-policy is \\?"volatile-lru\\?".*noeviction/);
      expect(output, name).not.toMatch(/"message":"started"/);
    }
  });
});
