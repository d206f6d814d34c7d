import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../bin/broker.js';
import { brokerConfigSchema } from '../../broker/broker.config.js';
import { loadConfig } from '../../common/config.js';
import { createLogger } from '../../common/logger.js';
import { DEVICE_CHANGES_CHANNEL } from '../../directory/devices/device-credentials.repository.js';
import { closed, connectDevice } from '../support/mqtt-device.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { until } from '../support/wait.js';

type Device = { id: string; secret: string };

/**
 * Revocation through Postgres LISTEN/NOTIFY. The periodic re-check and the cache's fresh window
 * are an hour here, so only the directory's announcement can explain a session ending, or a
 * cached secret being refused, within the test.
 */
describe('device changes reach every broker at once', () => {
  let platform: TestPlatform;
  let second: Awaited<ReturnType<typeof startBroker>>;
  let secondSpool: string;
  let orgId: string;
  let admin: string;
  const clients: MqttClient[] = [];

  const HOUR = '3600000';

  beforeAll(async () => {
    const overrides = {
      DEVICE_REVALIDATE_MS: HOUR,
      AUTH_CACHE_FRESH_MS: HOUR,
      AUTH_NEGATIVE_CACHE_MS: HOUR,
    };
    platform = await startTestPlatform(overrides);
    secondSpool = await mkdtemp(path.join(tmpdir(), 'telemoat-second-broker-'));
    second = await startBroker(
      loadConfig('broker', brokerConfigSchema, {
        ...platform.env,
        ...overrides,
        SPOOL_DIR: secondSpool,
        MQTT_PORT: '0',
        MQTT_WS_PORT: '0',
        METRICS_PORT: '0',
      }),
      createLogger({ name: 'test', level: 'silent' }),
    );
    orgId = (await platform.createOrg('Revocations AB')).id;
    const member = await platform.createMember(orgId, 'admin');
    admin = await platform.login(member.email, member.password);
    await until(
      async () =>
        (await listening(platform.brokerPorts.metrics)) && listening(second.ports.metrics),
      'both brokers listening for device changes',
    );
  });

  afterAll(async () => {
    clients.forEach((c) => c.end(true));
    await second?.close();
    await platform?.close();
    await rm(secondSpool, { recursive: true, force: true });
  });

  async function listening(metricsPort: number): Promise<boolean> {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return /^telemoat_device_changes_listening 1$/m.test(text);
  }

  const brokers = () => [platform.mqttUrl, `mqtt://127.0.0.1:${second.port}`];

  async function connectEverywhere(device: Device): Promise<MqttClient[]> {
    const connected = await Promise.all(brokers().map((url) => connectDevice(url, device)));
    clients.push(...connected);
    return connected;
  }

  async function refusedEverywhere(device: Device) {
    for (const url of brokers()) {
      await expect(connectDevice(url, device)).rejects.toMatchObject({ code: 5 });
    }
  }

  async function api(method: string, action: string, deviceId: string) {
    const suffix = action ? `/${action}` : '';
    const answer = await platform.send(
      method,
      `/api/v1/orgs/${orgId}/devices/${deviceId}${suffix}`,
      undefined,
      { token: admin },
    );
    expect(answer.status).toBeLessThan(300);
    return answer.body as { secret?: string };
  }

  async function newDevice(name: string): Promise<Device> {
    const { id, secret } = await platform.provisionDevice(orgId, name);
    return { id, secret };
  }

  it('rotating a secret ends its sessions on every broker and refuses the old one at once', async () => {
    const device = await newDevice('Rotated');
    const sessions = await connectEverywhere(device);
    const { secret } = await api('POST', 'rotate-secret', device.id);
    for (const session of sessions) expect(await closed(session)).toBe(true);
    // The old secret is still in both caches' fresh window: only the announcement evicts it.
    await refusedEverywhere(device);
    await connectEverywhere({ id: device.id, secret: secret! });
  });

  it('disabling ends the sessions and refuses the device; enabling lets it in again at once', async () => {
    const device = await newDevice('Disabled');
    const sessions = await connectEverywhere(device);
    await api('POST', 'disable', device.id);
    for (const session of sessions) expect(await closed(session)).toBe(true);
    await refusedEverywhere(device);
    // The refusal is in both negative caches for an hour; only the announcement of the change
    // clears it. It arrives a moment after the API answers, so each broker is asked until it
    // lets the device in.
    await api('POST', 'enable', device.id);
    for (const url of brokers()) {
      let client: MqttClient | undefined;
      await until(async () => {
        client = await connectDevice(url, device).catch(() => undefined);
        return client !== undefined;
      }, `${url} letting the enabled device in`);
      clients.push(client!);
    }
  });

  it('deleting ends the sessions and refuses the device', async () => {
    const device = await newDevice('Deleted');
    const sessions = await connectEverywhere(device);
    await api('DELETE', '', device.id);
    for (const session of sessions) expect(await closed(session)).toBe(true);
    await refusedEverywhere(device);
  });

  it("the broker's role may LISTEN, without any grant, and hears the device id and nothing else", async () => {
    const device = await newDevice('Overheard');
    const listener = new pg.Client({ connectionString: platform.env.BROKER_DATABASE_URL });
    await listener.connect();
    try {
      const role = await listener.query<{ rolsuper: boolean }>(
        'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
      );
      expect(role.rows).toEqual([{ rolsuper: false }]);
      const heard: string[] = [];
      listener.on('notification', (n) => heard.push(n.payload ?? ''));
      await listener.query(`LISTEN ${DEVICE_CHANGES_CHANNEL}`);
      const { secret } = await api('POST', 'rotate-secret', device.id);
      await until(() => heard.length > 0, 'the announcement');
      expect(heard.map((p) => JSON.parse(p) as unknown)).toEqual([
        { deviceId: device.id, revoked: true },
      ]);
      expect(heard[0]).not.toContain(secret!);
      expect(heard[0]).not.toContain(device.secret);
      expect(heard[0]).not.toContain(orgId);
    } finally {
      await listener.end();
    }
  });

  it('listens again after Postgres ends its connection, and still applies changes', async () => {
    // The listening connections: their last statement was LISTEN or the heartbeat's.
    const listeners = async () =>
      (
        await platform.adminPool.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
           WHERE datname = current_database() AND usename = 'telemoat_broker'
             AND (query LIKE 'LISTEN %' OR query = 'SELECT 1')`,
        )
      ).rows.map((r) => r.pid);
    const before = await listeners();
    expect(before).toHaveLength(2);
    await platform.adminPool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid', [
      before,
    ]);
    await until(async () => {
      const now = await listeners();
      return now.length === 2 && now.every((pid) => !before.includes(pid));
    }, 'both brokers listening on new connections');
    await until(
      async () =>
        (await listening(platform.brokerPorts.metrics)) && listening(second.ports.metrics),
      'both brokers report listening',
    );
    const device = await newDevice('After reconnect');
    const sessions = await connectEverywhere(device);
    await api('POST', 'disable', device.id);
    for (const session of sessions) expect(await closed(session)).toBe(true);
  });
});
