import { describe, expect, it } from 'vitest';
import { newPseudonym } from '../../common/ids.js';
import { InfluxClient } from '../../influx/influx.client.js';
import {
  chooseSource,
  ReadingsReader,
  type AggregateQuery,
  type AggregateWindow,
} from '../../influx/readings.reader.js';
import { rollupSelect, setupRetention } from '../../influx/retention.js';
import { HOUR_MS, DAY_MS } from '../../common/time.js';

const to = new Date('2025-06-01T12:00:00Z');
const rangeOf = (ms: number) => new Date(to.getTime() - ms);

/** Nothing listens here: every refusal below must happen before InfluxDB is asked. */
const unreachable = new InfluxClient({ url: 'http://127.0.0.1:9', username: 'u', password: 'p' });

describe('chooseSource', () => {
  it.each<[string, number, AggregateWindow, string]>([
    ['1 minute', 60_000, '1m', 'raw'],
    ['exactly 24 h', DAY_MS, '1d', 'raw'],
    ['exactly 24 h', DAY_MS, '1h', 'raw'],
    ['24 h + 1 ms', DAY_MS + 1, '1h', 'rollup_1m'],
    ['exactly 2 days', 2 * DAY_MS, '1m', 'raw'],
    ['2 days + 1 ms', 2 * DAY_MS + 1, '1m', 'rollup_1m'],
    ['2 days', 2 * DAY_MS, '1h', 'rollup_1m'],
    ['exactly 31 days', 31 * DAY_MS, '1h', 'rollup_1m'],
    ['exactly 31 days', 31 * DAY_MS, '1d', 'rollup_1m'],
    ['31 days + 1 ms', 31 * DAY_MS + 1, '1h', 'rollup_1h'],
    ['365 days', 365 * DAY_MS, '1d', 'rollup_1h'],
    // No source may be coarser than the window: 1-minute windows never come from rollup_1h.
    ['365 days', 365 * DAY_MS, '1m', 'rollup_1m'],
  ])('a range of %s in %s windows reads %s', (_label, ms, window, source) => {
    expect(chooseSource(rangeOf(ms), to, window)).toBe(source);
  });
});

describe('rollupSelect', () => {
  it('builds the 1-minute continuous query body from raw, keeping every tag', () => {
    expect(rollupSelect('telemoat', 'rollup_1m')).toEqual({
      statement:
        'SELECT min("value") AS "min", max("value") AS "max", mean("value") AS "mean", ' +
        'count("value") AS "count", sum("value") AS "sum" ' +
        'INTO "telemoat"."rollup_1m"."readings_1m" FROM "telemoat"."raw"."readings" ' +
        'GROUP BY time(1m), *',
    });
  });

  it('builds the 1-hour statement for a range with the bounds bound as parameters', () => {
    const range = { from: new Date('2025-06-01T00:00:00Z'), to: new Date('2025-06-02T00:00:00Z') };
    expect(rollupSelect('telemoat', 'rollup_1h', range)).toEqual({
      statement:
        'SELECT min("value") AS "min", max("value") AS "max", mean("value") AS "mean", ' +
        'count("value") AS "count", sum("value") AS "sum" ' +
        'INTO "telemoat"."rollup_1h"."readings_1h" FROM "telemoat"."raw"."readings" ' +
        'WHERE time >= $from AND time < $to GROUP BY time(1h), *',
      params: { from: '2025-06-01T00:00:00.000Z', to: '2025-06-02T00:00:00.000Z' },
    });
  });

  it('refuses a database name it would have to escape', () => {
    expect(() => rollupSelect('tele"moat', 'rollup_1m')).toThrow(/invalid InfluxDB identifier/);
  });
});

describe('setupRetention', () => {
  it.each([0, 1.5, Number.NaN])('refuses %s days before changing anything', async (days) => {
    await expect(
      setupRetention(unreachable, 'telemoat', { rawDays: 30, rollupDays: days }),
    ).rejects.toThrow(RangeError);
  });
});

describe('ReadingsReader.aggregateFrom refuses before querying', () => {
  const reader = new ReadingsReader(unreachable, 'telemoat');
  const query: AggregateQuery = {
    tenantKey: newPseudonym(),
    deviceKey: newPseudonym(),
    metric: 'temperature',
    from: rangeOf(HOUR_MS),
    to,
    window: '1m',
  };

  it('a window finer than the source', async () => {
    await expect(reader.aggregateFrom('rollup_1h', query)).rejects.toThrow(/cannot answer 1m/);
  });

  it('more than 10 000 windows, with a code the API can answer with', async () => {
    const long = { ...query, from: rangeOf(7 * DAY_MS) };
    const refusal = reader.aggregateFrom('raw', long);
    await expect(refusal).rejects.toThrow(/more than 10000 windows/);
    await expect(refusal).rejects.toMatchObject({ code: 'TELEMETRY_RANGE_TOO_LARGE' });
  });

  it('an empty or reversed range', async () => {
    await expect(reader.aggregateFrom('raw', { ...query, from: to })).rejects.toThrow(/before/);
  });

  it('values outside the allowlists', async () => {
    await expect(reader.aggregate({ ...query, deviceKey: 'x" OR 1=1' })).rejects.toThrow(
      /not allowlisted/,
    );
    await expect(reader.aggregate({ ...query, metric: 'Temp' })).rejects.toThrow(/not allowlisted/);
  });
});
