import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

interface Catalogue {
  metrics: { metric: string; unit: string | null; label: string | null; reported: boolean }[];
  units: string[];
}

describe('the metric catalogue', () => {
  let platform: TestPlatform;
  let orgId: string;
  let admin: string;
  let viewer: string;

  beforeAll(async () => {
    platform = await startTestPlatform();
    const org = await platform.createOrg('Katalog AB');
    const other = await platform.createOrg('Annan AB');
    orgId = org.id;
    const device = await platform.provisionDevice(org.id, 'Mätare');
    const theirs = await platform.provisionDevice(other.id, 'Deras');
    const now = Date.now();
    const line = (tenant: string, device: string, metric: string) =>
      `readings,device=${device},metric=${metric},tenant=${tenant} value=1 ${now}`;
    await platform.influxAdmin.write(
      platform.influxDatabase,
      [
        line(org.tenantKey, device.pseudonym, 'temperature'),
        line(org.tenantKey, device.pseudonym, 'humidity'),
        line(other.tenantKey, theirs.pseudonym, 'co2_secret_metric'),
      ].join('\n'),
    );
    const a = await platform.createMember(orgId, 'admin');
    const v = await platform.createMember(orgId, 'viewer');
    [admin, viewer] = await Promise.all([
      platform.login(a.email, a.password),
      platform.login(v.email, v.password),
    ]);
  });

  afterAll(async () => {
    await platform?.close();
  });

  const catalogue = async (token: string) => {
    const answer = await platform.get(`/api/v1/orgs/${orgId}/metrics`, token);
    expect(answer.status).toBe(200);
    return answer.body as Catalogue;
  };
  const describeMetric = (metric: string, body: unknown, token = admin) =>
    platform.send('PUT', `/api/v1/orgs/${orgId}/metrics/${metric}`, body, { token });

  it("P2: lists the metrics the organisation's own devices report, and no one else's", async () => {
    const { metrics, units } = await catalogue(viewer);
    expect(metrics).toEqual([
      { metric: 'humidity', unit: null, label: null, reported: true },
      { metric: 'temperature', unit: null, label: null, reported: true },
    ]);
    expect(units).toContain('°C');
  });

  it('admins set units (from the allowlist) and labels; everyone sees them', async () => {
    expect(await describeMetric('humidity', { unit: '%', label: 'Luftfuktighet' })).toEqual({
      status: 200,
      body: { metric: 'humidity', unit: '%', label: 'Luftfuktighet' },
    });
    expect(await describeMetric('humidity', { unit: '%', label: 'Relativ fukt' })).toMatchObject({
      status: 200,
    });
    expect(await describeMetric('wind_speed', { unit: 'm/s', label: 'Vind' })).toMatchObject({
      status: 200,
    });
    expect((await catalogue(viewer)).metrics).toEqual([
      { metric: 'humidity', unit: '%', label: 'Relativ fukt', reported: true },
      { metric: 'temperature', unit: null, label: null, reported: true },
      { metric: 'wind_speed', unit: 'm/s', label: 'Vind', reported: false },
    ]);
  });

  it('refuses units off the allowlist, bad labels and viewers', async () => {
    for (const body of [
      { unit: 'furlongs/fortnight', label: 'x' },
      { unit: '<script>', label: 'x' },
      { unit: '%', label: '' },
      { unit: '%', label: 'a'.repeat(65) },
      { unit: '%', label: 'two\nlines' },
      { unit: '%' },
      { unit: '%', label: 'x', extra: true },
    ]) {
      expect(await describeMetric('temperature', body), JSON.stringify(body)).toMatchObject({
        status: 400,
        body: { code: 'VALIDATION_FAILED' },
      });
    }
    expect(await describeMetric('temperature', { unit: '°C', label: 'T' }, viewer)).toMatchObject({
      status: 403,
    });
    expect((await catalogue(viewer)).metrics[1]).toMatchObject({
      metric: 'temperature',
      unit: null,
    });
  });
});
