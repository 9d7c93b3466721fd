import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    // Any node_modules: bench/runtimes has its own, and packages there ship their own *.test.ts.
    exclude: ['**/node_modules/**', '.data/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Creates the `test` database on the server when it is missing (never skips a database test).
    globalSetup: ['test/support/global-setup.ts'],
  },
});
