import { z } from 'zod';
import { env } from '../common/config.js';

/** The set-up step: creates databases, roles and users, and applies migrations. */
export const setupConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  /** Postgres URL of a role that may create roles and databases; its path names the database. */
  DATABASE_URL: env.url(['postgres:', 'postgresql:']),
  API_DATABASE_PASSWORD: env.secret(),
  BROKER_DATABASE_PASSWORD: env.secret(),
  JOBS_DATABASE_PASSWORD: env.secret(),
  INFLUX_URL: env.url(['http:', 'https:']),
  INFLUX_DATABASE: env.name().default('telemoat'),
  INFLUX_ADMIN_USER: env.name(),
  INFLUX_ADMIN_PASSWORD: env.secret(),
  INFLUX_INGEST_USER: env.name().default('telemoat_ingest'),
  INFLUX_INGEST_PASSWORD: env.secret(),
  INFLUX_API_USER: env.name().default('telemoat_api'),
  INFLUX_API_PASSWORD: env.secret(),
  RAW_RETENTION_DAYS: env.rawRetentionDays(),
  /** Days the 1-minute and 1-hour rollups are kept. */
  ROLLUP_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(730),
});

export type SetupConfig = z.output<typeof setupConfigSchema>;

export function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1)) || 'telemoat';
}
