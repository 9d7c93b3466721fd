import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.data/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Creates the `test` database on the server when it is missing (never skips a database test).
    globalSetup: ['test/support/global-setup.ts'],
  },
});
