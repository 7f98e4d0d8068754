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
  'packages/testkit/test/rpc-proxy.test.ts',
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

// The integration side lane: files that mostly wait (quote deadlines, block confirmations, retry windows)
// on the CPU the serial lane's encodes leave, so scripts/test.sh runs them beside it, one at a time. Each
// needs nothing the serial lane's files share: no stack or fixed port of theirs (their ports move up by
// SIDE_PORT_OFFSET), no shared anvil (each starts a private one or none), no ffmpeg, S3 only under keys of
// their own, Redis under a prefix of their own, and a test database of their own (side-lane-setup.ts), so
// a serial file's reconciliation never reads their quotes. A file moves here only when it meets all that.
export const sideLaneTests = [
  'packages/db/test/lifecycle.test.ts',
  'packages/db/test/listings.test.ts',
  'packages/db/test/nearest.test.ts',
  'packages/db/test/payments.test.ts',
  'packages/db/test/reversals.test.ts',
  'packages/db/test/search.test.ts',
  'packages/lifecycle/test/lifecycle.test.ts',
  'packages/lifecycle/test/status-store.test.ts',
  'services/notifier/test/notifier.test.ts',
  'services/notifier/test/read-status-log.test.ts',
  'services/notifier/test/saved-searches.test.ts',
  'services/notifier/test/webhook-chain.test.ts',
  'services/notifier/test/webhook-order.test.ts',
  'services/payment-watcher/test/activity-cost.test.ts',
  'services/payment-watcher/test/chains-reconcile.test.ts',
  'services/payment-watcher/test/chains.test.ts',
  'services/payment-watcher/test/deposit-salt.test.ts',
  'services/payment-watcher/test/deposits.test.ts',
  'services/payment-watcher/test/expired-spread.test.ts',
  'services/payment-watcher/test/fiat-tolerance.test.ts',
  'services/payment-watcher/test/finality.test.ts',
  'services/payment-watcher/test/ledger-truth.test.ts',
  'services/payment-watcher/test/offers.test.ts',
  'services/payment-watcher/test/quote-settings.test.ts',
  'services/payment-watcher/test/reconcile.test.ts',
  'services/payment-watcher/test/refund-sender.test.ts',
  'services/payment-watcher/test/refund-service.test.ts',
  'services/payment-watcher/test/refunds-due-metric.test.ts',
  'services/payment-watcher/test/renewal.test.ts',
  'services/payment-watcher/test/scan-lease.test.ts',
  'services/payment-watcher/test/service.test.ts',
  'services/payment-watcher/test/stuck-work.test.ts',
  'services/payment-watcher/test/sweep.test.ts',
  'services/payment-watcher/test/swept-record.test.ts',
  'services/profile-writer/test/payment-ledger.test.ts',
];

/** The serial lane's files use ports up to TEST_BASE_PORT + 377; the side lane's start this far above. */
const SIDE_PORT_OFFSET = 500;

// A renamed or deleted file would otherwise drop out of its lane without a word.
const missing = [...unitTests, ...sideLaneTests].filter((file) => !existsSync(new URL(file, import.meta.url)));
if (missing.length > 0) throw new Error(`vitest.config.ts lists tests that do not exist: ${missing.join(', ')}`);
const inBoth = sideLaneTests.filter((file) => unitTests.includes(file));
if (inBoth.length > 0) throw new Error(`vitest.config.ts lists tests in the unit and the side lane: ${inBoth.join(', ')}`);

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
          exclude: [...configDefaults.exclude, ...unitTests, ...sideLaneTests],
          // The end-to-end suite runs the real stack: encodes take seconds on 2 cores.
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Test files share one machine's CPU with ffmpeg; running them one by one keeps timings sane.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          // scripts/test.sh runs it beside the integration lane (a second vitest); a plain `vitest run` after it.
          name: 'integration-side',
          include: sideLaneTests,
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
          globalSetup: ['packages/testkit/src/side-lane-setup.ts'],
          env: {
            REELBOARD_TEST_DATABASE: 'reelboard_test_side',
            TEST_BASE_PORT: String(Number(process.env.TEST_BASE_PORT ?? 18080) + SIDE_PORT_OFFSET),
          },
        },
      },
    ],
  },
});
