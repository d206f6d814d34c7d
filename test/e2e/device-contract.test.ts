import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf } from '../../influx/influx.client.js';
import { closed, connectDevice, eventually } from '../support/mqtt-device.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const run = promisify(execFile);

describe('device contract over real MQTT connections', () => {
  let platform: TestPlatform;
  let certDir: string;
  let orgId: string;
  let device: { id: string; secret: string; pseudonym: string };
  let other: { id: string; secret: string; pseudonym: string };
  const clients: MqttClient[] = [];

  async function connect(d = device, url = platform.mqttUrl, options = {}) {
    const client = await connectDevice(url, d, options);
    clients.push(client);
    return client;
  }

  const influx = (q: string) =>
    platform.influxAdmin.query(q, { database: platform.influxDatabase });

  async function storedReadings(pseudonym: string) {
    const series = await influx(`SELECT * FROM readings WHERE device = '${pseudonym}'`);
    return series.flatMap(rowsOf);
  }

  beforeAll(async () => {
    certDir = await mkdtemp(path.join(tmpdir(), 'telemoat-tls-'));
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      path.join(certDir, 'key.pem'),
      '-out',
      path.join(certDir, 'cert.pem'),
    ]);
    platform = await startTestPlatform({
      MQTT_TLS_PORT: '0',
      MQTT_TLS_CERT_FILE: path.join(certDir, 'cert.pem'),
      MQTT_TLS_KEY_FILE: path.join(certDir, 'key.pem'),
      DEVICE_REVALIDATE_MS: '300',
      INGEST_MAX_PAYLOAD_BYTES: '4096',
      INGEST_MAX_READINGS: '50',
    });
    orgId = (await platform.createOrg('Contract Testers')).id;
    device = await platform.provisionDevice(orgId, 'Sensor A');
    other = await platform.provisionDevice(orgId, 'Sensor B');
  });

  afterAll(async () => {
    clients.forEach((c) => c.end(true));
    await platform?.close();
    await rm(certDir, { recursive: true, force: true });
  });

  it('accepts Telemoat JSON over TCP, TLS and WebSocket', async () => {
    const ts = Date.now() - 10_000;
    const tcp = await connect();
    await tcp.publishAsync(
      `devices/${device.id}/telemetry`,
      JSON.stringify({ ts, readings: { t_tcp: 1 } }),
      { qos: 1 },
    );
    tcp.end(true);
    const ca = await readFile(path.join(certDir, 'cert.pem'));
    const tls = await connect(device, `mqtts://127.0.0.1:${platform.brokerPorts.tls}`, {
      ca,
      servername: 'localhost',
    });
    await tls.publishAsync(
      `devices/${device.id}/telemetry`,
      JSON.stringify({ ts, readings: { t_tls: 2 } }),
      { qos: 1 },
    );
    tls.end(true);
    const ws = await connect(device, `ws://127.0.0.1:${platform.brokerPorts.ws}/mqtt`);
    await ws.publishAsync(
      `devices/${device.id}/telemetry`,
      JSON.stringify({ ts, readings: { t_ws: 3 } }),
      { qos: 1 },
    );
    ws.end(true);
    const rows = await eventually(
      2000,
      () => storedReadings(device.pseudonym),
      (r) => r.length >= 3,
    );
    expect(rows.map((r) => [r.metric, r.value]).sort()).toEqual([
      ['t_tcp', 1],
      ['t_tls', 2],
      ['t_ws', 3],
    ]);
  });

  it('accepts SenML (RFC 8428) on devices/{id}/senml', async () => {
    const client = await connect();
    const bt = Math.floor(Date.now() / 1000) - 60;
    const pack = [
      { bn: 'senml_', bt, n: 'temp', u: 'Cel', v: 22.5 },
      { n: 'open', vb: true, t: 1 },
    ];
    await client.publishAsync(`devices/${device.id}/senml`, JSON.stringify(pack), { qos: 1 });
    const rows = await eventually(
      2000,
      () => storedReadings(device.pseudonym),
      (r) => r.some((row) => row.metric === 'senml_open'),
    );
    const senml = rows.filter((r) => String(r.metric).startsWith('senml_'));
    expect(senml.map((r) => [r.metric, r.value ?? r.flag, r.time]).sort()).toEqual([
      ['senml_open', true, (bt + 1) * 1000],
      ['senml_temp', 22.5, bt * 1000],
    ]);
  });

  it('refuses a client id that is not the device id', async () => {
    await expect(
      connectDevice(platform.mqttUrl, device, { clientId: other.id }),
    ).rejects.toMatchObject({ code: 5 });
  });

  it("refuses another device's secret", async () => {
    await expect(
      connectDevice(platform.mqttUrl, { id: device.id, secret: other.secret }),
    ).rejects.toMatchObject({ code: 5 });
  });

  it('refuses at CONNECT a will on a topic the device may not publish to (MQTT-3.1.2-8)', async () => {
    const ts = Date.now() - 5_000;
    const payload = Buffer.from(JSON.stringify({ ts, readings: { will_gone: true } }));
    const will = (topic: string) => ({ will: { topic, payload, qos: 1 as const, retain: false } });
    await expect(
      connectDevice(platform.mqttUrl, device, will(`devices/${other.id}/telemetry`)),
    ).rejects.toMatchObject({ code: 5 });
    await expect(
      connectDevice(platform.mqttUrl, device, will('$SYS/broker/uptime')),
    ).rejects.toMatchObject({ code: 5 });
    // A will on its own topic is accepted, and published like any reading when the connection
    // ends without a DISCONNECT.
    const client = await connect(device, platform.mqttUrl, will(`devices/${device.id}/telemetry`));
    client.stream.destroy();
    const rows = await eventually(
      2000,
      () => storedReadings(device.pseudonym),
      (r) => r.some((row) => row.metric === 'will_gone'),
    );
    expect(rows.filter((r) => r.metric === 'will_gone')).toMatchObject([{ flag: true, time: ts }]);
  });

  it('closes the connection on a publish to a foreign topic, and stores nothing', async () => {
    const client = await connect();
    client.publish(`devices/${other.id}/telemetry`, JSON.stringify({ readings: { stolen: 1 } }), {
      qos: 1,
    });
    expect(await closed(client)).toBe(true);
    const client2 = await connect();
    client2.publish('$SYS/broker/uptime', '1', { qos: 1 });
    expect(await closed(client2)).toBe(true);
  });

  it('answers 0x80 to subscriptions outside devices/{id}/, and grants its own', async () => {
    const client = await connect();
    const filters = ['#', 'devices/+/telemetry', `devices/${other.id}/#`, `devices/${device.id}/#`];
    // mqtt.js reports any 0x80 as an error; the SUBACK itself carries the per-filter codes.
    const granted = await new Promise<number[]>((resolve) => {
      client.subscribe(filters, { qos: 1 }, (_err, _grants, packet) =>
        resolve(packet?.granted as number[]),
      );
    });
    expect(granted).toEqual([128, 128, 128, 1]);
    expect(client.connected).toBe(true);
  });

  it('lets a second connection with the same id take over the first (MQTT-3.1.4-2)', async () => {
    const first = await connect();
    const second = await connect();
    expect(await closed(first)).toBe(true);
    expect(second.connected).toBe(true);
  });

  const badPayloads: [string, string][] = [
    ['oversized', JSON.stringify({ readings: { big: 1 }, pad: 'x'.repeat(5000) })],
    ['bad JSON', '{"readings": {"t": 1'],
    ['NaN', '{"readings": {"t": NaN}}'],
    ['a string value', JSON.stringify({ readings: { note: 'hello' } })],
    ['a future timestamp', JSON.stringify({ ts: Date.now() + 3_600_000, readings: { t: 1 } })],
    ['an unknown field', JSON.stringify({ readings: { t: 1 }, location: 'Stockholm' })],
    [
      'too many readings',
      JSON.stringify({
        readings: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`m${i}`, i])),
      }),
    ],
    [
      'a newline in a metric',
      JSON.stringify({ readings: { 'evil\nreadings,device=x value=1': 1 } }),
    ],
    ['a comma in a metric', JSON.stringify({ readings: { 'evil,tenant=x': 1 } })],
    ['a space in a metric', JSON.stringify({ readings: { 'evil value=1': 1 } })],
    ['a quote in a metric', JSON.stringify({ readings: { 'evil"': 1 } })],
    ['an equals sign in a metric', JSON.stringify({ readings: { 'evil=1': 1 } })],
    ['a trailing backslash in a metric', JSON.stringify({ readings: { 'evil\\': 1 } })],
    ['InfluxQL in a metric', JSON.stringify({ readings: { "x'; DROP DATABASE telemoat; --": 1 } })],
    ['a SenML string value', JSON.stringify([{ n: 'note', vs: 'hello' }])],
    // Keys JavaScript objects treat specially: zod's records used to skip them silently.
    ['a __proto__ reading', '{"readings":{"__proto__":"not a number","other":3}}'],
    ['an escaped __proto__ reading', '{"readings":{"\\u005f_proto__":1,"other":3}}'],
    ['a constructor reading', '{"readings":{"constructor":1,"other":3}}'],
    ['a SenML __proto__ field', '[{"n":"other","v":3,"__proto__":{"v":2}}]'],
    [
      'a SenML name with a colon',
      JSON.stringify([{ bn: 'urn:dev:mac:0024befffe804ff1:', n: 'temp', v: 1 }]),
    ],
  ];

  it.each(badPayloads)(
    'P2: refuses %s whole and adds nothing to InfluxDB',
    async (_name, payload) => {
      const before = await storedReadings(other.pseudonym);
      const client = await connect(other);
      const topic = payload.startsWith('[')
        ? `devices/${other.id}/senml`
        : `devices/${other.id}/telemetry`;
      // The message is acknowledged (re-sending it could not fix it) but never stored.
      await client.publishAsync(topic, payload, { qos: 1 });
      // A good message sent after it proves the pipeline has processed the bad one.
      const marker = Date.now();
      await client.publishAsync(
        `devices/${other.id}/telemetry`,
        JSON.stringify({ ts: marker, readings: { marker: 1 } }),
        { qos: 1 },
      );
      const after = await eventually(
        2000,
        () => storedReadings(other.pseudonym),
        (r) => r.some((row) => row.time === marker),
      );
      expect(after.length).toBe(before.length + 1);
      client.end(true);
    },
  );

  it('P2: InfluxDB shows nothing any refused message could have added', async () => {
    const measurements = (await influx('SHOW MEASUREMENTS')).flatMap(rowsOf).map((r) => r.name);
    // The rollup measurements appear once the continuous queries have run.
    for (const name of measurements) {
      expect(['presence', 'readings', 'readings_1m', 'readings_1h']).toContain(name);
    }
    const metrics = (await influx('SHOW TAG VALUES FROM readings WITH KEY = "metric"'))
      .flatMap(rowsOf)
      .map((r) => String(r.value));
    for (const metric of metrics) expect(metric).toMatch(/^[a-z][a-z0-9_]{0,63}$/);
    expect(metrics).not.toContain('note');
    expect(metrics).not.toContain('stolen');
    const tagKeys = (await influx('SHOW TAG KEYS')).flatMap(rowsOf).map((r) => r.tagKey);
    expect([...new Set(tagKeys)].sort()).toEqual(['device', 'metric', 'tenant']);
  });

  it('P2: records presence with pseudonyms only, never an address', async () => {
    const rows = await eventually(
      2000,
      async () =>
        (await influx(`SELECT * FROM presence WHERE device = '${device.pseudonym}'`)).flatMap(
          rowsOf,
        ),
      (r) => r.some((row) => row.connected === false),
    );
    expect(rows.some((r) => r.connected === true)).toBe(true);
    expect(Object.keys(rows[0]!).sort()).toEqual(['connected', 'device', 'tenant', 'time']);
    expect(JSON.stringify(rows)).not.toContain('127.0.0.1');
  });

  it('disconnects a device within seconds of it being disabled, and refuses it afterwards', async () => {
    const victim = await platform.provisionDevice(orgId, 'Soon disabled');
    const client = await connect(victim);
    await platform.adminPool.query(`UPDATE devices SET status = 'disabled' WHERE id = $1`, [
      victim.id,
    ]);
    expect(await closed(client, 3000)).toBe(true);
    await expect(connectDevice(platform.mqttUrl, victim)).rejects.toMatchObject({ code: 5 });
  });

  it('serves Prometheus metrics for connections, messages, refusals and the spool', async () => {
    const text = await (
      await fetch(`http://127.0.0.1:${platform.brokerPorts.metrics}/metrics`)
    ).text();
    expect(text).toMatch(/^telemoat_mqtt_connections \d+$/m);
    expect(text).toMatch(/^telemoat_messages_accepted_total\{format="senml"\} [1-9]/m);
    expect(text).toMatch(/^telemoat_messages_rejected_total\{reason="bad_shape"\} [1-9]/m);
    expect(text).toMatch(/^telemoat_messages_rejected_total\{reason="payload_too_large"\} 1$/m);
    const rejected = [
      ...text.matchAll(/^telemoat_messages_rejected_total\{reason="\w+"\} (\d+)$/gm),
    ];
    expect(rejected.reduce((sum, [, n]) => sum + Number(n), 0)).toBe(badPayloads.length);
    expect(text).toMatch(/^telemoat_forbidden_total\{kind="subscribe"\} 3$/m);
    expect(text).toMatch(/^telemoat_forbidden_total\{kind="publish"\} 2$/m);
    expect(text).toMatch(/^telemoat_forbidden_total\{kind="will"\} 2$/m);
    expect(text).toMatch(/^telemoat_mqtt_connects_total\{outcome="bad-secret"\} [1-9]/m);
    expect(text).toMatch(/^telemoat_mqtt_connects_total\{outcome="forbidden-will"\} 2$/m);
    expect(text).toMatch(/^telemoat_spool_bytes \d+$/m);
    expect(text).toMatch(/^telemoat_influx_write_seconds_count\{outcome="ok"\} [1-9]/m);
  });

  it('P2: names no device in its metrics, which Prometheus would keep after the device is gone', async () => {
    const text = await (
      await fetch(`http://127.0.0.1:${platform.brokerPorts.metrics}/metrics`)
    ).text();
    expect(text).not.toMatch(/device_id|client_id|address/);
    for (const d of [device, other]) {
      expect(text).not.toContain(d.id);
      expect(text).not.toContain(d.pseudonym);
    }
  });
});
