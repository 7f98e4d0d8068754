import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@reelboard/testkit/infra-env';

// scripts/infra/distro.sh and lib.sh decide which Postgres and PostGIS packages to install and
// which binaries and browser to run. Here they run in bash against the os-release files of the
// distributions the README promises, and against the package names those distributions ship.

const infraDir = join(repoRoot, 'scripts', 'infra');
const fixtures = join(repoRoot, 'test', 'fixtures', 'os-release');

/** Runs `script` in bash after sourcing distro.sh; resolves with stdout and the exit code. */
async function distro(script: string, env: Record<string, string> = {}, stdin?: string): Promise<{ stdout: string; code: number; stderr: string }> {
  const child = execFile('bash', ['-c', `source "${join(infraDir, 'distro.sh')}"; ${script}`], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  if (stdin !== undefined) child.stdin!.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number>((resolve) => child.on('close', (exitCode) => resolve(exitCode ?? -1)));
  return { stdout: stdout.trim(), code, stderr: stderr.trim() };
}

/**
 * Postgres server and PostGIS packages in each release's archive (from `apt-cache pkgnames
 * postgresql-` there, trimmed to the server, PostGIS and a few extension packages).
 */
const ARCHIVE_PACKAGES: Record<string, string[]> = {
  'debian-12': ['postgresql-15', 'postgresql-15-postgis-3', 'postgresql-15-postgis-3-scripts', 'postgresql-15-pgvector', 'postgresql-client-15'],
  'debian-13': ['postgresql-17', 'postgresql-17-postgis-3', 'postgresql-17-postgis-3-scripts', 'postgresql-17-pgvector', 'postgresql-client-17'],
  'ubuntu-22.04': ['postgresql-14', 'postgresql-14-postgis-3', 'postgresql-14-postgis-3-scripts', 'postgresql-14-pgvector', 'postgresql-client-14'],
  'ubuntu-24.04': ['postgresql-16', 'postgresql-16-postgis-3', 'postgresql-16-postgis-3-scripts', 'postgresql-16-pgvector', 'postgresql-client-16'],
};
const EXPECTED_MAJOR: Record<string, string> = { 'debian-12': '15', 'debian-13': '17', 'ubuntu-22.04': '14', 'ubuntu-24.04': '16' };

describe('the Postgres each distribution gets', () => {
  for (const [release, major] of Object.entries(EXPECTED_MAJOR)) {
    it(`${release}: Postgres ${major} with its PostGIS, both in that release's archive`, async () => {
      const chosen = await distro('postgres_major_for_os_release "$F"', { F: join(fixtures, release) });
      expect(chosen).toEqual({ stdout: major, code: 0, stderr: '' });
      const packages = (await distro(`postgres_packages ${chosen.stdout}`)).stdout.split('\n');
      expect(packages).toEqual([`postgresql-${major}`, `postgresql-${major}-postgis-3`]);
      for (const name of packages) expect(ARCHIVE_PACKAGES[release], name).toContain(name);
      // Picking from the archive's package names alone (apt-cache) agrees with os-release.
      expect((await distro('postgres_major_from_packages', {}, ARCHIVE_PACKAGES[release]!.join('\n'))).stdout).toBe(major);
    });
  }

  it('an Ubuntu derivative follows the Ubuntu release it is based on', async () => {
    expect((await distro('postgres_major_for_os_release "$F"', { F: join(fixtures, 'linuxmint-22') })).stdout).toBe('16');
  });

  it('an unknown distribution gets no guess (install.sh then asks apt)', async () => {
    expect(await distro('postgres_major_for_os_release "$F"', { F: join(fixtures, 'fedora-41') })).toEqual({ stdout: '', code: 1, stderr: '' });
    expect((await distro('postgres_major_for_os_release "$F"', { F: '/nonexistent/os-release' })).code).toBe(1);
  });

  it('from apt package names: the highest major that has both a server and PostGIS', async () => {
    // The PostgreSQL apt repository (PGDG) lists many majors; 18's PostGIS is not there yet.
    const pgdg = [
      'postgresql-13',
      'postgresql-13-postgis-3',
      'postgresql-16',
      'postgresql-16-postgis-3',
      'postgresql-17',
      'postgresql-17-postgis-3',
      'postgresql-18',
      'postgresql-18-postgis-3-scripts',
    ];
    expect((await distro('postgres_major_from_packages', {}, pgdg.join('\n'))).stdout).toBe('17');
    // A PostGIS without its server package does not count.
    expect((await distro('postgres_major_from_packages', {}, 'postgresql-19-postgis-3\npostgresql-15\n')).code).toBe(1);
    expect((await distro('postgres_major_from_packages', {}, '')).code).toBe(1);
  });
});

describe('the Postgres binaries lib.sh runs', () => {
  let root: string;
  /** A copy of scripts/infra in a scratch repository, so its .data is the scratch one. */
  let lib: string;
  let pgLib: string;
  let pgShare: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'reelboard-distro-'));
    // As root, lib.sh keeps the cluster in the repository only if the postgres user can enter it.
    await chmod(root, 0o755);
    await mkdir(join(root, 'scripts', 'infra'), { recursive: true });
    for (const file of ['lib.sh', 'distro.sh']) await copyFile(join(infraDir, file), join(root, 'scripts', 'infra', file));
    lib = join(root, 'scripts', 'infra', 'lib.sh');
    pgLib = join(root, 'usr-lib-postgresql');
    pgShare = join(root, 'usr-share-postgresql');
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function install(major: string, postgis = true): Promise<void> {
    await mkdir(join(pgLib, major, 'bin'), { recursive: true });
    await writeFile(join(pgLib, major, 'bin', 'pg_ctl'), '#!/bin/sh\n');
    await chmod(join(pgLib, major, 'bin', 'pg_ctl'), 0o755);
    if (postgis) {
      await mkdir(join(pgShare, major, 'extension'), { recursive: true });
      await writeFile(join(pgShare, major, 'extension', 'postgis.control'), '');
    }
  }

  const pgBinDir = (release: string, extra: Record<string, string> = {}) =>
    distro(`source "${lib}"; pg_bin_dir`, { OS_RELEASE_FILE: join(fixtures, release), POSTGRES_LIB_DIR: pgLib, POSTGRES_SHARE_DIR: pgShare, ...extra });

  it('fails naming the major it looked for when none is installed', async () => {
    const result = await pgBinDir('ubuntu-22.04');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`Postgres 14 binaries not found in ${pgLib}/14/bin`);
  });

  it("uses the distribution's major, and falls back to another installed one with PostGIS", async () => {
    await install('14');
    expect((await pgBinDir('ubuntu-22.04')).stdout).toBe(join(pgLib, '14', 'bin'));
    await install('17', false);
    // Debian 13 wants 17, which is installed here without PostGIS... the chosen major still wins
    // when its binaries exist (install.sh adds its PostGIS); with neither, the PostGIS one is used.
    expect((await pgBinDir('debian-13')).stdout).toBe(join(pgLib, '17', 'bin'));
    expect((await pgBinDir('ubuntu-24.04')).stdout).toBe(join(pgLib, '14', 'bin'));
    expect((await pgBinDir('ubuntu-24.04', { PG_MAJOR: '17' })).stdout).toBe(join(pgLib, '17', 'bin'));
    expect((await pgBinDir('ubuntu-24.04', { PG_BIN: '/opt/pg/bin' })).stdout).toBe('/opt/pg/bin');
  });

  it('install.sh goes on when the highest installed major lacks PostGIS (it used to end in silence)', async () => {
    // The tree now has 14 with PostGIS and 17 without; install.sh reads it this way, under set -e and pipefail.
    const result = await distro(`set -euo pipefail; source "${lib}"; installed_pg="$(installed_postgres_majors | head -n1)"; echo "kept: $installed_pg"`, {
      POSTGRES_LIB_DIR: pgLib,
      POSTGRES_SHARE_DIR: pgShare,
    });
    expect(result).toEqual({ stdout: 'kept: 14', code: 0, stderr: '' });
    expect((await distro(`source "${lib}"; installed_postgres_majors`, { POSTGRES_LIB_DIR: pgLib, POSTGRES_SHARE_DIR: pgShare })).stdout).toBe('14');
  });

  it('an existing cluster keeps the major it was made with, or says which one it needs', async () => {
    await mkdir(join(root, '.data', 'postgres'), { recursive: true });
    await writeFile(join(root, '.data', 'postgres', 'PG_VERSION'), '14\n');
    expect((await pgBinDir('debian-13')).stdout).toBe(join(pgLib, '14', 'bin'));
    await writeFile(join(root, '.data', 'postgres', 'PG_VERSION'), '15\n');
    const result = await pgBinDir('debian-12');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/made by Postgres 15, whose binaries are not in .*\/15\/bin/);
  });
});

describe('the browser the browser test drives', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reelboard-chromium-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function executable(name: string, text: string): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, text);
    await chmod(path, 0o755);
    return path;
  }

  it("refuses Ubuntu's snap wrapper and anything that resolves into /snap, and accepts Debian's launcher", async () => {
    // Ubuntu's transitional chromium-browser deb installs this script.
    const ubuntuWrapper = await executable(
      'chromium-browser',
      '#!/bin/sh\n\nif ! [ -x /snap/bin/chromium ]; then\n    echo "" >&2\n    echo "Command \'$0\' requires the chromium snap to be installed." >&2\n    exit 1\nfi\n\nexec /snap/bin/chromium "$@"\n',
    );
    const debianLauncher = await executable('chromium', '#!/bin/sh\n\n# Chromium launcher\nexec /usr/lib/chromium/chromium "$@"\n');
    const snapLink = join(dir, 'snap-chromium');
    await symlink('/snap/bin/chromium', snapLink);
    expect((await distro('is_snap_wrapper "$P"', { P: ubuntuWrapper })).code).toBe(0);
    expect((await distro('is_snap_wrapper "$P"', { P: snapLink })).code).toBe(0);
    expect((await distro('is_snap_wrapper "$P"', { P: debianLauncher })).code).toBe(1);
  });

  it('takes CHROMIUM_PATH first, but never a snap wrapper, and names what to do when nothing is usable', async () => {
    const own = await executable('my-chrome', '#!/bin/sh\nexit 0\n');
    expect((await distro('find_chromium', { CHROMIUM_PATH: own })).stdout).toBe(own);
    const wrapper = join(dir, 'chromium-browser');
    const found = await distro('find_chromium', { CHROMIUM_PATH: wrapper });
    expect(found.stdout).not.toBe(wrapper);
    // With no candidate usable (the search list replaced), nothing is printed and the message is one line.
    const none = await distro(
      'chromium_candidates() { printf "%s\\n" "$W" /nonexistent/chrome; }; find_chromium || { echo "$NO_CHROMIUM_MESSAGE" >&2; exit 3; }',
      { W: wrapper },
    );
    expect(none.code).toBe(3);
    expect(none.stdout).toBe('');
    expect(none.stderr.split('\n')).toHaveLength(1);
    expect(none.stderr).toMatch(/no usable Chromium or Chrome.*CHROMIUM_PATH/);
  });
});
