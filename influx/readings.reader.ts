import { metricPattern, pseudonymPattern } from '../common/ids.js';
import { rowsOf, type InfluxClient } from './influx.client.js';
import { READINGS_MEASUREMENT } from './line-protocol.js';
import { RAW_POLICY, ROLLUPS, type RollupPolicy } from './retention.js';
import { TelemetryError } from './telemetry.errors.js';
import { MINUTE_MS, HOUR_MS, DAY_MS } from '../common/time.js';

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

export type LatestValue = number | boolean;

export interface LatestRow {
  deviceKey: string;
  metric: string;
  time: number;
  value: LatestValue;
}

export type AggregateWindow = '1m' | '1h' | '1d';
export type AggregateSource = typeof RAW_POLICY | RollupPolicy;

export interface AggregateQuery {
  tenantKey: string;
  deviceKey: string;
  metric: string;
  from: Date;
  to: Date;
  window: AggregateWindow;
}

/** An aggregate over several devices of one tenant. */
export type ManyAggregateQuery = Omit<AggregateQuery, 'deviceKey'> & { deviceKeys: string[] };

export interface AggregateRow {
  /** Start of the window, epoch milliseconds. */
  time: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  count: number;
}

const WINDOW_MS: Record<AggregateWindow, number> = { '1m': MINUTE_MS, '1h': HOUR_MS, '1d': DAY_MS };

/** The finest window each source can answer: a rollup bucket cannot be split again. */
const SOURCE_RESOLUTION_MS: Record<AggregateSource, number> = {
  raw: 0,
  rollup_1m: MINUTE_MS,
  rollup_1h: HOUR_MS,
};

/** The most rows a raw answer holds (`list`, the live stream's poll). */
const MAX_ROWS = 10_000;

/** The same bound as the row limit: an answer a client can still draw. */
const MAX_WINDOWS = MAX_ROWS;

/**
 * Aggregates of `value` per source. Rollups hold one row per bucket, so they are combined
 * again; the mean is their sum over their count, weighting each bucket by its readings.
 */
const AGGREGATES_FROM: Record<AggregateSource, string> = {
  raw:
    'SELECT min("value") AS "min", max("value") AS "max", mean("value") AS "mean", ' +
    `count("value") AS "count" FROM "${RAW_POLICY}"."${READINGS_MEASUREMENT}"`,
  rollup_1m: rollupAggregates('rollup_1m'),
  rollup_1h: rollupAggregates('rollup_1h'),
};

function rollupAggregates(policy: RollupPolicy): string {
  return (
    'SELECT min("min") AS "min", max("max") AS "max", sum("sum") / sum("count") AS "mean", ' +
    `sum("count") AS "count" FROM "${policy}"."${ROLLUPS[policy].name}"`
  );
}

/**
 * Picks where an aggregate is read from, by the length of the range:
 * - raw up to 24 h, or up to 2 days for 1-minute windows: the scan stays modest (a reading every
 *   2 s is 43 200 a day) and the newest windows are complete, where the rollups wait for their
 *   continuous query's next run;
 * - rollup_1m up to 31 days (at most 44 640 rows), and beyond that for 1-minute windows, since
 *   a source may never be coarser than the window;
 * - rollup_1h for longer ranges.
 * Given the raw retention, a range starting before it never reads raw, however short.
 * All three give the same figures for every window their data covers.
 */
export function chooseSource(
  from: Date,
  to: Date,
  window: AggregateWindow,
  retention?: RawRetention,
): AggregateSource {
  const range = to.getTime() - from.getTime();
  const rawHoldsIt = !retention || from.getTime() >= retention.now - retention.rawDays * DAY_MS;
  if (rawHoldsIt && (range <= DAY_MS || (window === '1m' && range <= 2 * DAY_MS))) return 'raw';
  if (range <= 31 * DAY_MS || window === '1m') return 'rollup_1m';
  return 'rollup_1h';
}

/**
 * How long raw readings are kept (RAW_RETENTION_DAYS) and the current time: a short range that
 * starts before the raw policy's horizon has (partly) expired there and must come from rollups.
 */
export interface RawRetention {
  rawDays: number;
  now: number;
}

/**
 * Reads readings with the API's InfluxDB user (READ only). Pseudonyms and metric names are
 * checked against their allowlists and then bound as parameters, never spliced into InfluxQL.
 */
export class ReadingsReader {
  constructor(
    private readonly client: InfluxClient,
    private readonly database: string,
    private readonly options: { rawRetentionDays?: number; now?: () => number } = {},
  ) {}

  async list(range: ReadingsRange): Promise<ReadingRow[]> {
    assertAllowlisted(range);
    const metricClause = range.metric === undefined ? '' : ' AND "metric" = $metric';
    const limit = rowLimit(range.limit);
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

  /**
   * The newest value of every metric of every device of the tenant, taken at or after `since`
   * when it is given: without it InfluxDB reads every shard the raw retention holds. Numbers and
   * flags are two fields; each is asked for on its own, as `last()` of two fields would lose
   * their times.
   */
  async latest(tenantKey: string, since?: Date): Promise<LatestRow[]> {
    assertAllowlisted({ tenantKey });
    const params: Record<string, string> = { tenant: tenantKey };
    if (since !== undefined) params.since = since.toISOString();
    const sinceClause = since === undefined ? '' : ' AND time >= $since';
    const [values, flags] = await Promise.all(
      (['value', 'flag'] as const).map((field) =>
        this.client.query(
          `SELECT last("${field}") AS "last" FROM "${READINGS_MEASUREMENT}" ` +
            `WHERE "tenant" = $tenant${sinceClause} GROUP BY "device", "metric"`,
          { database: this.database, params },
        ),
      ),
    );
    const newest = new Map<string, LatestRow>();
    for (const series of [...(values ?? []), ...(flags ?? [])]) {
      const deviceKey = series.tags?.device;
      const metric = series.tags?.metric;
      const row = rowsOf(series)[0];
      if (!deviceKey || !metric || !row) continue;
      const found = { deviceKey, metric, time: row.time as number, value: row.last as LatestValue };
      const key = `${deviceKey}/${metric}`;
      const known = newest.get(key);
      if (!known || known.time < found.time) newest.set(key, found);
    }
    return [...newest.values()];
  }

  /** When the device's newest reading was taken, or null when it has none (any metric). */
  async lastReadingTime(tenantKey: string, deviceKey: string): Promise<number | null> {
    assertAllowlisted({ tenantKey, deviceKey });
    const series = await this.client.query(
      `SELECT "metric", "value", "flag" FROM "${READINGS_MEASUREMENT}" ` +
        'WHERE "tenant" = $tenant AND "device" = $device ORDER BY time DESC LIMIT 1',
      { database: this.database, params: { tenant: tenantKey, device: deviceKey } },
    );
    const time = series.flatMap(rowsOf)[0]?.time;
    return typeof time === 'number' ? time : null;
  }

  /**
   * The metric names the tenant's devices report, from the raw readings and the 1-hour rollup
   * (which still knows metrics whose raw readings have expired), sorted.
   */
  async metrics(tenantKey: string): Promise<string[]> {
    assertAllowlisted({ tenantKey });
    const sources = [
      `"${RAW_POLICY}"."${READINGS_MEASUREMENT}"`,
      `"rollup_1h"."${ROLLUPS.rollup_1h.name}"`,
    ];
    const answers = await Promise.all(
      sources.map((source) =>
        this.client.query(
          `SHOW TAG VALUES FROM ${source} WITH KEY = "metric" WHERE "tenant" = $tenant`,
          { database: this.database, params: { tenant: tenantKey } },
        ),
      ),
    );
    const names = new Set(
      answers
        .flat()
        .flatMap(rowsOf)
        .map((row) => row.value)
        .filter((v): v is string => typeof v === 'string' && metricPattern.test(v)),
    );
    return [...names].sort();
  }

  /** Min, max, mean and count of a numeric metric per window, from the cheapest fitting source. */
  async aggregate(query: AggregateQuery): Promise<AggregateRow[]> {
    const { deviceKey, ...rest } = query;
    const rows = await this.aggregateMany({ ...rest, deviceKeys: [deviceKey] });
    return rows.get(deviceKey)!;
  }

  /** `aggregate` for several devices of one tenant in one statement: rows by device key. */
  aggregateMany(query: ManyAggregateQuery): Promise<Map<string, AggregateRow[]>> {
    const { rawRetentionDays, now = Date.now } = this.options;
    const retention =
      rawRetentionDays === undefined ? undefined : { rawDays: rawRetentionDays, now: now() };
    return this.aggregateManyFrom(
      chooseSource(query.from, query.to, query.window, retention),
      query,
    );
  }

  async aggregateFrom(source: AggregateSource, query: AggregateQuery): Promise<AggregateRow[]> {
    const { deviceKey, ...rest } = query;
    const rows = await this.aggregateManyFrom(source, { ...rest, deviceKeys: [deviceKey] });
    return rows.get(deviceKey)!;
  }

  /**
   * Every window that overlaps [from, to), whole, oldest first; a window without readings has
   * count 0 and null figures. Widening the range to whole windows is what makes raw and rollup
   * answers identical: a rollup bucket cannot be cut at an arbitrary instant. One statement
   * grouped by device serves any number of devices: InfluxDB answers it in about the time of
   * one device's, where a statement per device costs a round trip and a query plan each.
   */
  async aggregateManyFrom(
    source: AggregateSource,
    query: ManyAggregateQuery,
  ): Promise<Map<string, AggregateRow[]>> {
    const { deviceKeys } = query;
    const { start, end, step } = aggregateWindows(source, query);
    const devices = deviceKeys.map((_, i) => `"device" = $device${i}`).join(' OR ');
    const statement =
      `${AGGREGATES_FROM[source]} ` +
      `WHERE "tenant" = $tenant AND "metric" = $metric AND (${devices}) ` +
      // fill(none): the empty windows are added below, also when the range holds no reading.
      `AND time >= $from AND time < $to GROUP BY time(${query.window}), "device" fill(none)`;
    const params = {
      tenant: query.tenantKey,
      metric: query.metric,
      from: new Date(start).toISOString(),
      to: new Date(end).toISOString(),
      ...Object.fromEntries(deviceKeys.map((key, i) => [`device${i}`, key])),
    };
    const series = await this.client.query(statement, { database: this.database, params });
    const byDevice = new Map(series.map((s) => [s.tags?.device, s]));
    return new Map(
      deviceKeys.map((deviceKey) => {
        const found = new Map(
          rowsOf(byDevice.get(deviceKey) ?? { name: '', columns: [] }).map((row) => [
            row.time as number,
            row,
          ]),
        );
        const rows: AggregateRow[] = [];
        for (let time = start; time < end; time += step) {
          const row = found.get(time);
          rows.push({
            time,
            min: numberOrNull(row?.min),
            max: numberOrNull(row?.max),
            mean: numberOrNull(row?.mean),
            count: numberOrNull(row?.count) ?? 0,
          });
        }
        return [deviceKey, rows];
      }),
    );
  }
}

/** `limit` as a row count a statement can hold: whole, at least 1, at most `MAX_ROWS`. */
export function rowLimit(limit: number): number {
  return Math.max(1, Math.min(Math.trunc(limit), MAX_ROWS));
}

/**
 * The windows an aggregate answers, `step` ms apart from `start` to `end`: whole windows, so
 * every window that overlaps [from, to). Refuses what `source` cannot answer before anything is
 * queried, each refusal a TelemetryError: TELEMETRY_RANGE_TOO_LARGE when a caller's request asks
 * for too many windows, TELEMETRY_INVALID_QUERY for what the routes should never let through.
 */
export function aggregateWindows(
  source: AggregateSource,
  query: ManyAggregateQuery,
): { start: number; end: number; step: number } {
  assertAllowlisted(query);
  for (const deviceKey of query.deviceKeys) {
    assertAllowlisted({ tenantKey: query.tenantKey, deviceKey });
  }
  if (query.deviceKeys.length === 0)
    throw new TelemetryError('TELEMETRY_INVALID_QUERY', 'no device to aggregate');
  const step = WINDOW_MS[query.window];
  if (step < SOURCE_RESOLUTION_MS[source]) {
    throw new TelemetryError(
      'TELEMETRY_INVALID_QUERY',
      `${source} cannot answer ${query.window} windows`,
    );
  }
  const start = Math.floor(query.from.getTime() / step) * step;
  const end = Math.ceil(query.to.getTime() / step) * step;
  if (!(start < end)) throw new TelemetryError('TELEMETRY_INVALID_QUERY', 'from must be before to');
  if ((end - start) / step > MAX_WINDOWS) {
    throw new TelemetryError(
      'TELEMETRY_RANGE_TOO_LARGE',
      `more than ${MAX_WINDOWS} windows: choose a wider window`,
    );
  }
  return { start, end, step };
}

/** Refuses pseudonyms and metric names outside their allowlists, the guard against injection. */
export function assertAllowlisted(keys: {
  tenantKey: string;
  deviceKey?: string;
  metric?: string;
}) {
  if (
    !pseudonymPattern.test(keys.tenantKey) ||
    (keys.deviceKey !== undefined && !pseudonymPattern.test(keys.deviceKey))
  ) {
    throw new TelemetryError('TELEMETRY_INVALID_QUERY', 'pseudonym is not allowlisted');
  }
  if (keys.metric !== undefined && !metricPattern.test(keys.metric)) {
    throw new TelemetryError('TELEMETRY_INVALID_QUERY', 'metric is not allowlisted');
  }
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' ? value : null;
}
