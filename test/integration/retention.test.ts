import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { newPseudonym } from '../../common/ids.js';
import { rowsOf, type InfluxSeries } from '../../influx/influx.client.js';
import { identifier } from '../../influx/influx.setup.js';
import { toLine } from '../../influx/line-protocol.js';
import type { ReadingPoint } from '../../ingest/reading-point.js';
import {
  chooseSource,
  ReadingsReader,
  type AggregateQuery,
  type AggregateRow,
  type AggregateSource,
  type AggregateWindow,
} from '../../influx/readings.reader.js';
import {
  backfillRollup,
  setupRetention,
  type RetentionLayout,
  type RollupPolicy,
} from '../../influx/retention.js';
import { influxAdmin, uniqueDatabase } from '../support/influx-database.js';
import { MINUTE_MS, HOUR_MS, DAY_MS } from '../../common/time.js';

const LAYOUT: RetentionLayout = { rawDays: 30, rollupDays: 730 };

const admin = influxAdmin();
const database = uniqueDatabase('retention');

async function policies(): Promise<Record<string, { duration: unknown; default: unknown }>> {
  const series = await admin.query(`SHOW RETENTION POLICIES ON ${identifier(database)}`);
  return Object.fromEntries(
    series
      .flatMap(rowsOf)
      .map((row) => [String(row.name), { duration: row.duration, default: row.default }]),
  );
}

async function continuousQueries(): Promise<Record<string, string>> {
  const series = await admin.query('SHOW CONTINUOUS QUERIES');
  const ours = series.filter((s) => s.name === database).flatMap(rowsOf);
  return Object.fromEntries(ours.map((row) => [String(row.name), String(row.query)]));
}

beforeAll(async () => {
  await admin.query(`CREATE DATABASE ${identifier(database)}`);
  await setupRetention(admin, database, LAYOUT);
});

afterAll(async () => {
  await admin.query(`DROP DATABASE ${identifier(database)}`);
});

describe('retention policies and continuous queries', () => {
  it('keeps raw for rawDays as the DEFAULT policy, and both rollups for rollupDays', async () => {
    expect(await policies()).toMatchObject({
      raw: { duration: '720h0m0s', default: true },
      rollup_1m: { duration: '17520h0m0s', default: false },
      rollup_1h: { duration: '17520h0m0s', default: false },
    });
  });

  it('rolls raw readings up every minute and every hour, re-running recent buckets', async () => {
    const queries = await continuousQueries();
    expect(Object.keys(queries).sort()).toEqual(['readings_1h', 'readings_1m']);
    expect(queries.readings_1m).toContain('RESAMPLE EVERY 1m FOR 5m');
    expect(queries.readings_1m).toContain(
      `INTO ${database}.rollup_1m.readings_1m FROM ${database}.raw.readings GROUP BY time(1m), *`,
    );
    expect(queries.readings_1h).toContain('RESAMPLE EVERY 1h FOR 2h');
    expect(queries.readings_1h).toContain(
      `INTO ${database}.rollup_1h.readings_1h FROM ${database}.raw.readings GROUP BY time(1h), *`,
    );
  });

  it('changes nothing when run again with the same layout', async () => {
    const before = { policies: await policies(), queries: await continuousQueries() };
    const query = vi.spyOn(admin, 'query');
    try {
      await setupRetention(admin, database, LAYOUT);
      const statements = query.mock.calls.map(([statement]) => statement);
      expect(statements.filter((statement) => !statement.startsWith('SHOW '))).toEqual([]);
    } finally {
      query.mockRestore();
    }
    expect({ policies: await policies(), queries: await continuousQueries() }).toEqual(before);
  });

  it('applies changed durations, restores the DEFAULT and replaces a changed query', async () => {
    const original = await continuousQueries();
    await admin.query(`ALTER RETENTION POLICY "autogen" ON ${identifier(database)} DEFAULT`);
    await admin.query(`DROP CONTINUOUS QUERY "readings_1h" ON ${identifier(database)}`);
    await admin.query(
      `CREATE CONTINUOUS QUERY "readings_1h" ON ${identifier(database)} BEGIN ` +
        `SELECT max("value") AS "max" INTO "rollup_1h"."readings_1h" FROM "raw"."readings" ` +
        'GROUP BY time(1h), * END',
    );
    expect(await continuousQueries()).not.toEqual(original);

    await setupRetention(admin, database, { rawDays: 7, rollupDays: 365 });
    expect(await policies()).toMatchObject({
      autogen: { default: false },
      raw: { duration: '168h0m0s', default: true },
      rollup_1m: { duration: '8760h0m0s', default: false },
      rollup_1h: { duration: '8760h0m0s', default: false },
    });
    expect(await continuousQueries()).toEqual(original);

    await setupRetention(admin, database, LAYOUT);
    expect(await policies()).toMatchObject({
      raw: { duration: '720h0m0s', default: true },
      rollup_1m: { duration: '17520h0m0s' },
      rollup_1h: { duration: '17520h0m0s' },
    });
  });
});

describe('rollups and aggregate reads', () => {
  const tenantKey = newPseudonym();
  const deviceKey = newPseudonym();
  // Whole hours well before the continuous queries' 2-hour resample window, so they never
  // write into these buckets while the test compares them.
  const hour = Math.floor((Date.now() - 5 * HOUR_MS) / HOUR_MS) * HOUR_MS;
  const range = { from: new Date(hour), to: new Date(hour + 2 * HOUR_MS) };

  /** Values per minute after `hour`, with different counts; multiples of 0.25 sum exactly. */
  const temperatures: Record<number, number[]> = {
    0: [1],
    1: [2, 4, 6.5],
    3: [0.25, 0.5, 0.75, 1, 1.25, 10],
    59: [-3.5, 8],
    62: [20, 21],
    90: [22.5],
  };
  const points: ReadingPoint[] = Object.entries(temperatures).flatMap(([minute, values]) =>
    values.map((value, i) => ({
      tenantKey,
      deviceKey,
      metric: 'temperature',
      value,
      time: hour + Number(minute) * MINUTE_MS + i * 5_000,
    })),
  );
  // Readings the aggregate must leave out: another device, another metric, a boolean.
  const otherDevice = newPseudonym();
  const noise: ReadingPoint[] = points.flatMap((point) => [
    { ...point, deviceKey: otherDevice, value: 1000 },
    { ...point, metric: 'humidity', value: -1000 },
    { ...point, metric: 'door_open', value: true },
  ]);

  const reader = new ReadingsReader(admin, database);
  const query = (window: AggregateWindow, from = range.from, to = range.to): AggregateQuery => ({
    tenantKey,
    deviceKey,
    metric: 'temperature',
    from,
    to,
    window,
  });
  const windowsWithData = (rows: AggregateRow[]) => rows.filter((row) => row.count > 0);

  /** The figures computed here from the points themselves, for windows that hold any. */
  function expected(windowMs: number): AggregateRow[] {
    const byWindow = new Map<number, number[]>();
    for (const point of points) {
      const start = Math.floor(point.time / windowMs) * windowMs;
      byWindow.set(start, [...(byWindow.get(start) ?? []), point.value as number]);
    }
    return [...byWindow].map(([time, values]) => ({
      time,
      min: Math.min(...values),
      max: Math.max(...values),
      mean: values.reduce((sum, value) => sum + value, 0) / values.length,
      count: values.length,
    }));
  }

  beforeAll(async () => {
    await admin.write(database, [...points, ...noise].map(toLine).join('\n'));
    for (const policy of ['rollup_1m', 'rollup_1h'] as const) {
      await backfillRollup(admin, database, policy, range);
    }
  });

  /** Series as comparable values: tags plus rows keyed by column, in a stable order. */
  const comparable = (series: InfluxSeries[]) =>
    series
      .map((s) => ({ tags: s.tags, rows: rowsOf(s) }))
      .sort((a, b) => JSON.stringify(a.tags).localeCompare(JSON.stringify(b.tags)));

  it.each<[RollupPolicy, string, string]>([
    ['rollup_1m', 'readings_1m', '1m'],
    ['rollup_1h', 'readings_1h', '1h'],
  ])(
    '%s holds what InfluxQL computes on raw for the same windows',
    async (policy, name, interval) => {
      const direct = await admin.query(
        'SELECT min("value") AS "min", max("value") AS "max", mean("value") AS "mean", ' +
          'count("value") AS "count", sum("value") AS "sum" FROM "raw"."readings" ' +
          `WHERE time >= $from AND time < $to GROUP BY time(${interval}), * fill(none)`,
        {
          database,
          params: { from: range.from.toISOString(), to: range.to.toISOString() },
        },
      );
      const rolledUp = await admin.query(
        `SELECT "min", "max", "mean", "count", "sum" FROM "${policy}"."${name}" GROUP BY *`,
        { database },
      );
      // Three numeric series (two devices, two metrics); the boolean one has no `value` to roll up.
      expect(direct).toHaveLength(3);
      expect(comparable(rolledUp)).toEqual(comparable(direct));
    },
  );

  it.each<[AggregateWindow, number, AggregateSource[]]>([
    ['1m', MINUTE_MS, ['raw', 'rollup_1m']],
    ['1h', HOUR_MS, ['raw', 'rollup_1m', 'rollup_1h']],
    ['1d', DAY_MS, ['raw', 'rollup_1m', 'rollup_1h']],
  ])('%s windows give the same figures from every source', async (window, ms, sources) => {
    const [first, ...rest] = await Promise.all(
      sources.map((source) => reader.aggregateFrom(source, query(window))),
    );
    expect(windowsWithData(first ?? [])).toEqual(expected(ms));
    for (const answer of rest) expect(answer).toEqual(first);
  });

  it('weights the mean of rolled-up minutes by how many readings each holds', async () => {
    const [minutes, hours] = await Promise.all([
      reader.aggregateFrom('rollup_1m', query('1m')),
      reader.aggregateFrom('rollup_1m', query('1h')),
    ]);
    const firstHour = windowsWithData(minutes).filter((row) => row.time < hour + HOUR_MS);
    expect(firstHour.map((row) => row.count)).toEqual([1, 3, 6, 2]);
    const unweighted = firstHour.reduce((sum, row) => sum + (row.mean ?? 0), 0) / firstHour.length;
    const all = temperatures[0]!.concat(temperatures[1]!, temperatures[3]!, temperatures[59]!);
    const weighted = all.reduce((sum, value) => sum + value, 0) / all.length;
    expect(weighted).not.toBeCloseTo(unweighted);
    expect(hours[0]).toEqual({ time: hour, min: -3.5, max: 10, mean: weighted, count: 12 });
  });

  it('answers whole windows, empty ones included, for a range that does not start on one', async () => {
    const from = new Date(hour + 30_000);
    const to = new Date(hour + 4 * MINUTE_MS + 10_000);
    const [raw, rollup] = await Promise.all([
      reader.aggregateFrom('raw', query('1m', from, to)),
      reader.aggregateFrom('rollup_1m', query('1m', from, to)),
    ]);
    expect(raw.map((row) => [row.time - hour, row.count])).toEqual([
      [0, 1],
      [MINUTE_MS, 3],
      [2 * MINUTE_MS, 0],
      [3 * MINUTE_MS, 6],
      [4 * MINUTE_MS, 0],
    ]);
    expect(raw[2]).toMatchObject({ min: null, max: null, mean: null });
    expect(rollup).toEqual(raw);
  });

  it('reads a long range from rollup_1h with the figures raw gives for a short one', async () => {
    const to = new Date(Math.ceil(Date.now() / HOUR_MS) * HOUR_MS);
    const from = new Date(to.getTime() - 40 * DAY_MS);
    expect([chooseSource(from, to, '1h'), chooseSource(range.from, range.to, '1h')]).toEqual([
      'rollup_1h',
      'raw',
    ]);
    const long = await reader.aggregate(query('1h', from, to));
    const short = await reader.aggregate(query('1h'));
    expect(long).toHaveLength(40 * 24);
    expect(windowsWithData(long)).toEqual(windowsWithData(short));
    expect(windowsWithData(short)).toEqual(expected(HOUR_MS));
  });

  it('answers windows with count 0 when the range holds no reading at all', async () => {
    const empty = await reader.aggregate(query('1h', new Date(hour - DAY_MS), new Date(hour)));
    expect(empty).toHaveLength(24);
    expect(windowsWithData(empty)).toEqual([]);
  });
});
