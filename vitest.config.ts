import { defineConfig } from 'vitest/config';

/**
 * The test tiers (README, Development): `unit` and `api` need no server at all; `integration`
 * and `e2e` share one real PostgreSQL and InfluxDB started by the global setup.
 */
export default defineConfig({
  test: {
    // Real servers answer in milliseconds, but scrypt and server start-up take real time.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'api', include: ['test/api/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'real-servers',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
