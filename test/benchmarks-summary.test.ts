import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = new URL('..', import.meta.url).pathname;
const summary = (cwdRoot: string, ...args: string[]) =>
  execFileSync(process.execPath, ['--import', 'tsx', join(cwdRoot, 'scripts/bench/lib/summary.ts'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: 'pipe',
  });

describe('docs/benchmarks.md', () => {
  it('is the table the latest figures make (run bash scripts/bench.sh --report)', () => {
    expect(summary(repoRoot, '--check')).toMatch(/is current/);
  });

  it('has one row per benchmark part, each linking a dated report that exists', () => {
    const page = readFileSync(join(repoRoot, 'docs/benchmarks.md'), 'utf8');
    const rows = page.split('\n').filter((line) => line.startsWith('| ['));
    expect(rows.length).toBeGreaterThanOrEqual(13);
    for (const row of rows) {
      const link = /\]\((benchmarks\/reports\/\d{4}-\d{2}-\d{2}-[a-z0-9-]+\.md)\)/.exec(row)?.[1];
      expect(link, row).toBeDefined();
      expect(() => readFileSync(join(repoRoot, 'docs', link as string))).not.toThrow();
    }
  });

  it('refuses a part whose latest figures name no headline, and a stale page', () => {
    const copy = mkdtempSync(join(tmpdir(), 'bench-summary-'));
    try {
      cpSync(join(repoRoot, 'scripts/bench/lib'), join(copy, 'scripts/bench/lib'), { recursive: true });
      cpSync(join(repoRoot, 'docs/benchmarks'), join(copy, 'docs/benchmarks'), { recursive: true });
      cpSync(join(repoRoot, 'docs/benchmarks.md'), join(copy, 'docs/benchmarks.md'));
      expect(summary(copy, '--check')).toMatch(/is current/);
      const file = join(copy, 'docs/benchmarks/bus.json');
      const latest = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      writeFileSync(file, JSON.stringify({ ...latest, headline: 'changed' }));
      expect(() => summary(copy, '--check')).toThrow(/stale/);
      delete latest.headline;
      writeFileSync(file, JSON.stringify(latest));
      expect(() => summary(copy)).toThrow(/no headline or report in: docs\/benchmarks\/bus.json/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
