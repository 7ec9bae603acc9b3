import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ from the current src/ before any test: spawned servers run dist/src/cli.js.
    globalSetup: ['test/helpers/buildDist.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Server processes are spawned per file; two cores: keep parallelism modest.
    maxWorkers: 2,
  },
});
