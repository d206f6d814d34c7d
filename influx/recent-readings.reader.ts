import { pseudonymPattern } from '../common/ids.js';
import { rowsOf, type InfluxClient } from './influx.client.js';
import { READINGS_MEASUREMENT } from './line-protocol.js';
import { rowLimit } from './readings.reader.js';
import { RAW_POLICY } from './retention.js';

export interface RecentReading {
  /** Epoch milliseconds. */
  time: number;
  deviceKey: string;
  metric: string;
  value: number | boolean;
}

/**
 * The newest raw readings of a tenant, for the live stream's poller. Pseudonyms only (P2); the
 * tenant key is checked against its allowlist and bound as a parameter.
 */
export class RecentReadingsReader {
  constructor(
    private readonly client: InfluxClient,
    private readonly database: string,
  ) {}

  /** Readings stamped after `since`, oldest first, at most `limit` of them. */
  async since(tenantKey: string, since: Date, limit: number): Promise<RecentReading[]> {
    if (!pseudonymPattern.test(tenantKey)) throw new RangeError('pseudonym is not allowlisted');
    const rows = rowLimit(limit);
    const statement =
      `SELECT "device", "metric", "value", "flag" FROM "${RAW_POLICY}"."${READINGS_MEASUREMENT}" ` +
      `WHERE "tenant" = $tenant AND time > $since ORDER BY time ASC LIMIT ${rows}`;
    const series = await this.client.query(statement, {
      database: this.database,
      params: { tenant: tenantKey, since: since.toISOString() },
    });
    return series.flatMap(rowsOf).map((row) => ({
      time: row.time as number,
      deviceKey: row.device as string,
      metric: row.metric as string,
      value: (row.value ?? row.flag) as number | boolean,
    }));
  }
}
