import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closed, connectDevice, eventually } from '../support/mqtt-device.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

interface SecretAnswer {
  device: { id: string; name: string; status: string; createdAt: string; updatedAt: string };
  secret: string;
  mosquittoPub: string;
}

interface DeviceAnswer {
  id: string;
  name: string;
  status: string;
  connected: boolean;
  lastSeen: string | null;
  lastReadingAt: string | null;
}

describe('device management through the API', () => {
  let platform: TestPlatform;
  let orgId: string;
  let admin: string;
  let viewer: string;
  let outsider: string;

  beforeAll(async () => {
    platform = await startTestPlatform({ DEVICE_REVALIDATE_MS: '300' });
    const org = await platform.createOrg('Växthus Norr AB');
    orgId = org.id;
    const other = await platform.createOrg('Other Farm');
    const a = await platform.createMember(orgId, 'admin');
    const v = await platform.createMember(orgId, 'viewer');
    const o = await platform.createMember(other.id, 'owner');
    [admin, viewer, outsider] = await Promise.all([
      platform.login(a.email, a.password),
      platform.login(v.email, v.password),
      platform.login(o.email, o.password),
    ]);
  });

  afterAll(async () => {
    await platform?.close();
  });

  const devicesPath = () => `/api/v1/orgs/${orgId}/devices`;
  const create = async (name: string) => {
    const created = await platform.send('POST', devicesPath(), { name }, { token: admin });
    expect(created.status).toBe(201);
    return created.body as SecretAnswer;
  };
  const publish = async (device: { id: string; secret: string }, value: number) => {
    const client = await connectDevice(platform.mqttUrl, device);
    await client.publishAsync(
      `devices/${device.id}/telemetry`,
      JSON.stringify({ ts: Date.now(), readings: { temperature: value } }),
      { qos: 1 },
    );
    await client.endAsync();
  };

  it('creates a device whose one-time secret works over MQTT, and shows it connected', async () => {
    const created = await create('Bänk 1');
    expect(created.device).toMatchObject({ name: 'Bänk 1', status: 'active' });
    expect(created.secret).toMatch(/^[\w-]{43}$/);
    expect(created.mosquittoPub).toContain(`-u '${created.device.id}' -P '${created.secret}'`);
    expect(created.mosquittoPub).toContain(`-t 'devices/${created.device.id}/telemetry'`);
    const device = { id: created.device.id, secret: created.secret };

    const client = await connectDevice(platform.mqttUrl, device);
    const path = `${devicesPath()}/${device.id}`;
    const online = await eventually(
      5000,
      () => platform.get(path, viewer),
      (r) => (r.body as DeviceAnswer).connected,
    );
    expect(online.body).toMatchObject({ id: device.id, connected: true, lastReadingAt: null });
    expect(Date.parse((online.body as DeviceAnswer).lastSeen!)).toBeGreaterThan(
      Date.now() - 60_000,
    );

    await client.publishAsync(
      `devices/${device.id}/telemetry`,
      JSON.stringify({ readings: { temperature: 19.5 } }),
      { qos: 1 },
    );
    await client.endAsync();
    const seen = await eventually(
      5000,
      () => platform.get(path, viewer),
      (r) => !(r.body as DeviceAnswer).connected && (r.body as DeviceAnswer).lastReadingAt !== null,
    );
    expect(seen.body).toMatchObject({ connected: false });

    // The secret is never shown again: not in the device, not in the list.
    expect(JSON.stringify(seen.body)).not.toContain(created.secret);
    const list = await platform.get(devicesPath(), admin);
    expect(JSON.stringify(list.body)).not.toContain(created.secret);
  });

  it('rotating the secret drops the connected session and refuses the old secret', async () => {
    const created = await create('Bänk 2');
    const old = { id: created.device.id, secret: created.secret };
    const client = await connectDevice(platform.mqttUrl, old);
    const rotated = await platform.send(
      'POST',
      `${devicesPath()}/${old.id}/rotate-secret`,
      undefined,
      { token: admin },
    );
    expect(rotated.status).toBe(200);
    const fresh = (rotated.body as SecretAnswer).secret;
    expect(fresh).not.toBe(old.secret);
    expect(await closed(client, 5000)).toBe(true);
    client.end(true);
    await expect(connectDevice(platform.mqttUrl, old)).rejects.toThrow();
    await publish({ id: old.id, secret: fresh }, 20);
  });

  it('disable drops and refuses the device; enable lets it in again', async () => {
    const created = await create('Bänk 3');
    const device = { id: created.device.id, secret: created.secret };
    const client = await connectDevice(platform.mqttUrl, device);
    const disabled = await platform.send(
      'POST',
      `${devicesPath()}/${device.id}/disable`,
      undefined,
      {
        token: admin,
      },
    );
    expect(disabled).toMatchObject({ status: 200, body: { status: 'disabled' } });
    expect(await closed(client, 5000)).toBe(true);
    client.end(true);
    await expect(connectDevice(platform.mqttUrl, device)).rejects.toThrow();

    const enabled = await platform.send('POST', `${devicesPath()}/${device.id}/enable`, undefined, {
      token: admin,
    });
    expect(enabled).toMatchObject({ status: 200, body: { status: 'active' } });
    await publish(device, 21);
  });

  it('renames and deletes; the deleted device is gone from the directory and the broker', async () => {
    const created = await create('Bänk 4');
    const path = `${devicesPath()}/${created.device.id}`;
    const renamed = await platform.send('PATCH', path, { name: '  Bänk fyra ' }, { token: admin });
    expect(renamed).toMatchObject({ status: 200, body: { name: 'Bänk fyra' } });
    expect((await platform.get(path, viewer)).body).toMatchObject({ name: 'Bänk fyra' });

    expect((await platform.send('DELETE', path, undefined, { token: admin })).status).toBe(204);
    expect((await platform.get(path, viewer)).status).toBe(404);
    expect((await platform.send('DELETE', path, undefined, { token: admin })).status).toBe(404);
    const rows = await platform.adminPool.query(
      'SELECT 1 FROM device_credentials WHERE device_id = $1',
      [created.device.id],
    );
    expect(rows.rowCount).toBe(0);
    await expect(
      connectDevice(platform.mqttUrl, { id: created.device.id, secret: created.secret }),
    ).rejects.toThrow();
  });

  it('records every device change in the acting admin’s history (P11)', async () => {
    const history = await platform.get('/api/v1/me/audit?limit=100', admin);
    const actions = (history.body as { entries: { action: string }[] }).entries.map(
      (e) => e.action,
    );
    for (const action of [
      'device.created',
      'device.secret_rotated',
      'device.disabled',
      'device.enabled',
      'device.renamed',
      'device.deleted',
    ]) {
      expect(actions).toContain(action);
    }
  });

  it('P2: only admins manage devices; another organisation gets 404 for everything', async () => {
    const created = await create('Bänk 5');
    const path = `${devicesPath()}/${created.device.id}`;
    expect(
      (await platform.send('POST', devicesPath(), { name: 'x' }, { token: viewer })).status,
    ).toBe(403);
    expect((await platform.send('PATCH', path, { name: 'x' }, { token: viewer })).status).toBe(403);
    expect((await platform.send('DELETE', path, undefined, { token: viewer })).status).toBe(403);
    expect(
      (await platform.send('POST', `${path}/rotate-secret`, undefined, { token: viewer })).status,
    ).toBe(403);
    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['PATCH', '', { name: 'x' }],
      ['DELETE', '', undefined],
      ['POST', '/rotate-secret', undefined],
      ['POST', '/disable', undefined],
    ] as const) {
      const answer = await platform.send(method, `${path}${suffix}`, body, { token: outsider });
      expect(answer, `${method} ${suffix}`).toMatchObject({
        status: 404,
        body: { code: 'NOT_FOUND' },
      });
    }
    expect((await platform.get(path, viewer)).body).toMatchObject({
      name: 'Bänk 5',
      status: 'active',
    });
  });

  it('pages through the devices with an opaque cursor', async () => {
    const org = await platform.createOrg('Many Devices AB');
    const owner = await platform.createMember(org.id, 'owner');
    const token = await platform.login(owner.email, owner.password);
    const names = Array.from({ length: 7 }, (_, i) => `Sensor ${String(i).padStart(2, '0')}`);
    for (const name of names) await platform.provisionDevice(org.id, name);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `limit=3&cursor=${cursor}` : 'limit=3';
      const page = await platform.get(`/api/v1/orgs/${org.id}/devices?${query}`, token);
      expect(page.status).toBe(200);
      const body = page.body as { devices: { name: string }[]; nextCursor: string | null };
      seen.push(...body.devices.map((d) => d.name));
      cursor = body.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(names);
    const bad = await platform.get(`/api/v1/orgs/${org.id}/devices?cursor=bm90LWpzb24`, token);
    expect(bad).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED' } });
  });
});
