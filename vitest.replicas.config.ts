import { defineConfig } from 'vitest/config';
import { SOURCE_FIRST } from './vitest.config.ts';

/**
 * The replica suite (test/replicas, issue 19): three gateway processes on one PostgreSQL behind
 * a round-robin TCP balancer, per file. Not part of `npm test` (whose projects run on both
 * databases): `npm run test:replicas`, with DATABASE_URL set, or it fails at once.
 */
export default defineConfig({
  ...SOURCE_FIRST,
  test: {
    include: ['test/replicas/**/*.test.ts'],
    globalSetup: [
      'test/replicas/require-postgres.ts',
      'test/helpers/build-setup.ts',
      'test/helpers/global-setup.ts',
    ],
    // Each file runs three gateways (and their integrations): one file at a time on 2 cores.
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
