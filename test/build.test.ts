import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { type BuiltFile, buildAll, SERVICES } from '../scripts/build.js';

const run = promisify(execFile);
let built: BuiltFile[] = [];
let files: string[] = [];

beforeAll(async () => {
  built = (await buildAll()).filter(({ file }) => file.endsWith('.js'));
  files = built.map(({ file }) => file);
}, 120_000);

describe('the compiled services and commands (scripts/build.ts), what the images run', () => {
  it('builds every service and the operators commands', () => {
    for (const name of SERVICES) expect(files).toContain(`services/${name}/dist/main.js`);
    expect(files).toEqual(expect.arrayContaining(['dist/commands/migrate.js', 'dist/commands/payments.js', 'dist/commands/failed-uploads.js']));
  });

  it('bundles the workspace and imports every dependency by a path that exists (no TypeScript loader, no bare name pnpm would not resolve from the bundle)', async () => {
    for (const { file, imports } of built) {
      expect(imports.length, file).toBeGreaterThan(0);
      const code = await readFile(join(repoRoot, file), 'utf8');
      for (const specifier of imports) {
        if (isBuiltin(specifier)) continue;
        expect(specifier.startsWith('/'), `${file} imports '${specifier}'`).toBe(true);
        expect(specifier, file).not.toMatch(/@reelboard\/|\/tsx\//);
        expect(existsSync(specifier), `${file} imports ${specifier}`).toBe(true);
        // The import as written in the bundle, the path Node resolves at run time.
        expect(code, file).toContain(JSON.stringify(specifier));
      }
    }
  });

  it('each service bundle loads all its modules and stops at its configuration, naming what is missing', async () => {
    for (const name of SERVICES) {
      const outcome = await run(process.execPath, [join(repoRoot, 'services', name, 'dist', 'main.js')], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
        timeout: 30_000,
      }).then(
        () => ({ code: 0, stderr: '', stdout: '' }),
        (error: { code: number; stderr: string; stdout: string }) => error,
      );
      // 78 (EX_CONFIG) from the runtime's config loader; 1 from a service that reports it itself.
      expect([1, 78], name).toContain(outcome.code);
      expect(`${outcome.stdout}${outcome.stderr}`, name).toMatch(/invalid configuration: [A-Z0-9_]+: /);
    }
  }, 120_000);
});
