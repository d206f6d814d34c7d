import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../influx/influx.client.js';
import { backfillRollup } from '../../influx/retention.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

interface Point {
  time: string;
  min: number | null;
  max: number | null;
  mean: number | null;
  count: number;
}
interface SeriesAnswer {
  window: string;
  devices: { id: string; name: string; metric: string; points: Point[] }[];
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('aggregated readings through the API equal InfluxQL over the raw readings', () => {
  let platform: TestPlatform;
  let org: { id: string; tenantKey: string };
  let token: string;
  let a: { id: string; pseudonym: string };
  let b: { id: string; pseudonym: string };
  /** The newest whole hour with readings ends here; readings span the 40 hours before. */
  let end: number;

  beforeAll(async () => {
    platform = await startTestPlatform({ RATE_LIMIT_PER_IP_PER_MINUTE: '100000' });
    org = await platform.createOrg('Aggregat AB');
    const viewer = await platform.createMember(org.id, 'viewer');
    token = await platform.login(viewer.email, viewer.password);
    a = await platform.provisionDevice(org.id, 'Sensor A');
    b = await platform.provisionDevice(org.id, 'Sensor B');
    end = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
    const lines: string[] = [];
    // A reading every 7 minutes (never aligned with the windows), 40 hours, two devices.
    for (let t = end - 40 * HOUR + 3 * MINUTE, i = 0; t < end; t += 7 * MINUTE, i += 1) {
      for (const [device, scale] of [
        [a, 1.5],
        [b, -0.25],
      ] as const) {
        const value = ((i * 13) % 17) * scale - 3;
        lines.push(
          `readings,device=${device.pseudonym},metric=temperature,tenant=${org.tenantKey} value=${value} ${t}`,
        );
      }
    }
    await platform.influxAdmin.write(platform.influxDatabase, lines.join('\n'));
    const range = { from: new Date(end - 41 * HOUR), to: new Date(end) };
    await backfillRollup(platform.influxAdmin, platform.influxDatabase, 'rollup_1m', range);
    await backfillRollup(platform.influxAdmin, platform.influxDatabase, 'rollup_1h', range);
  });

  afterAll(async () => {
    await platform?.close();
  });

  const readings = async (query: Record<string, string>) => {
    const answer = await platform.get(
      `/api/v1/orgs/${org.id}/readings?${new URLSearchParams(query).toString()}`,
      token,
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body as SeriesAnswer;
  };

  /** The same figures straight from the raw readings with the admin user. */
  async function direct(pseudonym: string, window: string, from: number, to: number) {
    const series = await platform.influxAdmin.query(
      'SELECT min("value") AS "min", max("value") AS "max", mean("value") AS "mean", ' +
        'count("value") AS "count" FROM "raw"."readings" WHERE "tenant" = $tenant AND ' +
        '"device" = $device AND "metric" = \'temperature\' AND time >= $from AND time < $to ' +
        `GROUP BY time(${window}) fill(none)`,
      {
        database: platform.influxDatabase,
        params: {
          tenant: org.tenantKey,
          device: pseudonym,
          from: new Date(from).toISOString(),
          to: new Date(to).toISOString(),
        },
      },
    );
    return series.flatMap(rowsOf);
  }

  function expectSame(points: Point[], expected: Record<string, unknown>[]) {
    const byTime = new Map(expected.map((row) => [row.time as number, row]));
    expect(points.filter((p) => p.count > 0)).toHaveLength(expected.length);
    for (const point of points) {
      const row = byTime.get(Date.parse(point.time));
      if (!row) {
        expect(point).toMatchObject({ count: 0, min: null, max: null, mean: null });
        continue;
      }
      expect(point.count).toBe(row.count);
      expect(point.min).toBeCloseTo(row.min as number, 9);
      expect(point.max).toBeCloseTo(row.max as number, 9);
      expect(point.mean).toBeCloseTo(row.mean as number, 9);
    }
  }

  it.each([
    // raw: short ranges
    ['1m', 2 * HOUR],
    ['1h', 20 * HOUR],
    // rollup_1m: more than a day
    ['1m', 3 * DAY],
    ['1h', 39 * HOUR],
    // rollup_1h: more than 31 days
    ['1d', 40 * DAY],
    ['1h', 35 * DAY],
  ])('%s windows over %d ms, one device and two', async (window, span) => {
    const from = end - span;
    const answer = await readings({
      devices: `${a.id},${b.id}`,
      metric: 'temperature',
      window,
      from: new Date(from).toISOString(),
      to: new Date(end).toISOString(),
    });
    expect(answer.devices.map((d) => [d.id, d.name, d.metric])).toEqual([
      [a.id, 'Sensor A', 'temperature'],
      [b.id, 'Sensor B', 'temperature'],
    ]);
    const step = { '1m': MINUTE, '1h': HOUR, '1d': DAY }[window]!;
    // Whole windows: the answer covers every window the range overlaps.
    const start = Math.floor(from / step) * step;
    const stop = Math.ceil(end / step) * step;
    for (const [device, answered] of [
      [a, answer.devices[0]!],
      [b, answer.devices[1]!],
    ] as const) {
      expect(answered.points).toHaveLength((stop - start) / step);
      expectSame(answered.points, await direct(device.pseudonym, window, start, stop));
    }
    const one = await readings({
      devices: b.id,
      metric: 'temperature',
      window,
      from: new Date(from).toISOString(),
      to: new Date(end).toISOString(),
    });
    expect(one.devices).toEqual([answer.devices[1]]);
  });

  it('raw window: the readings themselves, newest first', async () => {
    const answer = await readings({
      devices: a.id,
      metric: 'temperature',
      window: 'raw',
      from: new Date(end - HOUR).toISOString(),
      to: new Date(end).toISOString(),
    });
    const points = answer.devices[0]!.points as unknown as { time: string; value: number }[];
    const expected = await platform.influxAdmin.query(
      'SELECT "value" FROM "readings" WHERE "device" = $device AND time >= $from AND time < $to ' +
        'ORDER BY time DESC',
      {
        database: platform.influxDatabase,
        params: {
          device: a.pseudonym,
          from: new Date(end - HOUR).toISOString(),
          to: new Date(end).toISOString(),
        },
      },
    );
    expect(points.map((p) => [Date.parse(p.time), p.value])).toEqual(
      expected.flatMap(rowsOf).map((r) => [r.time, r.value]),
    );
    expect(points.length).toBeGreaterThan(7);
  });

  it('a short range older than the raw retention is read from the rollups', async () => {
    // Raw readings this old have expired; only their rollups remain.
    const old = Math.floor((Date.now() - 40 * DAY) / HOUR) * HOUR;
    const tags = `device=${a.pseudonym},metric=humidity,tenant=${org.tenantKey}`;
    await platform.influxAdmin.write(
      platform.influxDatabase,
      [
        `readings_1m,${tags} min=40,max=44,mean=42,count=3i,sum=126 ${old + 5 * MINUTE}`,
        `readings_1m,${tags} min=50,max=50,mean=50,count=1i,sum=50 ${old + 6 * MINUTE}`,
      ].join('\n'),
      { retentionPolicy: 'rollup_1m' },
    );
    const answer = await readings({
      devices: a.id,
      metric: 'humidity',
      window: '1h',
      from: new Date(old).toISOString(),
      to: new Date(old + 2 * HOUR).toISOString(),
    });
    expect(answer.devices[0]!.points).toEqual([
      { time: new Date(old).toISOString(), min: 40, max: 50, mean: 44, count: 4 },
      { time: new Date(old + HOUR).toISOString(), min: null, max: null, mean: null, count: 0 },
    ]);
  });

  it('the latest value of each metric of each device', async () => {
    const answer = await platform.get(`/api/v1/orgs/${org.id}/latest`, token);
    expect(answer.status).toBe(200);
    const body = answer.body as {
      devices: { id: string; readings: { metric: string; time: string; value: number }[] }[];
    };
    const last = await platform.influxAdmin.query(
      'SELECT last("value") AS "value" FROM "readings" WHERE "device" = $device',
      { database: platform.influxDatabase, params: { device: a.pseudonym } },
    );
    const expected = last.flatMap(rowsOf)[0]!;
    const sensorA = body.devices.find((d) => d.id === a.id)!;
    expect(sensorA.readings).toEqual([
      {
        metric: 'temperature',
        time: new Date(expected.time as number).toISOString(),
        value: expected.value,
      },
    ]);
    expect(body.devices.map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
  });

  it('refuses more windows than the reader answers with 400', async () => {
    const answer = await platform.get(
      `/api/v1/orgs/${org.id}/readings?devices=${a.id}&metric=temperature&window=1m` +
        `&from=${new Date(end - 30 * DAY).toISOString()}&to=${new Date(end).toISOString()}`,
      token,
    );
    expect(answer).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
  });
});
