import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commonSchema, env } from '@reelboard/config';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { generateConfigReference, UndescribedVariableError } from '../scripts/config-reference.js';

describe('the configuration reference', () => {
  const { markdown, envExample } = generateConfigReference();

  it('is up to date with the schemas the services validate against (run pnpm config-reference)', () => {
    expect(readFileSync(join(repoRoot, 'docs', 'configuration.md'), 'utf8')).toBe(markdown);
    expect(readFileSync(join(repoRoot, '.env.example'), 'utf8')).toBe(envExample);
  });

  it('explains every variable and lists the required ones', () => {
    const rows = markdown.split('\n').filter((line) => line.startsWith('| `'));
    expect(rows.length).toBeGreaterThan(40);
    for (const row of rows) expect(row, row).not.toMatch(/\|\s*\|$/);
    expect(markdown).toMatch(/\| `MERCHANT_ADDRESS` \| \*\*required\*\* \|/);
    expect(envExample).toMatch(/^DATABASE_URL=$/m);
  });

  it('prints list defaults as the comma-separated text an operator writes, never as an object', () => {
    expect(markdown).not.toMatch(/\[object /);
    expect(envExample).not.toMatch(/\[object /);
    // ADMIN_ADDRESSES parses to a Set: its empty default is shown as empty.
    expect(markdown).toMatch(/\| `ADMIN_ADDRESSES` \| \(empty\) \|/);
  });

  it('takes each meaning from the schema, and refuses a variable without a description', () => {
    // The text is the schema's own: the same variable in two services never borrows another's words.
    expect(markdown).toMatch(/\| `RPC_URL` \| \(empty\) \| JSON-RPC endpoint/);
    const described = commonSchema.extend({ PORT: env.port(1).describe('probes'), WIDGET_COUNT: env.positiveInt(3).describe('Widgets per replica.') });
    expect(generateConfigReference([['widget', described]]).markdown).toMatch(/\| `WIDGET_COUNT` \| `3` \| Widgets per replica\. \|/);
    const silent = commonSchema.extend({ PORT: env.port(1).describe('probes'), WIDGET_COUNT: env.positiveInt(3) });
    expect(() => generateConfigReference([['widget', silent]])).toThrow(UndescribedVariableError);
    expect(() => generateConfigReference([['widget', silent]])).toThrow(/WIDGET_COUNT \(widget\)/);
  });
});
