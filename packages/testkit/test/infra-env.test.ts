import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { infraEnv, repoRoot, withDatabase } from '@reelboard/testkit/infra-env';

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

  it("points a test database URL at another database of the same server (the side lane's), refusing a name that is not plain", () => {
    expect(withDatabase('postgres://u:p@127.0.0.1:5432/reelboard_test', 'reelboard_test_side')).toBe('postgres://u:p@127.0.0.1:5432/reelboard_test_side');
    expect(withDatabase('postgres://u:p@127.0.0.1:5432/reelboard_test?sslmode=disable', 'other')).toBe('postgres://u:p@127.0.0.1:5432/other?sslmode=disable');
    expect(() => withDatabase('postgres://u:p@127.0.0.1:5432/reelboard_test', 'x; DROP DATABASE y')).toThrow(
      /REELBOARD_TEST_DATABASE=.*not a plain database name/,
    );
  });
});
