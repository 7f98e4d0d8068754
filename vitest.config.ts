import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // The end-to-end suite runs the real stack: encodes take seconds on 2 cores.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Test files share one machine's CPU with ffmpeg; running them one by one keeps timings sane.
    fileParallelism: false,
    reporters: ['default'],
  },
});
