import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { InfluxClient } from '../../influx/influx.client.js';

/** The suite's InfluxDB as its admin, for tests that build their own database on it. */
export function influxAdmin(): InfluxClient {
  const servers = inject('servers');
  return new InfluxClient({
    url: servers.influxUrl,
    username: servers.influxAdminUser,
    password: servers.influxAdminPassword,
  });
}

/** A database name no other test file uses. */
export const uniqueDatabase = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;
