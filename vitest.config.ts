import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', 'data/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests that spawn real broker processes run in separate forks; they bind free ports only.
    pool: 'forks',
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
