import { z } from 'zod';
import { env } from '../common/config.js';

/** The jobs component: retention and clean-up in the directory (P4, P7), on an interval. */
export const jobsConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  /** Postgres URL with the `telemoat_jobs` role: ids and timestamps, and the right to delete. */
  JOBS_DATABASE_URL: env.url(['postgres:', 'postgresql:']),
  /** How often the jobs run; each run deletes whatever has expired since the last. */
  JOBS_INTERVAL_MS: z.coerce.number().int().min(1000).default(3_600_000),
  /** P10: days security events (failed sign-ins with their IP addresses) are kept. */
  SECURITY_EVENTS_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
});

export type JobsConfig = z.output<typeof jobsConfigSchema>;
