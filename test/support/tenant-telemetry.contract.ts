import { beforeAll, describe, expect, it } from 'vitest';
import { newPseudonym } from '../../common/ids.js';
import type { ReadingPoint } from '../../ingest/reading-point.js';
import type { PresencePoint } from '../../influx/line-protocol.js';
import type { ExportedReading } from '../../influx/readings.export.js';
import { TelemetryError } from '../../influx/telemetry.errors.js';
import type { Telemetry, TenantTelemetry } from '../../influx/tenant-telemetry.js';
import { MINUTE_MS, HOUR_MS, DAY_MS } from '../../common/time.js';

export interface TelemetryStore {
  telemetry: Telemetry;
  /** Stores points the way the broker does; they must be readable once it resolves. */
  write(readings: readonly ReadingPoint[], presence: readonly PresencePoint[]): Promise<void>;
}

/**
 * What every Telemetry must answer, run against InfluxDB (test/integration) and against the
 * in-memory fake (test/unit), so the fake cannot drift from the real thing. `store` is called
 * once its file's own setup has run.
 */
export function tenantTelemetryContract(name: string, store: () => TelemetryStore): void {
  describe(`${name}: the Telemetry contract`, () => {
    // Whole hours a few hours back: inside the raw retention, read from raw (ranges up to a
    // day), and outside the window the continuous queries still rewrite.
    const hour = Math.floor((Date.now() - 5 * HOUR_MS) / HOUR_MS) * HOUR_MS;
    const at = (minutes: number) => hour + minutes * MINUTE_MS;
    const tenantKey = newPseudonym();
    const [deviceA, deviceB, silent] = [newPseudonym(), newPseudonym(), newPseudonym()];
    const reading = (deviceKey: string, metric: string, value: number | boolean, minute: number) =>
      ({ tenantKey, deviceKey, metric, value, time: at(minute) }) satisfies ReadingPoint;
    const readings = [
      reading(deviceA, 'temperature', 20, 0),
      reading(deviceA, 'door_open', false, 5),
      reading(deviceA, 'temperature', 22.5, 10),
      reading(deviceB, 'temperature', 10, 15),
      reading(deviceA, 'humidity', 40, 30),
      reading(deviceA, 'door_open', true, 65),
      reading(deviceA, 'temperature', 25, 70),
    ];
    // Another tenant's readings, on the same device pseudonym: never part of an answer.
    const stranger = newPseudonym();
    const foreign = [
      { ...reading(deviceA, 'temperature', 99, 20), tenantKey: stranger },
      { ...reading(deviceA, 'pressure', 1013, 40), tenantKey: stranger },
    ];
    const presence: PresencePoint[] = [
      { tenantKey, deviceKey: deviceA, connected: true, time: at(0) },
      { tenantKey, deviceKey: deviceA, connected: false, time: at(80) },
      { tenantKey: stranger, deviceKey: deviceB, connected: true, time: at(90) },
    ];
    let tenant: TenantTelemetry;

    beforeAll(async () => {
      const target = store();
      // Minute 10's reading first arrives with another value; the later write replaces it.
      await target.write([{ ...readings[2]!, value: -1 }, ...foreign], []);
      await target.write(readings, presence);
      tenant = target.telemetry.forTenant(tenantKey);
    });

    const exported = (points: ReadingPoint[]): ExportedReading[] =>
      points.map(({ time, deviceKey, metric, value }) => ({ time, deviceKey, metric, value }));
    const rows = (points: ReadingPoint[]) =>
      points.map(({ time, metric, value }) => ({ time, metric, value }));
    const newestFirst = (points: ReadingPoint[]) => [...points].sort((a, b) => b.time - a.time);
    const ofA = readings.filter((r) => r.deviceKey === deviceA);

    it('lists a device’s raw readings newest first, in [from, to), by metric, up to a limit', async () => {
      const wide = { deviceKey: deviceA, from: new Date(at(0)), to: new Date(at(120)) };
      expect(await tenant.readings.list({ ...wide, limit: 100 })).toEqual(rows(newestFirst(ofA)));
      expect(await tenant.readings.list({ ...wide, limit: 2 })).toEqual(
        rows(newestFirst(ofA).slice(0, 2)),
      );
      expect(await tenant.readings.list({ ...wide, metric: 'temperature', limit: 100 })).toEqual(
        rows(newestFirst(ofA.filter((r) => r.metric === 'temperature'))),
      );
      const narrow = { deviceKey: deviceA, from: new Date(at(10)), to: new Date(at(70)) };
      expect(await tenant.readings.list({ ...narrow, limit: 100 })).toEqual(
        rows(newestFirst(ofA.filter((r) => r.time >= at(10) && r.time < at(70)))),
      );
      expect(await tenant.readings.list({ ...wide, deviceKey: silent, limit: 100 })).toEqual([]);
    });

    it('knows when a device’s newest reading was taken, and null for one without readings', async () => {
      expect(await tenant.readings.lastReadingTime(deviceA)).toBe(at(70));
      expect(await tenant.readings.lastReadingTime(silent)).toBeNull();
    });

    it('aggregates numbers per whole window, oldest first, empty windows included', async () => {
      const answer = await tenant.readings.aggregateMany({
        deviceKeys: [deviceA, deviceB, silent],
        metric: 'temperature',
        // Not on window bounds: the answer covers every window the range overlaps, whole.
        from: new Date(at(10)),
        to: new Date(at(61)),
        window: '1h',
      });
      const empty = { min: null, max: null, mean: null, count: 0 };
      expect(Object.fromEntries(answer)).toEqual({
        [deviceA]: [
          { time: at(0), min: 20, max: 22.5, mean: 21.25, count: 2 },
          { time: at(60), min: 25, max: 25, mean: 25, count: 1 },
        ],
        [deviceB]: [
          { time: at(0), min: 10, max: 10, mean: 10, count: 1 },
          { time: at(60), ...empty },
        ],
        [silent]: [
          { time: at(0), ...empty },
          { time: at(60), ...empty },
        ],
      });
    });

    it('leaves booleans out of aggregates', async () => {
      const answer = await tenant.readings.aggregateMany({
        deviceKeys: [deviceA],
        metric: 'door_open',
        from: new Date(at(0)),
        to: new Date(at(30)),
        window: '1m',
      });
      expect(answer.get(deviceA)).toHaveLength(30);
      expect(answer.get(deviceA)!.every((row) => row.count === 0 && row.mean === null)).toBe(true);
    });

    it('refuses an aggregate of more windows than it answers with TELEMETRY_RANGE_TOO_LARGE', async () => {
      const refusal = await tenant.readings
        .aggregateMany({
          deviceKeys: [deviceA],
          metric: 'temperature',
          from: new Date(at(0) - 8 * DAY_MS),
          to: new Date(at(0)),
          window: '1m',
        })
        .catch((err: unknown) => err);
      expect(refusal).toBeInstanceOf(TelemetryError);
      expect(refusal).toMatchObject({
        code: 'TELEMETRY_RANGE_TOO_LARGE',
        message: 'more than 10000 windows: choose a wider window',
      });
    });

    it('gives the newest value of every metric of every device, numbers and booleans', async () => {
      const latest = await tenant.readings.latest();
      const byKey = (a: { deviceKey: string; metric: string }) => `${a.deviceKey}/${a.metric}`;
      expect(latest.sort((a, b) => byKey(a).localeCompare(byKey(b)))).toEqual(
        [
          { deviceKey: deviceA, metric: 'temperature', time: at(70), value: 25 },
          { deviceKey: deviceA, metric: 'door_open', time: at(65), value: true },
          { deviceKey: deviceA, metric: 'humidity', time: at(30), value: 40 },
          { deviceKey: deviceB, metric: 'temperature', time: at(15), value: 10 },
        ].sort((a, b) => byKey(a).localeCompare(byKey(b))),
      );
    });

    it('leaves out of the newest values those taken before `since`, so the scan stops there', async () => {
      const latest = await tenant.readings.latest(new Date(at(30)));
      const byKey = (a: { deviceKey: string; metric: string }) => `${a.deviceKey}/${a.metric}`;
      expect(latest.sort((a, b) => byKey(a).localeCompare(byKey(b)))).toEqual(
        [
          { deviceKey: deviceA, metric: 'temperature', time: at(70), value: 25 },
          { deviceKey: deviceA, metric: 'door_open', time: at(65), value: true },
          { deviceKey: deviceA, metric: 'humidity', time: at(30), value: 40 },
        ].sort((a, b) => byKey(a).localeCompare(byKey(b))),
      );
      expect(await tenant.readings.latest(new Date(at(71)))).toEqual([]);
    });

    it('lists the metrics the tenant’s devices report, sorted', async () => {
      expect(await tenant.readings.metrics()).toEqual(['door_open', 'humidity', 'temperature']);
    });

    it('tells whether a device was last seen connecting, and null for one never seen', async () => {
      expect(await tenant.presence.latest(deviceA)).toEqual({ connected: false, since: at(80) });
      expect(await tenant.presence.latest(deviceB)).toBeNull();
    });

    it('exports raw readings oldest first, in [from, to), of all devices or the ones named', async () => {
      const all = async (range: Parameters<TenantTelemetry['export']['stream']>[0]) => {
        const got: ExportedReading[] = [];
        for await (const chunk of tenant.export.stream(range)) got.push(...chunk);
        return got;
      };
      const range = { from: new Date(at(0)), to: new Date(at(70)) };
      const before70 = readings.filter((r) => r.time < at(70));
      expect(await all(range)).toEqual(exported(before70));
      expect(await all({ ...range, deviceKeys: [deviceB] })).toEqual(
        exported(before70.filter((r) => r.deviceKey === deviceB)),
      );
      expect(await all({ from: new Date(at(200)), to: new Date(at(300)) })).toEqual([]);
    });

    it('gives the live stream the readings stamped after a time, oldest first, up to a limit', async () => {
      const after10 = readings.filter((r) => r.time > at(10));
      expect(await tenant.live.since(new Date(at(10)), 100)).toEqual(exported(after10));
      expect(await tenant.live.since(new Date(at(10)), 2)).toEqual(exported(after10.slice(0, 2)));
    });

    it('refuses a tenant key that is not a pseudonym', async () => {
      const { telemetry } = store();
      await expect(telemetry.forTenant('acme').readings.latest()).rejects.toThrow(
        /not allowlisted/,
      );
    });
  });
}
