import { afterAll, beforeAll } from 'vitest';
import { identifier } from '../../influx/influx.setup.js';
import { toLine, toPresenceLine } from '../../influx/line-protocol.js';
import { setupRetention } from '../../influx/retention.js';
import { createInfluxTelemetry } from '../../influx/tenant-telemetry.js';
import { influxAdmin, uniqueDatabase } from '../support/influx-database.js';
import { tenantTelemetryContract } from '../support/tenant-telemetry.contract.js';

const admin = influxAdmin();
const database = uniqueDatabase('tenant_telemetry');

beforeAll(async () => {
  await admin.query(`CREATE DATABASE ${identifier(database)}`);
  await setupRetention(admin, database, { rawDays: 30, rollupDays: 730 });
});

afterAll(async () => {
  await admin.query(`DROP DATABASE ${identifier(database)}`);
});

tenantTelemetryContract('InfluxDB', () => ({
  telemetry: createInfluxTelemetry({ client: admin, database, rawRetentionDays: 30 }),
  write: (readings, presence) =>
    admin.write(database, [...readings.map(toLine), ...presence.map(toPresenceLine)].join('\n')),
}));
