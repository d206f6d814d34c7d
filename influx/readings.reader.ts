import { metricPattern, pseudonymPattern } from '../common/ids.js';
import { rowsOf, type InfluxClient } from './influx.client.js';
import { READINGS_MEASUREMENT } from './reading-point.js';

export interface ReadingRow {
  time: number;
  metric: string;
  value: number | boolean;
}

export interface ReadingsRange {
  tenantKey: string;
  deviceKey: string;
  metric?: string;
  from: Date;
  to: Date;
  limit: number;
}

/**
 * Reads readings with the API's InfluxDB user (READ only). Pseudonyms and metric names are
 * checked against their allowlists and then bound as parameters, never spliced into InfluxQL.
 */
export class ReadingsReader {
  constructor(
    private readonly client: InfluxClient,
    private readonly database: string,
  ) {}

  async list(range: ReadingsRange): Promise<ReadingRow[]> {
    if (!pseudonymPattern.test(range.tenantKey) || !pseudonymPattern.test(range.deviceKey)) {
      throw new RangeError('pseudonym is not allowlisted');
    }
    if (range.metric !== undefined && !metricPattern.test(range.metric)) {
      throw new RangeError('metric is not allowlisted');
    }
    const metricClause = range.metric === undefined ? '' : ' AND "metric" = $metric';
    const limit = Math.max(1, Math.min(Math.trunc(range.limit), 10_000));
    const statement =
      `SELECT "metric", "value", "flag" FROM "${READINGS_MEASUREMENT}" ` +
      `WHERE "tenant" = $tenant AND "device" = $device${metricClause} ` +
      `AND time >= $from AND time < $to ORDER BY time DESC LIMIT ${limit}`;
    const params: Record<string, string> = {
      tenant: range.tenantKey,
      device: range.deviceKey,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
    };
    if (range.metric !== undefined) params.metric = range.metric;
    const series = await this.client.query(statement, { database: this.database, params });
    return series.flatMap(rowsOf).map((row) => ({
      time: row.time as number,
      metric: row.metric as string,
      value: (row.value ?? row.flag) as number | boolean,
    }));
  }
}
