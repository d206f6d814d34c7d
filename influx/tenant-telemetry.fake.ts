import type { ReadingPoint } from '../ingest/reading-point.js';
import { toLine, toPresenceLine, type PresencePoint } from './line-protocol.js';
import { assertExportable, CHUNK_ROWS, type ExportRange } from './readings.export.js';
import {
  aggregateWindows,
  assertAllowlisted,
  rowLimit,
  type AggregateRow,
  type LatestRow,
  type ManyAggregateQuery,
} from './readings.reader.js';
import type { Telemetry, TenantTelemetry } from './tenant-telemetry.js';

/**
 * Telemetry over points held in memory, for tests of the API's routes without InfluxDB. It
 * answers as createInfluxTelemetry does: test/support/tenant-telemetry.contract.ts holds both to
 * the same checks. It refuses the same input with the same errors, since it calls the readers'
 * own checks. Unlike InfluxDB it keeps every point: nothing expires after the raw retention, and
 * aggregates are always computed from the raw points, which is what the rollups hold too.
 */
export class FakeTelemetry implements Telemetry {
  /** By series and time: a point written again replaces the stored one, as in InfluxDB. */
  private readonly readings = new Map<string, ReadingPoint>();
  private readonly presence = new Map<string, PresencePoint>();

  constructor(
    points: { readings?: readonly ReadingPoint[]; presence?: readonly PresencePoint[] } = {},
  ) {
    this.write(points.readings ?? []);
    this.writePresence(points.presence ?? []);
  }

  /** Stores readings as the broker's spool drainer would, refusing what line protocol refuses. */
  write(points: readonly ReadingPoint[]): void {
    for (const point of points) {
      toLine(point);
      const { tenantKey, deviceKey, metric, time } = point;
      this.readings.set(`${tenantKey}/${deviceKey}/${metric}/${time}`, { ...point });
    }
  }

  /** Stores connections and disconnections as the broker records them. */
  writePresence(points: readonly PresencePoint[]): void {
    for (const point of points) {
      toPresenceLine(point);
      const { tenantKey, deviceKey, time } = point;
      this.presence.set(`${tenantKey}/${deviceKey}/${time}`, { ...point });
    }
  }

  forTenant(tenantKey: string): TenantTelemetry {
    const stored = () => [...this.readings.values()].filter((p) => p.tenantKey === tenantKey);
    return {
      readings: {
        list: (range) =>
          answer(() => {
            assertAllowlisted({ ...range, tenantKey });
            return stored()
              .filter(
                (p) =>
                  p.deviceKey === range.deviceKey &&
                  (range.metric === undefined || p.metric === range.metric) &&
                  within(p, range),
              )
              .sort(newestFirst)
              .slice(0, rowLimit(range.limit))
              .map(({ time, metric, value }) => ({ time, metric, value }));
          }),
        lastReadingTime: (deviceKey) =>
          answer(() => {
            assertAllowlisted({ tenantKey, deviceKey });
            const times = stored()
              .filter((p) => p.deviceKey === deviceKey)
              .map((p) => p.time);
            return times.length === 0 ? null : times.reduce((a, b) => Math.max(a, b));
          }),
        aggregateMany: (query) => answer(() => aggregate(stored(), { ...query, tenantKey })),
        latest: (since) =>
          answer(() => {
            assertAllowlisted({ tenantKey });
            const newest = new Map<string, LatestRow>();
            for (const { deviceKey, metric, time, value } of stored()) {
              if (since !== undefined && time < since.getTime()) continue;
              const key = `${deviceKey}/${metric}`;
              const known = newest.get(key);
              if (!known || known.time < time) newest.set(key, { deviceKey, metric, time, value });
            }
            return [...newest.values()];
          }),
        metrics: () =>
          answer(() => {
            assertAllowlisted({ tenantKey });
            return [...new Set(stored().map((p) => p.metric))].sort();
          }),
      },
      presence: {
        latest: (deviceKey) =>
          answer(() => {
            assertAllowlisted({ tenantKey, deviceKey });
            const newest = [...this.presence.values()]
              .filter((p) => p.tenantKey === tenantKey && p.deviceKey === deviceKey)
              .sort(newestFirst)[0];
            return newest ? { connected: newest.connected, since: newest.time } : null;
          }),
      },
      export: { stream: (range) => exportChunks(stored, { ...range, tenantKey }) },
      live: {
        since: (since, limit) =>
          answer(() => {
            assertAllowlisted({ tenantKey });
            return stored()
              .filter((p) => p.time > since.getTime())
              .sort(oldestFirst)
              .slice(0, rowLimit(limit))
              .map(({ time, deviceKey, metric, value }) => ({ time, deviceKey, metric, value }));
          }),
      },
    };
  }
}

/** Answers a tick later, as a store does; a refusal is a rejected promise, never a throw. */
function answer<T>(read: () => T): Promise<T> {
  return Promise.resolve().then(read);
}

/**
 * Windows as InfluxDB's GROUP BY time() makes them, summed in time order as InfluxDB does; only
 * numbers count, as only they are in the `value` field.
 */
function aggregate(
  points: readonly ReadingPoint[],
  query: ManyAggregateQuery,
): Map<string, AggregateRow[]> {
  const { start, end, step } = aggregateWindows('raw', query);
  const inRange = points
    .filter((p) => p.metric === query.metric && p.time >= start && p.time < end)
    .sort(oldestFirst);
  return new Map(
    query.deviceKeys.map((deviceKey) => {
      const windows = new Map<number, { min: number; max: number; sum: number; count: number }>();
      for (const { deviceKey: device, value, time } of inRange) {
        if (device !== deviceKey || typeof value !== 'number') continue;
        const window = Math.floor(time / step) * step;
        const row = windows.get(window);
        if (row) {
          row.min = Math.min(row.min, value);
          row.max = Math.max(row.max, value);
          row.sum += value;
          row.count += 1;
        } else {
          windows.set(window, { min: value, max: value, sum: value, count: 1 });
        }
      }
      const rows: AggregateRow[] = [];
      for (let time = start; time < end; time += step) {
        const row = windows.get(time);
        rows.push(
          row
            ? { time, min: row.min, max: row.max, mean: row.sum / row.count, count: row.count }
            : { time, min: null, max: null, mean: null, count: 0 },
        );
      }
      return [deviceKey, rows];
    }),
  );
}

/** Oldest first, in chunks of the size the real export asks InfluxDB for. */
async function* exportChunks(stored: () => ReadingPoint[], range: ExportRange) {
  assertExportable(range);
  const devices = range.deviceKeys?.length ? new Set(range.deviceKeys) : undefined;
  const rows = stored()
    .filter((p) => (!devices || devices.has(p.deviceKey)) && within(p, range))
    .sort(oldestFirst)
    .map(({ time, deviceKey, metric, value }) => ({ time, deviceKey, metric, value }));
  range.signal?.throwIfAborted();
  for (let i = 0; i < rows.length; i += CHUNK_ROWS) {
    const chunk = await answer(() => rows.slice(i, i + CHUNK_ROWS));
    // As when InfluxDB's next chunk is read: an abort in between ends the stream.
    range.signal?.throwIfAborted();
    yield chunk;
  }
}

function within(point: { time: number }, range: { from: Date; to: Date }): boolean {
  return point.time >= range.from.getTime() && point.time < range.to.getTime();
}

function newestFirst(a: { time: number }, b: { time: number }): number {
  return b.time - a.time;
}

function oldestFirst(a: { time: number }, b: { time: number }): number {
  return a.time - b.time;
}
