import { existsSync } from 'node:fs';
import { configDefaults, defineConfig } from 'vitest/config';

const allTests = ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'];

// The unit lane: files that pass with Redis, Postgres, S3 and anvil down and start no ffmpeg of their own
// (checked by running them so, with stand-ins for those binaries that fail). A new test file lands in the
// integration lane until someone has checked that it belongs here.
export const unitTests = [
  'packages/api/test/boundaries.test.ts',
  'packages/api/test/edit-bodies.test.ts',
  'packages/api/test/route-table.test.ts',
  'packages/chain/test/price.test.ts',
  'packages/client/test/multipart.test.ts',
  'packages/config/test/chains.test.ts',
  'packages/config/test/config.test.ts',
  'packages/contracts/test/contracts.test.ts',
  'packages/lifecycle/test/quote-transitions.test.ts',
  'packages/logger/test/scrub.test.ts',
  'packages/media/test/capabilities.test.ts',
  'packages/media/test/chunk-commands.test.ts',
  'packages/media/test/commands.test.ts',
  'packages/media/test/ffmpeg-version.test.ts',
  'packages/media/test/ladder-plan.test.ts',
  'packages/media/test/units.test.ts',
  'packages/testkit/test/infra-env.test.ts',
  'packages/web/test/router.test.ts',
  'packages/web/test/browse-format.test.ts',
  'packages/web/test/offers.test.ts',
  'services/api-gateway/test/gazetteer.test.ts',
  'services/api-gateway/test/stream-manifest-rewrite.test.ts',
  'services/api-gateway/test/web.test.ts',
  'services/notifier/test/units.test.ts',
  'services/payment-watcher/test/refund-config.test.ts',
  'services/transcoder/test/chunk-plan.test.ts',
  'services/transcoder/test/config.test.ts',
  'services/transcoder/test/encode-timeout.test.ts',
  'services/transcoder/test/ladder-flow.test.ts',
  'services/transcoder/test/speculative-parts-flow.test.ts',
  'services/transcoder/test/progress-reporter.test.ts',
  'test/benchmarks-summary.test.ts',
  'test/build.test.ts',
  'test/compose.test.ts',
  'test/config-reference.test.ts',
  'test/import-graph.test.ts',
  'test/infra-distro.test.ts',
  'test/openapi-file.test.ts',
  'test/queue-table.test.ts',
];

// A renamed or deleted file would otherwise drop out of the unit lane without a word.
const missing = unitTests.filter((file) => !existsSync(new URL(file, import.meta.url)));
if (missing.length > 0) throw new Error(`vitest.config.ts lists unit tests that do not exist: ${missing.join(', ')}`);

export default defineConfig({
  test: {
    reporters: ['default'],
    // `vitest run` with both lanes: the unit lane first, then the integration lane alone on the CPU.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: unitTests,
          fileParallelism: true,
          testTimeout: 30_000,
          hookTimeout: 30_000,
          sequence: { groupOrder: 0 },
          // infraEnv() refuses to run in this lane, so a test that needs the infrastructure cannot slip in.
          env: { REELBOARD_TEST_LANE: 'unit' },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: allTests,
          exclude: [...configDefaults.exclude, ...unitTests],
          // The end-to-end suite runs the real stack: encodes take seconds on 2 cores.
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Test files share one machine's CPU with ffmpeg; running them one by one keeps timings sane.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
