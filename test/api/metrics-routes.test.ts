import { describe, expect, it } from 'vitest';
import { METRIC_UNITS } from '../../api/readings/metrics.routes.js';
import { useApiApp } from '../support/api-app.js';

interface Catalogue {
  metrics: { metric: string; unit: string | null; label: string | null; reported: boolean }[];
  units: string[];
}

describe('metric catalogue routes', () => {
  const app = useApiApp();

  it("lists what the organisation's devices report and what its admins described, by name, with the units offered", async () => {
    const org = await app.org();
    const viewer = await app.member(org.id, 'viewer');
    const admin = await app.member(org.id, 'admin');
    const device = await app.device(org);
    const now = app.clock.now();
    app.readings(device, [
      { metric: 'temperature', value: 20, time: now - 1000 },
      { metric: 'humidity', value: 50, time: now - 1000 },
    ]);
    // Another tenant's metric names are not this organisation's catalogue.
    const other = await app.org('Other');
    app.readings(await app.device(other), [{ metric: 'radiation', value: 1, time: now - 1000 }]);

    const described = await app.request('PUT', `/orgs/${org.id}/metrics/temperature`, {
      token: admin.token,
      body: { unit: '°C', label: '  Air temperature ' },
    });
    expect(described.status).toBe(200);
    expect(described.body).toEqual({ metric: 'temperature', unit: '°C', label: 'Air temperature' });
    await app.request('PUT', `/orgs/${org.id}/metrics/soil_moisture`, {
      token: admin.token,
      body: { unit: '%', label: 'Soil moisture' },
    });

    const answer = await app.request('GET', `/orgs/${org.id}/metrics`, { token: viewer.token });
    expect(answer.status).toBe(200);
    const body = answer.body as Catalogue;
    expect(body.metrics).toEqual([
      { metric: 'humidity', unit: null, label: null, reported: true },
      { metric: 'soil_moisture', unit: '%', label: 'Soil moisture', reported: false },
      { metric: 'temperature', unit: '°C', label: 'Air temperature', reported: true },
    ]);
    expect(body.units).toEqual([...METRIC_UNITS]);
  });

  it('a second description replaces the first, and each is recorded in the admin history (P11)', async () => {
    const org = await app.org();
    const admin = await app.member(org.id, 'admin');
    const path = `/orgs/${org.id}/metrics/pressure`;
    await app.request('PUT', path, { token: admin.token, body: { unit: 'Pa', label: 'Pressure' } });
    await app.request('PUT', path, { token: admin.token, body: { unit: 'hPa', label: 'Air' } });
    expect(await app.stores.metricUnits.listForOrg(org.id)).toEqual([
      { metric: 'pressure', unit: 'hPa', label: 'Air' },
    ]);
    const history = await app.stores.audit.listForUser(admin.userId, 10);
    expect(history.filter((e) => e.action === 'metric.described')).toHaveLength(2);
    expect(history[0]!.details).toEqual({ orgId: org.id, metric: 'pressure' });
  });

  it('refuses a unit off the list, a label that is not one line, and a metric name off the pattern', async () => {
    const org = await app.org();
    const admin = await app.member(org.id, 'admin');
    const cases: [string, unknown, string][] = [
      ['temperature', { unit: 'furlongs', label: 'x' }, 'unit'],
      ['temperature', { unit: '°C', label: '' }, 'label'],
      ['temperature', { unit: '°C', label: 'a\r\nb' }, 'label'],
      ['temperature', { unit: '°C', label: 'x'.repeat(65) }, 'label'],
      ['Temperature', { unit: '°C', label: 'x' }, 'metric'],
      ['temp-c', { unit: '°C', label: 'x' }, 'metric'],
    ];
    for (const [metric, body, path] of cases) {
      const answer = await app.request('PUT', `/orgs/${org.id}/metrics/${metric}`, {
        token: admin.token,
        body,
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: [expect.objectContaining({ path })],
      });
    }
    expect(await app.stores.metricUnits.listForOrg(org.id)).toEqual([]);
  });
});
