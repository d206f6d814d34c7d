import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rowsOf } from '../../influx/influx.client.js';
import { eventually } from '../support/mqtt-device.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const run = promisify(execFile);

interface ReadingsBody {
  device: { id: string; name: string };
  readings: { time: string; metric: string; value: number | boolean }[];
}

describe('thin path: device → broker → InfluxDB → API, for members only', () => {
  let platform: TestPlatform;
  let orgA: { id: string; tenantKey: string };
  let orgB: { id: string; tenantKey: string };
  let device: { id: string; secret: string; pseudonym: string };
  let alice: { email: string; password: string };
  let bob: { email: string; password: string };

  beforeAll(async () => {
    platform = await startTestPlatform();
    orgA = await platform.createOrg('Greenhouse Co');
    orgB = await platform.createOrg('Other Farm');
    alice = await platform.createMember(orgA.id, 'viewer');
    bob = await platform.createMember(orgB.id, 'owner');
    device = await platform.provisionDevice(orgA.id, 'North bay sensor');
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('refuses a device with a wrong secret with CONNACK "not authorized"', async () => {
    const client = mqtt.connect(platform.mqttUrl, {
      clientId: device.id,
      username: device.id,
      password: 'not-the-secret',
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    const error = await new Promise<Error & { code?: number }>((resolve) =>
      client.once('error', resolve),
    );
    client.end(true);
    expect(error.code).toBe(5);
  });

  it('P2: a reading published with mosquitto_pub reaches the right member', async () => {
    const token = await platform.login(alice.email, alice.password);
    const publishedAt = Date.now();
    await run(path.join(inject('mosquittoBin'), 'mosquitto_pub'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(platform.mqttPort),
      '-V',
      'mqttv311',
      '-q',
      '1',
      '-i',
      device.id,
      '-u',
      device.id,
      '-P',
      device.secret,
      '-t',
      `devices/${device.id}/telemetry`,
      '-m',
      JSON.stringify({ readings: { temperature: 21.5, door_open: true } }),
    ]);
    const url = `/api/v1/orgs/${orgA.id}/devices/${device.id}/readings`;
    const value = await eventually(
      2000,
      () => platform.get(url, token),
      (r) => (r.body as ReadingsBody).readings?.length === 2,
    );
    expect(value.status).toBe(200);
    const body = value.body as ReadingsBody;
    expect(body.device).toEqual({ id: device.id, name: 'North bay sensor' });
    expect(body.readings.map((r) => [r.metric, r.value]).sort()).toEqual([
      ['door_open', true],
      ['temperature', 21.5],
    ]);
    expect(Date.parse(body.readings[0]!.time)).toBeGreaterThanOrEqual(publishedAt - 1000);
  });

  it('P2: a member of another organisation gets 404 for the device, its readings and the org', async () => {
    const token = await platform.login(bob.email, bob.password);
    const readings = await platform.get(
      `/api/v1/orgs/${orgA.id}/devices/${device.id}/readings`,
      token,
    );
    const devices = await platform.get(`/api/v1/orgs/${orgA.id}/devices`, token);
    const ownDevices = await platform.get(`/api/v1/orgs/${orgB.id}/devices`, token);
    expect(readings).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(devices.status).toBe(404);
    // Bob's own organisation answers, and does not list the other organisation's device.
    expect(ownDevices).toEqual({ status: 200, body: { devices: [], nextCursor: null } });
  });

  it('refuses requests without a valid token', async () => {
    const url = `/api/v1/orgs/${orgA.id}/devices/${device.id}/readings`;
    expect((await platform.get(url)).status).toBe(401);
    expect((await platform.get(url, 'e30.e30.e30')).body).toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it('P2: InfluxDB holds only pseudonymous tags, metric names and values', async () => {
    const db = { database: platform.influxDatabase };
    const tagKeys = (await platform.influxAdmin.query('SHOW TAG KEYS FROM readings', db))
      .flatMap(rowsOf)
      .map((r) => r.tagKey);
    expect(tagKeys.sort()).toEqual(['device', 'metric', 'tenant']);
    const rows = (await platform.influxAdmin.query('SELECT * FROM readings', db)).flatMap(rowsOf);
    expect(rows.length).toBe(2);
    for (const row of rows) {
      expect(row.tenant).toBe(orgA.tenantKey);
      expect(row.device).toBe(device.pseudonym);
    }
    const everything = JSON.stringify(rows);
    for (const personal of [
      device.id,
      'North bay sensor',
      'Greenhouse Co',
      alice.email,
      '127.0.0.1',
    ]) {
      expect(everything).not.toContain(personal);
    }
  });
});
