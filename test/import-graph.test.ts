import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DependencyTree, parseCircular, parseDependencyTree } from 'dpdm';

// The tree's module graph, read by dpdm with TypeScript's parser. Type-only imports count: a reader
// follows them like any other, and a cycle of types is still a cycle to untangle. Needs no
// infrastructure; reading the whole tree takes a few seconds.

const root = fileURLToPath(new URL('..', import.meta.url));
const SKIPPED_FOLDERS = new Set(['node_modules', '.git', '.data', 'dist', 'coverage']);
const SOURCE = /\.(ts|tsx|mts|cts|js|mjs)$/;

/** Every source file under `dir` (dependencies, local data and build output left out). */
function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED_FOLDERS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

/** The import graph of every source file under `dir`, keyed by paths relative to it, resolved as its tsconfig.json says (`./x.js` is `./x.ts`). */
function importGraph(dir: string): Promise<DependencyTree> {
  return parseDependencyTree(sourceFiles(dir), { cwd: dir, context: dir, tsconfig: join(dir, 'tsconfig.json'), transform: false });
}

/** Each cycle as `a -> b -> ... -> a`. */
function cycles(tree: DependencyTree): string[] {
  return parseCircular(tree).map((cycle) => [...cycle, cycle[0]].join(' -> '));
}

/**
 * Imports from a package's own code into a service, a script or a test: packages are what services
 * are built from, so an arrow the other way makes a package depend on the thing it serves.
 */
function upwardImports(tree: DependencyTree): string[] {
  const edges = new Set<string>();
  for (const [file, dependencies] of Object.entries(tree)) {
    if (!/^packages\/[^/]+\/src\//.test(file)) continue;
    for (const dependency of dependencies ?? []) {
      if (dependency.id && /^(services|scripts|test)\//.test(dependency.id)) edges.add(`${file} -> ${dependency.id}`);
    }
  }
  return [...edges].sort();
}

/** Relative imports that resolve to no file: an edge the checks could not see. */
function unresolvedImports(tree: DependencyTree): string[] {
  return Object.entries(tree).flatMap(([file, dependencies]) =>
    (dependencies ?? [])
      .filter((dependency) => dependency.id === null && dependency.request.startsWith('.'))
      .map((dependency) => `${file}: ${dependency.request}`),
  );
}

describe('the import graph of the tree', () => {
  let tree: DependencyTree = {};
  beforeAll(async () => {
    tree = await importGraph(root);
  }, 240_000); // dpdm parses the whole tree: seconds alone, minutes beside the unit lane's other files on a loaded 2-core machine

  it('covers the packages and services, every relative import resolved', () => {
    const files = Object.keys(tree);
    expect(files.filter((file) => file.startsWith('packages/')).length).toBeGreaterThan(50);
    expect(files.filter((file) => file.startsWith('services/')).length).toBeGreaterThan(50);
    expect(unresolvedImports(tree)).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(cycles(tree)).toEqual([]);
  });

  it('has no import from a package into a service, a script or a test', () => {
    expect(upwardImports(tree)).toEqual([]);
  });
});

describe('the checks', () => {
  it('see a cycle made only of type imports written as .js, and an import from a package into a service', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'reelboard-import-graph-'));
    try {
      const files: Record<string, string> = {
        'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }),
        'packages/a/src/info.ts': "import type { Runner } from './runner.js';\nexport interface Info { runner?: Runner }\n",
        'packages/a/src/runner.ts': "import type { Info } from './info.js';\nexport interface Runner { info?: Info }\n",
        'packages/a/src/client.ts': "export type { Answer } from '../../../services/s/src/answer.js';\n",
        'services/s/src/answer.ts': 'export interface Answer { ok: boolean }\n',
      };
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(dir, path)), { recursive: true });
        await writeFile(join(dir, path), text);
      }
      const fixture = await importGraph(dir);
      expect(cycles(fixture)).toHaveLength(1);
      expect(cycles(fixture)[0]).toMatch(/packages\/a\/src\/(info|runner)\.ts -> packages\/a\/src\/(info|runner)\.ts -> /);
      expect(upwardImports(fixture)).toEqual(['packages/a/src/client.ts -> services/s/src/answer.ts']);
      expect(unresolvedImports(fixture)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
