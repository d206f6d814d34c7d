import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceCredentialsRepository } from '../../directory/devices/device-credentials.repository.js';
import { InfluxClient } from '../../influx/influx.client.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

describe('P21: each component gets only the rights it needs', () => {
  let platform: TestPlatform;
  let brokerPool: pg.Pool;
  let device: { id: string; pseudonym: string };
  let tenantKey: string;

  beforeAll(async () => {
    platform = await startTestPlatform();
    const org = await platform.createOrg('Least Privilege AB');
    tenantKey = org.tenantKey;
    await platform.createMember(org.id);
    device = await platform.provisionDevice(org.id, 'Probe');
    brokerPool = new pg.Pool({ connectionString: platform.env.BROKER_DATABASE_URL, max: 1 });
  });

  afterAll(async () => {
    await brokerPool?.end();
    await platform?.close();
  });

  it("the broker's Postgres role reads device credentials through its view", async () => {
    const found = await new DeviceCredentialsRepository(brokerPool).find(device.id);
    expect(found).toMatchObject({
      deviceId: device.id,
      deviceKey: device.pseudonym,
      tenantKey,
      active: true,
    });
    expect(found?.secretHash).toMatch(/^sha256\$/);
  });

  it.each([
    // The broker has no USAGE on schema public, so every table in it is out of reach.
    'SELECT * FROM public.users',
    'SELECT * FROM public.organisations',
    'SELECT * FROM public.memberships',
    'SELECT * FROM public.devices',
    'SELECT * FROM public.device_credentials',
    "UPDATE public.device_credentials SET secret_hash = 'x'",
  ])("the broker's Postgres role is refused: %s", async (sql) => {
    await expect(brokerPool.query(sql)).rejects.toThrow(/permission denied/);
  });

  it("the API's Postgres role cannot read device secret hashes or change the schema", async () => {
    const api = new pg.Pool({ connectionString: platform.env.API_DATABASE_URL, max: 1 });
    try {
      await expect(api.query('SELECT secret_hash FROM device_credentials')).rejects.toThrow(
        /permission denied/,
      );
      await expect(api.query('SELECT * FROM broker.device_credentials')).rejects.toThrow(
        /permission denied/,
      );
      await expect(api.query('CREATE TABLE sneaky (id int)')).rejects.toThrow(/permission denied/);
      await expect(api.query('DROP TABLE users')).rejects.toThrow(/must be owner/);
    } finally {
      await api.end();
    }
  });

  it("the ingest's InfluxDB user may write readings but not read them or administer", async () => {
    const ingest = new InfluxClient({
      url: platform.env.INFLUX_URL!,
      username: platform.env.INFLUX_INGEST_USER!,
      password: platform.env.INFLUX_INGEST_PASSWORD!,
    });
    const db = platform.influxDatabase;
    const line = `readings,device=${device.pseudonym},metric=probe,tenant=${tenantKey} value=1 ${Date.now()}`;
    await expect(ingest.write(db, line)).resolves.toBeUndefined();
    await expect(ingest.query('SELECT * FROM readings', { database: db })).rejects.toThrow(
      /not authorized/,
    );
    await expect(ingest.query('SHOW USERS')).rejects.toThrow(/requires admin privilege/);
    await expect(ingest.query('DROP DATABASE "telemoat"')).rejects.toThrow(
      /requires admin privilege/,
    );
  });

  it("the API's InfluxDB user may read readings but not write or administer", async () => {
    const api = new InfluxClient({
      url: platform.env.INFLUX_URL!,
      username: platform.env.INFLUX_API_USER!,
      password: platform.env.INFLUX_API_PASSWORD!,
    });
    const db = platform.influxDatabase;
    await expect(api.query('SELECT * FROM readings', { database: db })).resolves.toBeDefined();
    const line = `readings,device=${device.pseudonym},metric=forged,tenant=${tenantKey} value=1`;
    await expect(api.write(db, line)).rejects.toThrow(/not authorized/);
    await expect(api.query('SHOW USERS')).rejects.toThrow(/requires admin privilege/);
  });
});
