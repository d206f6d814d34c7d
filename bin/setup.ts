import type { Logger } from '../common/logger.js';
import { provisionDirectory } from '../directory/db/provision.js';
import { InfluxClient } from '../influx/influx.client.js';
import { setupInflux } from '../influx/influx.setup.js';
import { setupRetention } from '../influx/retention.js';
import { databaseNameOf, type SetupConfig } from './setup.config.js';

/** Brings Postgres and InfluxDB to the layout the components expect. Idempotent. */
export async function runSetup(config: SetupConfig, logger: Logger): Promise<void> {
  const log = logger.child({ module: 'setup' });
  const applied = await provisionDirectory({
    adminUrl: config.DATABASE_URL,
    database: databaseNameOf(config.DATABASE_URL),
    passwords: {
      telemoat_api: config.API_DATABASE_PASSWORD,
      telemoat_broker: config.BROKER_DATABASE_PASSWORD,
      telemoat_jobs: config.JOBS_DATABASE_PASSWORD,
    },
  });
  log.info({ applied }, 'directory ready');
  const admin = new InfluxClient({
    url: config.INFLUX_URL,
    username: config.INFLUX_ADMIN_USER,
    password: config.INFLUX_ADMIN_PASSWORD,
  });
  await setupInflux(admin, {
    database: config.INFLUX_DATABASE,
    ingest: { username: config.INFLUX_INGEST_USER, password: config.INFLUX_INGEST_PASSWORD },
    api: { username: config.INFLUX_API_USER, password: config.INFLUX_API_PASSWORD },
  });
  const retention = {
    rawDays: config.RAW_RETENTION_DAYS,
    rollupDays: config.ROLLUP_RETENTION_DAYS,
  };
  await setupRetention(admin, config.INFLUX_DATABASE, retention);
  log.info({ database: config.INFLUX_DATABASE, retention }, 'InfluxDB ready');
}
