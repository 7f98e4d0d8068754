import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const repoRoot = new URL('..', import.meta.url).pathname;

describe('docs/openapi.json', () => {
  it('is the document the route table renders (run pnpm openapi)', () => {
    expect(execFileSync(process.execPath, ['--import', 'tsx', 'scripts/openapi.ts', '--check'], { cwd: repoRoot, encoding: 'utf8' })).toMatch(/is current/);
  });

  it('names every operation, as client generators need', () => {
    const document = JSON.parse(readFileSync(`${repoRoot}docs/openapi.json`, 'utf8')) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const operations = Object.values(document.paths).flatMap((methods) => Object.values(methods));
    expect(operations.length).toBeGreaterThan(40);
    for (const operation of operations) expect(operation.operationId).toMatch(/^[a-z][A-Za-z]+$/);
  });
});
