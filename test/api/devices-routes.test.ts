import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_NOW, useApiApp } from '../support/api-app.js';

interface DeviceAnswer {
  id: string;
  name: string;
  status: 'active' | 'disabled';
  createdAt: string;
  updatedAt: string;
}

interface SecretAnswer {
  device: DeviceAnswer;
  secret: string;
  mosquittoPub: string;
}

describe('devices routes', () => {
  const app = useApiApp();
  afterEach(() => app.clock.set(DEFAULT_NOW));

  async function orgWithOwner() {
    const org = await app.org();
    return { org, owner: await app.member(org.id, 'owner') };
  }

  it("P2: lists the organisation's devices by name, a page at a time, and none of another's", async () => {
    const { org, owner } = await orgWithOwner();
    for (const name of ['Delta', 'Alpha', 'Echo', 'Charlie', 'Bravo']) await app.device(org, name);
    const other = await app.org('Other Ltd');
    const foreign = await app.device(other, 'Aardvark');

    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await app.request('GET', `/orgs/${org.id}/devices`, {
        token: owner.token,
        query: { limit: '2', ...(cursor ? { cursor } : {}) },
      });
      expect(page.status).toBe(200);
      const body = page.body as {
        devices: { id: string; name: string; status: string }[];
        nextCursor: string | null;
      };
      // The list names devices; it never carries their pseudonyms or secrets.
      for (const device of body.devices)
        expect(Object.keys(device).sort()).toEqual(['id', 'name', 'status']);
      expect(body.devices.map((d) => d.id)).not.toContain(foreign.id);
      names.push(...body.devices.map((d) => d.name));
      cursor = body.nextCursor;
      pages++;
    } while (cursor);
    expect(names).toEqual(['Alpha', 'Bravo', 'Charlie', 'Delta', 'Echo']);
    expect(pages).toBe(3);
  });

  it('registers a device: 201, its secret this once, an example command, a record in the history (P11, P12)', async () => {
    const { org, owner } = await orgWithOwner();
    const created = await app.request('POST', `/orgs/${org.id}/devices`, {
      token: owner.token,
      body: { name: '  Greenhouse 1  ' },
    });
    expect(created.status).toBe(201);
    const { device, secret, mosquittoPub } = created.body as SecretAnswer;
    expect(device).toMatchObject({ name: 'Greenhouse 1', status: 'active' });
    expect(device.createdAt).toBe(new Date(app.clock.now()).toISOString());
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mosquittoPub).toContain("-h 'broker.test' -p 1883");
    expect(mosquittoPub).toContain(`-i '${device.id}' -u '${device.id}' -P '${secret}'`);
    expect(mosquittoPub).toContain(`-t 'devices/${device.id}/telemetry'`);
    expect(await app.stores.devices.secretMatches(device.id, secret)).toBe(true);

    // Never shown again: neither in the device's page nor in the list.
    const shown = await app.request('GET', `/orgs/${org.id}/devices/${device.id}`, {
      token: owner.token,
    });
    const listed = await app.request('GET', `/orgs/${org.id}/devices`, { token: owner.token });
    expect(shown.text).not.toContain(secret);
    expect(listed.text).not.toContain(secret);

    const history = await app.stores.audit.listForUser(owner.userId, 10);
    expect(history).toContainEqual(
      expect.objectContaining({
        action: 'device.created',
        actorUserId: owner.userId,
        details: { orgId: org.id, deviceId: device.id },
      }),
    );
  });

  it('shows whether a device is connected, and lastSeen as the later of presence and its newest reading', async () => {
    const { org, owner } = await orgWithOwner();
    const device = await app.device(org, 'Pump');
    const now = app.clock.now();
    const get = async () =>
      (await app.request('GET', `/orgs/${org.id}/devices/${device.id}`, { token: owner.token }))
        .body as DeviceAnswer & {
        connected: boolean;
        lastSeen: string | null;
        lastReadingAt: string | null;
      };

    expect(await get()).toMatchObject({ connected: false, lastSeen: null, lastReadingAt: null });

    app.presence(device, true, now - 60_000);
    app.readings(device, [
      { metric: 'temperature', value: 20, time: now - 30_000 },
      { metric: 'humidity', value: 55, time: now - 10_000 },
    ]);
    expect(await get()).toMatchObject({
      id: device.id,
      name: 'Pump',
      connected: true,
      lastSeen: new Date(now - 10_000).toISOString(),
      lastReadingAt: new Date(now - 10_000).toISOString(),
    });

    app.presence(device, false, now - 5_000);
    expect(await get()).toMatchObject({
      connected: false,
      lastSeen: new Date(now - 5_000).toISOString(),
      lastReadingAt: new Date(now - 10_000).toISOString(),
    });
  });

  it('renames, rotates the secret, disables and enables; each change moves updatedAt and is audited', async () => {
    const { org, owner } = await orgWithOwner();
    const device = await app.device(org, 'Old name');
    const path = `/orgs/${org.id}/devices/${device.id}`;
    const start = app.clock.now();

    app.clock.advance(1000);
    const renamed = await app.request('PATCH', path, { token: owner.token, body: { name: 'New' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({
      name: 'New',
      createdAt: new Date(start).toISOString(),
      updatedAt: new Date(start + 1000).toISOString(),
    });

    const rotated = await app.request('POST', `${path}/rotate-secret`, { token: owner.token });
    expect(rotated.status).toBe(200);
    const { secret } = rotated.body as SecretAnswer;
    expect(secret).not.toBe(device.secret);
    expect(await app.stores.devices.secretMatches(device.id, device.secret)).toBe(false);
    expect(await app.stores.devices.secretMatches(device.id, secret)).toBe(true);

    const disabled = await app.request('POST', `${path}/disable`, { token: owner.token });
    expect(disabled.body).toMatchObject({ status: 'disabled' });
    const listed = await app.request('GET', `/orgs/${org.id}/devices`, { token: owner.token });
    expect(listed.body).toMatchObject({ devices: [{ id: device.id, status: 'disabled' }] });
    const enabled = await app.request('POST', `${path}/enable`, { token: owner.token });
    expect(enabled.body).toMatchObject({ status: 'active' });

    const actions = (await app.stores.audit.listForUser(owner.userId, 10)).map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'device.renamed',
        'device.secret_rotated',
        'device.disabled',
        'device.enabled',
      ]),
    );
  });

  it('P2: deletes a device; its readings stay under a pseudonym that nothing names any more', async () => {
    const { org, owner } = await orgWithOwner();
    const device = await app.device(org, 'Doomed');
    const kept = await app.device(org, 'Kept');
    const time = app.clock.now() - 1000;
    app.readings(device, [{ metric: 'temperature', value: 1, time }]);
    app.readings(kept, [{ metric: 'temperature', value: 2, time }]);

    const deleted = await app.request('DELETE', `/orgs/${org.id}/devices/${device.id}`, {
      token: owner.token,
    });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const again = await app.request('GET', `/orgs/${org.id}/devices/${device.id}`, {
      token: owner.token,
    });
    expect(again.status).toBe(404);
    const latest = await app.request('GET', `/orgs/${org.id}/latest`, { token: owner.token });
    expect((latest.body as { devices: { id: string }[] }).devices.map((d) => d.id)).toEqual([
      kept.id,
    ]);
    // Still stored, pseudonymous: deleting a device is not deleting the organisation's telemetry.
    const stored = await app.stores.telemetry.forTenant(org.tenantKey).readings.list({
      deviceKey: device.pseudonym,
      from: new Date(0),
      to: new Date(time + 1),
      limit: 10,
    });
    expect(stored).toHaveLength(1);
  });

  it("P2: another organisation's device is not found by any device operation, and stays as it was", async () => {
    const { org, owner } = await orgWithOwner();
    const other = await app.org('Neighbour AB');
    const theirs = await app.device(other, 'Their sensor');
    const base = `/orgs/${org.id}/devices/${theirs.id}`;
    const calls: [string, string, unknown?][] = [
      ['GET', base],
      ['PATCH', base, { name: 'Hijacked' }],
      ['POST', `${base}/rotate-secret`],
      ['POST', `${base}/disable`],
      ['POST', `${base}/enable`],
      ['DELETE', base],
      ['GET', `${base}/readings`],
    ];
    for (const [method, path, body] of calls) {
      const answer = await app.request(method, path, { token: owner.token, body });
      expect({ method, path, status: answer.status, body: answer.body }).toEqual({
        method,
        path,
        status: 404,
        body: { code: 'NOT_FOUND', message: 'There is nothing here.' },
      });
    }
    const untouched = await app.stores.devices.findInOrg(other.id, theirs.id);
    expect(untouched).toMatchObject({ displayName: 'Their sensor', status: 'active' });
    expect(await app.stores.devices.secretMatches(theirs.id, theirs.secret)).toBe(true);
  });

  it('refuses a name that is not one line of printable text, and fields it does not know', async () => {
    const { org, owner } = await orgWithOwner();
    const path = `/orgs/${org.id}/devices`;
    for (const body of [
      { name: '' },
      { name: '   ' },
      { name: 'two\nlines' },
      { name: 'bell\u0007' },
      { name: 'x'.repeat(201) },
      { name: 42 },
    ]) {
      const answer = await app.request('POST', path, { token: owner.token, body });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: [expect.objectContaining({ path: 'name' })],
      });
    }
    const extra = await app.request('POST', path, {
      token: owner.token,
      body: { name: 'Fine', pseudonym: 'f'.repeat(32) },
    });
    expect(extra.status).toBe(400);
    expect(await app.stores.devices.listForOrg(org.id)).toEqual([]);
  });
});
