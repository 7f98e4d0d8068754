import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

/** Every TypeScript source file under a folder. */
async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
}

/** The module specifiers a file imports or re-exports (static and dynamic). */
async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)'([^']+)'/g)].map((match) => match[1] ?? '');
}

describe('the dependency direction', () => {
  it('no package imports a service: packages are what services share, never the other way', async () => {
    const upward: string[] = [];
    for (const pkg of await readdir(join(root, 'packages'))) {
      for (const file of await sources(join(root, 'packages', pkg, 'src')).catch(() => [])) {
        for (const specifier of await importsOf(file))
          if (specifier.includes('services/') || specifier.startsWith('@reelboard/api-gateway')) upward.push(`${relative(root, file)} -> ${specifier}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('the API package needs neither Express nor a database: only zod, the contracts and itself', async () => {
    const foreign: string[] = [];
    for (const file of await sources(join(root, 'packages', 'api', 'src'))) {
      for (const specifier of await importsOf(file))
        if (!specifier.startsWith('./') && specifier !== 'zod' && specifier !== '@reelboard/contracts') foreign.push(`${relative(root, file)} -> ${specifier}`);
    }
    expect(foreign).toEqual([]);
  });
});
