import { defineConfig } from 'vitest/config';

/**
 * The nektos/act scenarios (test/act): each runs real workflows with act, so
 * they get one worker (act, go and tar already keep two cores busy), long
 * timeouts (the first run may build act with `go install`), and their own
 * JSON report, which .ci/run adds to the totals.
 */
export default defineConfig({
  test: {
    // .spec.ts, not .test.ts: the main config (test/**/*.test.ts) must not pick these up.
    include: ['test/act/**/*.spec.ts'],
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 900_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'build/test-results-act.json' },
  },
});
