import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (no database) and `integration` (a real database: embedded PGlite, or the
 * Postgres in DATABASE_URL when it is set, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test).
 * Integration files each get fresh databases, so they run in parallel without seeing each other.
 */
export default defineConfig({
  test: {
    // Integration files start PGlite instances and gateway processes; two at a time fits 2 cores.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 1 },
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 2 },
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          // Cold PGlite and child gateway processes take seconds on a 2-core machine.
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
