import { defineConfig } from 'vitest/config';

/**
 * Tests import the workspace packages' TypeScript sources: the `switchboard-source` condition
 * of their package.json exports (without it, `@switchboard/sdk` is the compiled dist/).
 * Vitest's own resolve conditions, first; test/unit/source-conditions.test.ts checks it.
 * Processes the tests start (`switchboard start`, the example servers) run the compiled build,
 * which test/helpers/build-setup.ts brings up to date before any test runs.
 */
export const SOURCE_FIRST = {
  ssr: { resolve: { conditions: ['switchboard-source', 'node', 'development|production'] } },
};

/**
 * Four projects: `unit` (no database), `integration`, `security` and `console` (a real database:
 * embedded PGlite, or the Postgres in DATABASE_URL when it is set, e.g.
 * DATABASE_URL=postgres://postgres@127.0.0.1:5432/test); `console` drives the operator console
 * in Chromium.
 * Integration files each get fresh databases, so they run in parallel without seeing each other.
 */
export default defineConfig({
  test: {
    // Integration files start PGlite instances and gateway processes; two at a time fits 2 cores.
    maxWorkers: 2,
    projects: [
      {
        ...SOURCE_FIRST,
        test: {
          name: 'unit',
          // process.env is changed only with vi.stubEnv, and restored after each test.
          unstubEnvs: true,
          sequence: { groupOrder: 1 },
          include: ['test/unit/**/*.test.ts'],
          globalSetup: ['test/helpers/build-setup.ts'],
          testTimeout: 20_000,
        },
      },
      {
        ...SOURCE_FIRST,
        test: {
          name: 'integration',
          // process.env is changed only with vi.stubEnv, and restored after each test.
          unstubEnvs: true,
          sequence: { groupOrder: 2 },
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/build-setup.ts', 'test/helpers/global-setup.ts'],
          // Cold PGlite and child gateway processes take seconds on a 2-core machine.
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        ...SOURCE_FIRST,
        // Attack tests, one file per area (test/security/README.md): same real databases and
        // processes as the integration project, kept apart so they read as the threat model.
        test: {
          name: 'security',
          // process.env is changed only with vi.stubEnv, and restored after each test.
          unstubEnvs: true,
          sequence: { groupOrder: 3 },
          include: ['test/security/**/*.test.ts'],
          globalSetup: ['test/helpers/build-setup.ts', 'test/helpers/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        ...SOURCE_FIRST,
        // The operator console in a real browser (Debian's Chromium through playwright-core):
        // the gateway process with the example integrations, one browser per file.
        test: {
          name: 'console',
          sequence: { groupOrder: 4 },
          include: ['test/console/**/*.test.ts'],
          globalSetup: [
            'test/helpers/build-setup.ts',
            'test/helpers/global-setup.ts',
            'test/helpers/chromium-setup.ts',
          ],
          testTimeout: 90_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
