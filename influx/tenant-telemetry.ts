import type { InfluxClient } from './influx.client.js';
import { PresenceReader, type Presence } from './presence.reader.js';
import { ReadingsExporter, type ExportedReading, type ExportRange } from './readings.export.js';
import {
  ReadingsReader,
  type AggregateRow,
  type LatestRow,
  type ManyAggregateQuery,
  type ReadingRow,
  type ReadingsRange,
} from './readings.reader.js';
import { RecentReadingsReader, type RecentReading } from './recent-readings.reader.js';

/**
 * Everything the API reads of one tenant's telemetry, with the tenant already chosen: a caller
 * cannot pass another tenant's key to one call by mistake. Each method takes what the reader
 * behind it takes, less the tenant key, and refuses and fails as that reader does.
 */
export interface TenantTelemetry {
  readings: {
    /** Raw readings of a device, newest first. */
    list(range: Omit<ReadingsRange, 'tenantKey'>): Promise<ReadingRow[]>;
    lastReadingTime(deviceKey: string): Promise<number | null>;
    /** Throws a TelemetryError `TELEMETRY_RANGE_TOO_LARGE` for more windows than it answers. */
    aggregateMany(
      query: Omit<ManyAggregateQuery, 'tenantKey'>,
    ): Promise<Map<string, AggregateRow[]>>;
    /** The newest value of each metric of each device, of those taken at or after `since`. */
    latest(since?: Date): Promise<LatestRow[]>;
    metrics(): Promise<string[]>;
  };
  presence: { latest(deviceKey: string): Promise<Presence | null> };
  export: { stream(range: Omit<ExportRange, 'tenantKey'>): AsyncIterable<ExportedReading[]> };
  /** The live stream's poll: readings stamped after `since`, oldest first. */
  live: { since(since: Date, limit: number): Promise<RecentReading[]> };
}

export interface Telemetry {
  forTenant(tenantKey: string): TenantTelemetry;
}

export interface InfluxTelemetryOptions {
  /** Connected as the API's READ-only InfluxDB user. */
  client: InfluxClient;
  database: string;
  /** RAW_RETENTION_DAYS: aggregates over ranges that start before it read the rollups. */
  rawRetentionDays?: number;
  now?: () => number;
}

/**
 * The telemetry of every tenant in one InfluxDB. Every read passes through `forTenant`, so
 * storage regions can be added here alone: a region → client map, and `forTenant` picking the
 * tenant's client from it; no route would change.
 */
export function createInfluxTelemetry(options: InfluxTelemetryOptions): Telemetry {
  const { client, database, rawRetentionDays, now } = options;
  const readings = new ReadingsReader(client, database, { rawRetentionDays, now });
  const presence = new PresenceReader(client, database);
  const exporter = new ReadingsExporter(client, database);
  const recent = new RecentReadingsReader(client, database);
  return {
    forTenant: (tenantKey) => ({
      readings: {
        list: (range) => readings.list({ ...range, tenantKey }),
        lastReadingTime: (deviceKey) => readings.lastReadingTime(tenantKey, deviceKey),
        aggregateMany: (query) => readings.aggregateMany({ ...query, tenantKey }),
        latest: (since) => readings.latest(tenantKey, since),
        metrics: () => readings.metrics(tenantKey),
      },
      presence: { latest: (deviceKey) => presence.latest(tenantKey, deviceKey) },
      export: { stream: (range) => exporter.stream({ ...range, tenantKey }) },
      live: { since: (since, limit) => recent.since(tenantKey, since, limit) },
    }),
  };
}
