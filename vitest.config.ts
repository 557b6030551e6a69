// The suite runs once per store: always on SQLite, and on PostgreSQL too when
// MAILSTACK_TEST_DATABASE_URL is set (each test file gets its own schema there).
import { defineConfig } from 'vitest/config';

const postgres = process.env.MAILSTACK_TEST_DATABASE_URL;

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default', './scripts/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'sqlite', env: { MAILSTACK_TEST_STORE: 'sqlite' } } },
      ...(postgres ? [{ extends: true as const, test: { name: 'postgres', env: { MAILSTACK_TEST_STORE: 'postgres' } } }] : []),
    ],
  },
});
