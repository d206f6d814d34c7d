import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../influx/influx.client.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

/** Another tenant's reading: a value no id or timestamp contains by chance, unlike 99. */
const FOREIGN_VALUE = 987654.321;

/** Values that would change a query's meaning if spliced into SQL, InfluxQL or a regex. */
const payloads = [
  "'",
  '"',
  "' OR 1=1 --",
  "dev_x' OR ''='",
  '" OR "1"="1',
  '"; DROP MEASUREMENT readings; --',
  "'; DROP TABLE devices; --",
  'temperature\nDROP DATABASE telemoat',
  'a\r\nb',
  '$tenant',
  '$1',
  '/.*/',
  '.*',
  'temperature|humidity',
  '*',
  '\\',
  '%%',
  '\u0000',
  'temperaturé',
  '温度',
  '😀',
  'a'.repeat(5000),
  "2024-01-01T00:00:00Z' OR time > 0 --",
  'now() - 1000d',
  '1; SELECT * FROM users',
  '{"$ne":null}',
];

type Snapshot = Record<string, unknown>;

describe('injection through every id, metric, time, window and cursor parameter changes nothing', () => {
  let platform: TestPlatform;
  let orgId: string;
  let deviceId: string;
  let memberId: string;
  let admin: string;
  let tenantKey: string;

  beforeAll(async () => {
    platform = await startTestPlatform({
      RATE_LIMIT_PER_IP_PER_MINUTE: '1000000',
      RATE_LIMIT_PER_USER_PER_MINUTE: '1000000',
    });
    const org = await platform.createOrg('Injektion AB');
    const other = await platform.createOrg('Offer AB');
    orgId = org.id;
    tenantKey = org.tenantKey;
    const device = await platform.provisionDevice(orgId, 'Sensor');
    const victim = await platform.provisionDevice(other.id, 'Offrets sensor');
    deviceId = device.id;
    const owner = await platform.createMember(orgId, 'owner');
    memberId = (await platform.createMember(orgId, 'member')).userId;
    admin = await platform.login(owner.email, owner.password);
    const now = Date.now();
    await platform.influxAdmin.write(
      platform.influxDatabase,
      [
        `readings,device=${device.pseudonym},metric=temperature,tenant=${org.tenantKey} value=20 ${now - 60_000}`,
        `readings,device=${victim.pseudonym},metric=temperature,tenant=${other.tenantKey} value=${FOREIGN_VALUE} ${now - 60_000}`,
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await platform?.close();
  });

  async function snapshot(): Promise<Snapshot> {
    const pg = platform.adminPool;
    const table = async (sql: string) => (await pg.query<Record<string, unknown>>(sql)).rows;
    const influx = async (statement: string) =>
      (await platform.influxAdmin.query(statement, { database: platform.influxDatabase })).flatMap(
        rowsOf,
      );
    return {
      organisations: await table('SELECT id, tenant_key FROM organisations ORDER BY id'),
      devices: await table(
        'SELECT id, org_id, display_name, status, updated_at FROM devices ORDER BY id',
      ),
      credentials: await table('SELECT device_id, secret_hash FROM device_credentials ORDER BY 1'),
      memberships: await table('SELECT org_id, user_id, role FROM memberships ORDER BY 1, 2'),
      users: await table('SELECT id FROM users ORDER BY id'),
      metricUnits: await table('SELECT * FROM metric_units ORDER BY org_id, metric'),
      audit: await table('SELECT count(*) AS n FROM audit_log'),
      // The rollups' continuous queries may add their own measurements meanwhile.
      measurements: (await influx('SHOW MEASUREMENTS')).filter(
        (m) => !String(m.name).startsWith('readings_'),
      ),
      series: await influx('SHOW SERIES FROM "readings"'),
      readings: await influx('SELECT * FROM "raw"."readings"'),
    };
  }

  const base = () => `/api/v1/orgs/${orgId}`;
  const devicePath = () => `${base()}/devices/${deviceId}`;
  const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

  /** Every way a payload can enter: as a path segment, a query value or a body value. */
  function attempts(p: string): [string, string, unknown?][] {
    const seg = encodeURIComponent(p);
    const time = new Date(Date.now() - 3_600_000).toISOString();
    return [
      ['GET', `/api/v1/orgs/${seg}/devices`],
      ['GET', `/api/v1/orgs/${seg}/latest`],
      ['GET', `${base()}/devices/${seg}`],
      ['PATCH', `${base()}/devices/${seg}`, { name: 'renamed' }],
      ['DELETE', `${base()}/devices/${seg}`],
      ['POST', `${base()}/devices/${seg}/rotate-secret`],
      ['POST', `${base()}/devices/${seg}/disable`],
      ['GET', `${base()}/devices/${seg}/readings`],
      ['GET', `${devicePath()}/readings?${q({ metric: p })}`],
      ['GET', `${devicePath()}/readings?${q({ from: p })}`],
      ['GET', `${devicePath()}/readings?${q({ to: p })}`],
      ['GET', `${devicePath()}/readings?${q({ limit: p })}`],
      ['GET', `${base()}/devices?${q({ cursor: p })}`],
      ['GET', `${base()}/devices?${q({ limit: p })}`],
      ['GET', `${base()}/readings?${q({ devices: p, metric: 'temperature' })}`],
      ['GET', `${base()}/readings?${q({ devices: `${deviceId},${p}`, metric: 'temperature' })}`],
      ['GET', `${base()}/readings?${q({ devices: deviceId, metric: p })}`],
      ['GET', `${base()}/readings?${q({ devices: deviceId, metric: 'temperature', window: p })}`],
      ['GET', `${base()}/readings?${q({ devices: deviceId, metric: 'temperature', from: p })}`],
      [
        'GET',
        `${base()}/readings?${q({ devices: deviceId, metric: 'temperature', to: p, from: time })}`,
      ],
      ['GET', `${base()}/metrics/${seg}`],
      ['PUT', `${base()}/metrics/${seg}`, { unit: '%', label: 'x' }],
      ['PUT', `${base()}/metrics/temperature`, { unit: p, label: 'x' }],
      ['GET', `${base()}/members?${q({ cursor: p })}`],
      ['PATCH', `${base()}/members/${seg}`, { role: 'viewer' }],
      ['PATCH', `${base()}/members/${memberId}`, { role: p }],
      ['DELETE', `${base()}/members/${seg}`],
      ['DELETE', `${base()}/members/${seg}/account`],
    ];
  }

  it('answers 400 or 404 to each attempt and leaves Postgres and InfluxDB as they were', async () => {
    const before = await snapshot();
    const unexpected: string[] = [];
    for (const payload of payloads) {
      for (const [method, path, body] of attempts(payload)) {
        const answer = await platform.send(method, path, body, { token: admin });
        if (answer.status !== 400 && answer.status !== 404) {
          unexpected.push(`${answer.status} ${method} ${path.slice(0, 200)}`);
        }
        if (JSON.stringify(answer.body ?? '').includes(String(FOREIGN_VALUE))) {
          unexpected.push(`another tenant's value in ${method} ${path.slice(0, 200)}`);
        }
      }
    }
    expect(unexpected).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('P2: the same routes still answer with this organisation’s data, and only its own', async () => {
    const answer = await platform.get(
      `${base()}/readings?${q({ devices: deviceId, metric: 'temperature', window: 'raw' })}`,
      admin,
    );
    expect(answer.status).toBe(200);
    const points = (answer.body as { devices: { points: { value: number }[] }[] }).devices[0]!
      .points;
    expect(points.map((p) => p.value)).toEqual([20]);
    // A metric named like a tag key is just a name: it matches no reading.
    const named = await platform.get(
      `${base()}/readings?${q({ devices: deviceId, metric: 'tenant', window: '1h' })}`,
      admin,
    );
    const counts = (named.body as { devices: { points: { count: number }[] }[] }).devices[0]!
      .points;
    expect(counts.every((p) => p.count === 0)).toBe(true);
    const latest = await platform.get(`${base()}/latest`, admin);
    expect(JSON.stringify(latest.body)).not.toContain(String(FOREIGN_VALUE));
    expect(tenantKey).toMatch(/^[0-9a-f]{32}$/);
  });

  it('stores labels with quotes and newline-free SQL text verbatim, as data', async () => {
    const label = `Temp' OR 1=1; DROP TABLE metric_units; -- "$tenant"`;
    const put = await platform.send(
      'PUT',
      `${base()}/metrics/temperature`,
      { unit: '°C', label },
      { token: admin },
    );
    expect(put).toMatchObject({ status: 200, body: { label } });
    const catalogue = await platform.get(`${base()}/metrics`, admin);
    expect(catalogue.body).toMatchObject({
      metrics: [{ metric: 'temperature', unit: '°C', label, reported: true }],
    });
  });
});
