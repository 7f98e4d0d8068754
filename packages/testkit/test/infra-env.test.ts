import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { infraEnv, repoRoot } from '@reelboard/testkit/infra-env';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('infra-env', () => {
  it('finds the repository root from inside the package, where the scripts and .data live', () => {
    expect(existsSync(join(repoRoot, 'pnpm-workspace.yaml'))).toBe(true);
    expect(existsSync(join(repoRoot, 'scripts', 'infra', 'up.sh'))).toBe(true);
  });

  it('refuses to hand out the infrastructure to a test of the unit lane, naming the lane to move it to', () => {
    vi.stubEnv('REELBOARD_TEST_LANE', 'unit');
    expect(() => infraEnv()).toThrow(/unit lane.*belongs in the integration lane/);
  });
});
