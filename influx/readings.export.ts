import { pseudonymPattern } from '../common/ids.js';
import type { InfluxClient } from './influx.client.js';
import { READINGS_MEASUREMENT } from './line-protocol.js';
import { RAW_POLICY } from './retention.js';
import { TelemetryError } from './telemetry.errors.js';

/** One raw reading as the export sees it: pseudonyms only, never a name (P2). */
export interface ExportedReading {
  /** Epoch milliseconds. */
  time: number;
  deviceKey: string;
  metric: string;
  value: number | boolean;
}

export interface ExportRange {
  tenantKey: string;
  /** Only these devices' readings; all of the tenant's when absent. */
  deviceKeys?: readonly string[];
  from: Date;
  to: Date;
  /** Aborting it ends the query at InfluxDB, e.g. when the downloading client has gone. */
  signal?: AbortSignal;
}

/**
 * Rows per chunk: about 75 kB of JSON and 85 kB of CSV. Below V8's large-object size (128 kB),
 * each chunk's strings die young in the nursery; 10,000-row chunks are large objects that wait
 * for a full collection and grew the heap by 150 MB during a 1M-reading export.
 */
export const CHUNK_ROWS = 1000;

/** At most this many devices in one filter: the statement stays a sane size. */
export const MAX_EXPORT_DEVICES = 1000;

/**
 * Streams a tenant's raw readings oldest first, a chunk at a time, with the API's READ-only
 * InfluxDB user. The tenant and device pseudonyms are checked against their allowlist and bound
 * as parameters; nothing from a request is spliced into the statement.
 */
export class ReadingsExporter {
  constructor(
    private readonly client: InfluxClient,
    private readonly database: string,
  ) {}

  async *stream(range: ExportRange): AsyncGenerator<ExportedReading[], void, undefined> {
    assertExportable(range);
    const deviceKeys = range.deviceKeys ?? [];
    const params: Record<string, string> = {
      tenant: range.tenantKey,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
    };
    deviceKeys.forEach((key, i) => (params[`device${i}`] = key));
    const deviceClause = deviceKeys.length
      ? ` AND (${deviceKeys.map((_, i) => `"device" = $device${i}`).join(' OR ')})`
      : '';
    const statement =
      `SELECT "device", "metric", "value", "flag" FROM "${RAW_POLICY}"."${READINGS_MEASUREMENT}" ` +
      `WHERE "tenant" = $tenant${deviceClause} AND time >= $from AND time < $to`;
    const series = this.client.queryStream(statement, {
      database: this.database,
      params,
      chunkSize: CHUNK_ROWS,
      ...(range.signal ? { signal: range.signal } : {}),
    });
    for await (const { columns, values = [] } of series) {
      const at = (name: string) => columns.indexOf(name);
      const [time, device, metric, value, flag] = [
        at('time'),
        at('device'),
        at('metric'),
        at('value'),
        at('flag'),
      ];
      yield values.map((row) => ({
        time: row[time] as number,
        deviceKey: row[device] as string,
        metric: row[metric] as string,
        value: (row[value] ?? row[flag]) as number | boolean,
      }));
    }
  }
}

/** Refuses keys outside the pseudonym allowlist, and more devices than a filter may name. */
export function assertExportable(range: Pick<ExportRange, 'tenantKey' | 'deviceKeys'>): void {
  const deviceKeys = range.deviceKeys ?? [];
  if (![range.tenantKey, ...deviceKeys].every((key) => pseudonymPattern.test(key))) {
    throw new TelemetryError('TELEMETRY_INVALID_QUERY', 'pseudonym is not allowlisted');
  }
  if (deviceKeys.length > MAX_EXPORT_DEVICES)
    throw new TelemetryError('TELEMETRY_INVALID_QUERY', 'too many devices');
}
