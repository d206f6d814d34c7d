import { afterEach, describe, expect, it } from 'vitest';
import { newPseudonym } from '../../common/ids.js';
import {
  LATEST_LOOKBACK_HOURS,
  RAW_WINDOW_MAX_HOURS,
  ReadingsService,
} from '../../api/readings/readings.service.js';
import { FakeDevices } from '../../directory/devices/devices.fake.js';
import { DEFAULT_ORGS_PER_USER } from '../../directory/organisations/organisations.service.js';
import { FakeTelemetry } from '../../influx/tenant-telemetry.fake.js';
import { DEFAULT_NOW, useApiApp } from '../support/api-app.js';
import { testClock } from '../support/clock.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const iso = (ms: number) => new Date(ms).toISOString();

/** Issue #12: what one signed-in user can make the platform store or scan is bounded. */
describe('cost limits', () => {
  const app = useApiApp();
  afterEach(() => app.clock.set(DEFAULT_NOW));

  describe('organisations per user', () => {
    const create = (token: string, n: number) =>
      app.request('POST', '/orgs', { token, body: { name: `Greenhouse ${n}` } });

    it(`refuses the organisation past ORGS_PER_USER (${DEFAULT_ORGS_PER_USER}) with 409 org-limit, creating nothing`, async () => {
      const founder = await app.outsider();
      for (let n = 0; n < DEFAULT_ORGS_PER_USER; n++) {
        expect((await create(founder.token, n)).status).toBe(201);
      }
      const audited = (await app.stores.audit.listForUser(founder.userId, 1000)).length;

      const refused = await create(founder.token, DEFAULT_ORGS_PER_USER);
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({
        code: 'CONFLICT',
        details: { reason: 'org-limit', limit: DEFAULT_ORGS_PER_USER },
      });
      expect(app.stores.organisations.orgsOf(founder.userId)).toHaveLength(DEFAULT_ORGS_PER_USER);
      expect(await app.stores.audit.listForUser(founder.userId, 1000)).toHaveLength(audited);
    });

    it('counts the organisations the user owns, however they came to own them', async () => {
      const founder = await app.outsider();
      for (let n = 0; n < DEFAULT_ORGS_PER_USER - 1; n++) {
        expect((await create(founder.token, n)).status).toBe(201);
      }
      const given = await app.org('Handed over');
      await app.stores.organisations.addMember(given.id, founder.userId, 'owner');
      // Membership with a lesser role costs the user nothing of their own.
      await app.stores.organisations.addMember((await app.org()).id, founder.userId, 'admin');

      expect((await create(founder.token, 99)).status).toBe(409);
    });

    it('lets parallel requests together create no more than the limit', async () => {
      const founder = await app.outsider();
      const extra = 5;
      const answers = await Promise.all(
        Array.from({ length: DEFAULT_ORGS_PER_USER + extra }, (_, n) => create(founder.token, n)),
      );
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(DEFAULT_ORGS_PER_USER);
      expect(statuses.filter((s) => s === 409)).toHaveLength(extra);
      expect(app.stores.organisations.orgsOf(founder.userId)).toHaveLength(DEFAULT_ORGS_PER_USER);
    });

    it('counts each user on their own', async () => {
      const [busy, other] = [await app.outsider(), await app.outsider()];
      for (let n = 0; n < DEFAULT_ORGS_PER_USER; n++) await create(busy.token, n);
      expect((await create(other.token, 0)).status).toBe(201);
    });
  });

  describe(`raw readings span at most RAW_WINDOW_MAX_HOURS (${RAW_WINDOW_MAX_HOURS})`, () => {
    async function setUp() {
      const org = await app.org();
      const viewer = await app.member(org.id, 'viewer');
      const device = await app.device(org);
      const now = app.clock.now();
      app.readings(device, [{ metric: 'co2', value: 400, time: now - HOUR }]);
      const readings = (query: Record<string, string>) =>
        app.request('GET', `/orgs/${org.id}/readings`, {
          token: viewer.token,
          query: { devices: device.id, metric: 'co2', ...query },
        });
      return { now, readings };
    }

    it('refuses a longer raw range with 400 VALIDATION_FAILED naming `from`', async () => {
      const { now, readings } = await setUp();
      const answer = await readings({
        window: 'raw',
        from: iso(now - RAW_WINDOW_MAX_HOURS * HOUR - 1),
        to: iso(now),
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: [
          {
            path: 'from',
            message: `a raw window spans at most ${RAW_WINDOW_MAX_HOURS} hours; for longer ranges choose 1m, 1h or 1d`,
          },
        ],
      });
    });

    it('refuses a raw range with only `from` that reaches further back than the bound', async () => {
      const { now, readings } = await setUp();
      const answer = await readings({ window: 'raw', from: iso(now - 7 * 24 * HOUR) });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ details: [{ path: 'from' }] });
    });

    it('answers a raw range of exactly the bound, the default range, and long aggregate ranges', async () => {
      const { now, readings } = await setUp();
      const exact = await readings({
        window: 'raw',
        from: iso(now - RAW_WINDOW_MAX_HOURS * HOUR),
        to: iso(now),
      });
      expect(exact.status).toBe(200);
      expect((exact.body as { devices: { points: unknown[] }[] }).devices[0]!.points).toEqual([
        { time: iso(now - HOUR), value: 400 },
      ]);
      expect((await readings({ window: 'raw' })).status).toBe(200);
      const week = await readings({ window: '1h', from: iso(now - 7 * 24 * HOUR), to: iso(now) });
      expect(week.status).toBe(200);
    });
  });
});

describe(`latest looks back LATEST_LOOKBACK_HOURS (${LATEST_LOOKBACK_HOURS})`, () => {
  // The service over the fakes directly: the route adds nothing but the shape of the answer.
  it('leaves out metrics whose newest reading is older, and asks telemetry for no more', async () => {
    const clock = testClock(DEFAULT_NOW);
    const telemetry = new FakeTelemetry();
    const devices = new FakeDevices(clock.now);
    const orgId = crypto.randomUUID();
    const tenantKey = newPseudonym();
    const { device } = await devices.provision(orgId, 'Pump');
    const now = clock.now();
    const lookback = LATEST_LOOKBACK_HOURS * HOUR;
    telemetry.write(
      [
        { metric: 'temperature', value: 20, time: now - lookback + MINUTE },
        { metric: 'pressure', value: 1.2, time: now - lookback - MINUTE },
      ].map((p) => ({ ...p, tenantKey, deviceKey: device.pseudonym })),
    );
    const asked: (Date | undefined)[] = [];
    const service = new ReadingsService({
      devices,
      metricUnits: { listForOrg: () => Promise.resolve([]) },
      telemetry: {
        forTenant(key) {
          const tenant = telemetry.forTenant(key);
          return {
            ...tenant,
            readings: {
              ...tenant.readings,
              latest: (since) => {
                asked.push(since);
                return tenant.readings.latest(since);
              },
            },
          };
        },
      },
      now: clock.now,
    });

    const answer = await service.latest({ orgId, tenantKey });
    expect(answer.map(({ device: d, readings }) => [d.id, readings])).toEqual([
      [
        device.id,
        [
          {
            deviceKey: device.pseudonym,
            metric: 'temperature',
            time: now - lookback + MINUTE,
            value: 20,
          },
        ],
      ],
    ]);
    expect(asked).toEqual([new Date(now - lookback)]);
  });
});
