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
    // Vitest's default is one worker per core but one, so on these 2-core machines every file
    // would run alone. Most files wait on servers (Postgres, InfluxDB, MQTT, SMTP, a browser)
    // rather than compute, and every wait is for a condition, so four files at a time are safe.
    maxWorkers: 4,
    minWorkers: 1,
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
