import { afterEach, describe, expect, it } from 'vitest';
import { READING_FUTURE_SLACK_MS } from '../../common/limits.js';
import { DEFAULT_NOW, useApiApp } from '../support/api-app.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

interface DeviceReadings {
  device: { id: string; name: string };
  readings: { time: string; metric: string; value: number | boolean }[];
}

interface ManyReadings {
  window: string;
  from: string;
  to: string;
  devices: { id: string; name: string; metric: string; points: Record<string, unknown>[] }[];
}

describe('readings routes', () => {
  const app = useApiApp();
  afterEach(() => app.clock.set(DEFAULT_NOW));

  async function orgWithOwner() {
    const org = await app.org();
    return { org, owner: await app.member(org.id, 'viewer') };
  }

  describe('one device', () => {
    it('P2: answers its readings newest first, joined with its id and name and never its pseudonyms', async () => {
      const { org, owner } = await orgWithOwner();
      const device = await app.device(org, 'Greenhouse north');
      const now = app.clock.now();
      app.readings(device, [
        { metric: 'temperature', value: 21.5, time: now - 3 * MINUTE },
        { metric: 'humidity', value: 60, time: now - 2 * MINUTE },
        { metric: 'door_open', value: true, time: now - MINUTE },
      ]);
      const answer = await app.request('GET', `/orgs/${org.id}/devices/${device.id}/readings`, {
        token: owner.token,
      });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        device: { id: device.id, name: 'Greenhouse north' },
        readings: [
          { time: iso(now - MINUTE), metric: 'door_open', value: true },
          { time: iso(now - 2 * MINUTE), metric: 'humidity', value: 60 },
          { time: iso(now - 3 * MINUTE), metric: 'temperature', value: 21.5 },
        ],
      });
      expect(answer.text).not.toContain(device.pseudonym);
      expect(answer.text).not.toContain(org.tenantKey);
    });

    it('filters by metric and keeps the newest `limit`', async () => {
      const { org, owner } = await orgWithOwner();
      const device = await app.device(org);
      const now = app.clock.now();
      app.readings(
        device,
        [1, 2, 3, 4].flatMap((i) => [
          { metric: 'temperature', value: i, time: now - i * MINUTE },
          { metric: 'humidity', value: 50 + i, time: now - i * MINUTE },
        ]),
      );
      const answer = await app.request('GET', `/orgs/${org.id}/devices/${device.id}/readings`, {
        token: owner.token,
        query: { metric: 'temperature', limit: '2' },
      });
      expect((answer.body as DeviceReadings).readings).toEqual([
        { time: iso(now - MINUTE), metric: 'temperature', value: 1 },
        { time: iso(now - 2 * MINUTE), metric: 'temperature', value: 2 },
      ]);
    });

    it('by default covers the day that ends 5 minutes from now: readings stamped a little ahead count', async () => {
      const { org, owner } = await orgWithOwner();
      const device = await app.device(org);
      const now = app.clock.now();
      const to = now + READING_FUTURE_SLACK_MS;
      const from = to - DAY;
      expect(READING_FUTURE_SLACK_MS).toBe(5 * MINUTE);
      app.readings(
        device,
        [from - 1, from, now, to - 1, to, now + 6 * MINUTE].map((time, value) => ({
          metric: 'temperature',
          value,
          time,
        })),
      );
      const path = `/orgs/${org.id}/devices/${device.id}/readings`;
      const times = async () =>
        (
          (await app.request('GET', path, { token: owner.token })).body as DeviceReadings
        ).readings.map((r) => r.time);
      // `from` is inclusive, `to` exclusive.
      expect(await times()).toEqual([iso(to - 1), iso(now), iso(from)]);

      // The range follows the clock: two minutes later the reading 6 minutes ahead is inside.
      app.clock.advance(2 * MINUTE);
      expect(await times()).toEqual([iso(now + 6 * MINUTE), iso(to), iso(to - 1), iso(now)]);
    });

    it('takes an explicit range with offsets; `from` must come before `to`', async () => {
      const { org, owner } = await orgWithOwner();
      const device = await app.device(org);
      const t = Date.parse('2026-05-01T10:00:00Z');
      app.readings(device, [
        { metric: 'temperature', value: 1, time: t - 1 },
        { metric: 'temperature', value: 2, time: t },
        { metric: 'temperature', value: 3, time: t + HOUR },
      ]);
      const path = `/orgs/${org.id}/devices/${device.id}/readings`;
      const answer = await app.request('GET', path, {
        token: owner.token,
        // 12:00+02:00 is 10:00Z; 13:00+02:00 is 11:00Z (exclusive).
        query: { from: '2026-05-01T12:00:00+02:00', to: '2026-05-01T13:00:00+02:00' },
      });
      expect((answer.body as DeviceReadings).readings.map((r) => r.value)).toEqual([2]);

      for (const query of [
        { from: '2026-05-01T11:00:00Z', to: '2026-05-01T10:00:00Z' },
        { from: '2026-05-01T10:00:00Z', to: '2026-05-01T10:00:00Z' },
      ]) {
        const refused = await app.request('GET', path, { token: owner.token, query });
        expect(refused.status).toBe(400);
        expect(refused.body).toEqual({
          code: 'VALIDATION_FAILED',
          message: 'The request is not valid.',
          details: [{ path: 'from', message: 'must be before to' }],
        });
      }
    });
  });

  describe('many devices', () => {
    it('P2: answers min/max/mean/count per window for each device, in the order asked, with names', async () => {
      const { org, owner } = await orgWithOwner();
      const north = await app.device(org, 'North');
      const south = await app.device(org, 'South');
      const t0 = Date.parse('2026-05-01T00:00:00Z');
      app.readings(north, [
        { metric: 'temperature', value: 10, time: t0 + 5 * MINUTE },
        { metric: 'temperature', value: 20, time: t0 + 50 * MINUTE },
        { metric: 'temperature', value: 30, time: t0 + 2 * HOUR + MINUTE },
        { metric: 'humidity', value: 99, time: t0 + 10 * MINUTE },
      ]);
      app.readings(south, [{ metric: 'temperature', value: 5, time: t0 + HOUR + MINUTE }]);

      const answer = await app.request('GET', `/orgs/${org.id}/readings`, {
        token: owner.token,
        query: {
          devices: `${south.id},${north.id},${south.id}`,
          metric: 'temperature',
          from: iso(t0),
          to: iso(t0 + 3 * HOUR),
        },
      });
      expect(answer.status).toBe(200);
      const empty = { min: null, max: null, mean: null, count: 0 };
      expect(answer.body).toEqual({
        window: '1h',
        from: iso(t0),
        to: iso(t0 + 3 * HOUR),
        devices: [
          {
            id: south.id,
            name: 'South',
            metric: 'temperature',
            points: [
              { time: iso(t0), ...empty },
              { time: iso(t0 + HOUR), min: 5, max: 5, mean: 5, count: 1 },
              { time: iso(t0 + 2 * HOUR), ...empty },
            ],
          },
          {
            id: north.id,
            name: 'North',
            metric: 'temperature',
            points: [
              { time: iso(t0), min: 10, max: 20, mean: 15, count: 2 },
              { time: iso(t0 + HOUR), ...empty },
              { time: iso(t0 + 2 * HOUR), min: 30, max: 30, mean: 30, count: 1 },
            ],
          },
        ],
      });
      expect(answer.text).not.toContain(north.pseudonym);
    });

    it('answers raw readings per device, newest first, `limit` each', async () => {
      const { org, owner } = await orgWithOwner();
      const a = await app.device(org, 'A');
      const b = await app.device(org, 'B');
      const now = app.clock.now();
      app.readings(
        a,
        [1, 2, 3].map((i) => ({ metric: 'co2', value: i, time: now - i * MINUTE })),
      );
      app.readings(b, [{ metric: 'co2', value: 9, time: now - MINUTE }]);
      const answer = await app.request('GET', `/orgs/${org.id}/readings`, {
        token: owner.token,
        query: { devices: `${a.id},${b.id}`, metric: 'co2', window: 'raw', limit: '2' },
      });
      const body = answer.body as ManyReadings;
      expect(body.window).toBe('raw');
      expect(body.devices.map((d) => [d.name, d.points])).toEqual([
        [
          'A',
          [
            { time: iso(now - MINUTE), value: 1 },
            { time: iso(now - 2 * MINUTE), value: 2 },
          ],
        ],
        ['B', [{ time: iso(now - MINUTE), value: 9 }]],
      ]);
    });

    it('by default asks for hourly windows over the day ending 5 minutes from now', async () => {
      const { org, owner } = await orgWithOwner();
      const device = await app.device(org);
      const answer = await app.request('GET', `/orgs/${org.id}/readings`, {
        token: owner.token,
        query: { devices: device.id, metric: 'temperature' },
      });
      const to = app.clock.now() + READING_FUTURE_SLACK_MS;
      const body = answer.body as ManyReadings;
      expect({ window: body.window, from: body.from, to: body.to }).toEqual({
        window: '1h',
        from: iso(to - DAY),
        to: iso(to),
      });
      // Whole windows that overlap the range: 25 hours when it does not start on the hour.
      expect(body.devices[0]!.points).toHaveLength(25);
    });

    it("P2: refuses the whole request when one device is another organisation's", async () => {
      const { org, owner } = await orgWithOwner();
      const mine = await app.device(org);
      const theirs = await app.device(await app.org('Other'));
      app.readings(theirs, [{ metric: 'temperature', value: 1, time: app.clock.now() - 1 }]);
      const answer = await app.request('GET', `/orgs/${org.id}/readings`, {
        token: owner.token,
        query: { devices: `${mine.id},${theirs.id}`, metric: 'temperature', window: 'raw' },
      });
      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({ code: 'NOT_FOUND' });
    });
  });

  describe('latest', () => {
    it('P2: the newest value of each metric of each device, devices and metrics by name', async () => {
      const { org, owner } = await orgWithOwner();
      const pump = await app.device(org, 'Pump');
      const boiler = await app.device(org, 'Boiler');
      const idle = await app.device(org, 'Idle');
      const elsewhere = await app.device(await app.org('Elsewhere'), 'Elsewhere');
      const now = app.clock.now();
      app.readings(pump, [
        { metric: 'temperature', value: 1, time: now - 2 * MINUTE },
        { metric: 'temperature', value: 2, time: now - MINUTE },
        { metric: 'running', value: true, time: now - 3 * MINUTE },
      ]);
      app.readings(boiler, [{ metric: 'pressure', value: 1.2, time: now - MINUTE }]);
      app.readings(elsewhere, [{ metric: 'temperature', value: 99, time: now }]);

      const answer = await app.request('GET', `/orgs/${org.id}/latest`, { token: owner.token });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        devices: [
          {
            id: boiler.id,
            name: 'Boiler',
            status: 'active',
            readings: [{ time: iso(now - MINUTE), metric: 'pressure', value: 1.2 }],
          },
          { id: idle.id, name: 'Idle', status: 'active', readings: [] },
          {
            id: pump.id,
            name: 'Pump',
            status: 'active',
            readings: [
              { time: iso(now - 3 * MINUTE), metric: 'running', value: true },
              { time: iso(now - MINUTE), metric: 'temperature', value: 2 },
            ],
          },
        ],
      });
      expect(answer.text).not.toContain(elsewhere.id);
    });
  });
});
