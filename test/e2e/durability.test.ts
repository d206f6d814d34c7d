import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiConfigSchema } from '../../api/api.config.js';
import { platformEnv } from '../../bin/platform-env.js';
import { setupConfigSchema } from '../../bin/setup.config.js';
import { runSetup } from '../../bin/setup.js';
import { loadConfig } from '../../common/config.js';
import { createLogger } from '../../common/logger.js';
import { directoryCryptoFrom } from '../../directory/crypto/crypto.config.js';
import { DevicesRepository } from '../../directory/devices/devices.repository.js';
import { OrganisationsRepository } from '../../directory/organisations/organisations.repository.js';
import { rowsOf } from '../../influx/influx.client.js';
import { InfluxClient } from '../../influx/influx.client.js';
import { freePort } from '../../servers/free-port.js';
import { startInflux, type LocalInflux } from '../../servers/local-servers.js';
import { connectDevice, eventually } from '../support/mqtt-device.js';
import { until } from '../support/wait.js';

const MESSAGES = 5000; // half Telemoat JSON, half SenML, two readings each: 10,000 readings
const OUTAGE_MS = 20_000;
/**
 * Deadlines for what a loaded machine may do slowly: a broker process starting (tsx compiles
 * it), the paced publishing reaching a count, and the drain after the outage, whose next
 * retry may be up to the drainer's longest backoff (30 s) away when InfluxDB comes back.
 */
const SLOW_MS = 90_000;

/**
 * The durability promise end to end: InfluxDB stopped for 20 s and the broker killed with
 * SIGKILL once, while one device publishes 10,000 readings at QoS 1. Every acknowledged reading
 * must be in InfluxDB exactly once. This file runs its own InfluxDB and broker process, so
 * stopping them disturbs no other test.
 */
describe('durable acceptance under outages', () => {
  const root = { dir: '' };
  let influx: LocalInflux;
  let env: Record<string, string | undefined>;
  let broker: ChildProcess | undefined;
  let device: { id: string; secret: string; pseudonym: string };
  let admin: InfluxClient;

  async function startBrokerProcess(): Promise<ChildProcess> {
    const log = await open(path.join(root.dir, 'broker.log'), 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/main.ts', 'broker'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', log.fd, log.fd],
    });
    child.once('exit', () => void log.close());
    await until(
      () =>
        fetch(`http://127.0.0.1:${env.METRICS_PORT}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      'the broker answers /healthz',
      SLOW_MS,
    );
    return child;
  }

  beforeAll(async () => {
    root.dir = await mkdtemp(path.join(tmpdir(), 'telemoat-durability-'));
    await chmod(root.dir, 0o755);
    influx = await startInflux({ dataDir: path.join(root.dir, 'influx') });
    const servers = {
      ...inject('servers'),
      influxUrl: influx.url,
      influxAdminUser: influx.adminUser,
      influxAdminPassword: influx.adminPassword,
    };
    const suffix = randomBytes(4).toString('hex');
    env = {
      ...platformEnv(servers, inject('secrets'), {
        database: `telemoat_${suffix}`,
        influxDatabase: 'telemoat',
        spoolDir: path.join(root.dir, 'spool'),
        mqttPort: await freePort(),
        apiPort: 0,
        wsPort: 0,
        metricsPort: await freePort(),
      }),
      LOG_LEVEL: 'warn',
    };
    await runSetup(
      loadConfig('setup', setupConfigSchema, env),
      createLogger({ name: 'test', level: 'warn' }),
    );
    const pool = new pg.Pool({ connectionString: env.API_DATABASE_URL, max: 1 });
    const crypto = directoryCryptoFrom(loadConfig('api', apiConfigSchema, env));
    const org = await new OrganisationsRepository(pool, crypto).create('Durable AB');
    const provisioned = await new DevicesRepository(pool).provision(org.id, 'Logger');
    await pool.end();
    device = {
      id: provisioned.device.id,
      secret: provisioned.secret,
      pseudonym: provisioned.device.pseudonym,
    };
    admin = new InfluxClient({
      url: influx.url,
      username: influx.adminUser,
      password: influx.adminPassword,
    });
    broker = await startBrokerProcess();
  });

  afterAll(async () => {
    broker?.kill('SIGKILL');
    await influx?.stop();
    await rm(root.dir, { recursive: true, force: true });
  });

  it('stores every acknowledged reading exactly once through an InfluxDB outage and a SIGKILL', async () => {
    const client = await connectDevice(`mqtt://127.0.0.1:${env.MQTT_PORT}`, device, {
      reconnectPeriod: 200,
    });
    const base = Date.now() - 120_000;
    const acked = new Set<number>();
    const payloadFor = (i: number) => {
      const ts = base + i * 10;
      return i % 2 === 0
        ? {
            topic: `devices/${device.id}/telemetry`,
            body: JSON.stringify({ ts, readings: { temp: i, ok: i % 3 === 0 } }),
          }
        : {
            topic: `devices/${device.id}/senml`,
            body: JSON.stringify([
              { bt: ts / 1000, n: 'temp', v: i },
              { n: 'ok', vb: i % 3 === 0 },
            ]),
          };
    };

    // Publish at a steady pace with a bounded window, so the run spans the whole outage.
    const publishing = (async () => {
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; i < MESSAGES; i++) {
        const { topic, body } = payloadFor(i);
        const sent: Promise<void> = client
          .publishAsync(topic, body, { qos: 1 })
          .then(() => void acked.add(i))
          .finally(() => inFlight.delete(sent));
        inFlight.add(sent);
        if (inFlight.size >= 50) await Promise.race(inFlight);
        if (i % 25 === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await Promise.all(inFlight);
    })();

    await eventually(
      SLOW_MS,
      () => Promise.resolve(acked.size),
      (n) => n >= 300,
    );
    await influx.stop();
    const outageStarted = Date.now();
    const ackedBeforeKill = await eventually(
      SLOW_MS,
      () => Promise.resolve(acked.size),
      (n) => n >= 1500,
    );
    broker!.kill('SIGKILL');
    await new Promise((resolve) => broker!.once('exit', resolve));
    broker = await startBrokerProcess();
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - outageStarted))),
    );
    influx = await startInflux({ dataDir: path.join(root.dir, 'influx'), port: influx.port });
    await publishing;
    client.end(true);

    expect(ackedBeforeKill).toBeGreaterThanOrEqual(1500);
    expect(acked.size).toBe(MESSAGES);
    const count = async () => {
      const [series] = await admin.query(
        `SELECT count(value) AS numbers, count(flag) AS flags FROM readings WHERE device = '${device.pseudonym}'`,
        { database: 'telemoat' },
      );
      const row = series ? rowsOf(series)[0] : undefined;
      return { numbers: Number(row?.numbers ?? 0), flags: Number(row?.flags ?? 0) };
    };
    const stored = await eventually(
      SLOW_MS,
      count,
      (c) => c.numbers === MESSAGES && c.flags === MESSAGES,
    );
    expect(stored).toEqual({ numbers: MESSAGES, flags: MESSAGES });

    // Exactly once, reading by reading: each acknowledged timestamp holds the value sent with it.
    const rows = (
      await admin.query(
        `SELECT value FROM readings WHERE device = '${device.pseudonym}' AND metric = 'temp'`,
        {
          database: 'telemoat',
        },
      )
    ).flatMap(rowsOf);
    expect(rows).toHaveLength(MESSAGES);
    for (const row of rows) expect(row.time).toBe(base + Number(row.value) * 10);

    // The spool empties once its last segment is confirmed, which may be a moment after the
    // readings became visible, and the device's disconnect is spooled as a presence point too.
    await until(
      async () =>
        /^telemoat_spool_bytes 0$/m.test(
          await (await fetch(`http://127.0.0.1:${env.METRICS_PORT}/metrics`)).text(),
        ),
      'the spool is empty',
    );
  }, 300_000);

  it('shuts down on SIGTERM: stops accepting, drains the spool into InfluxDB, exits 0', async () => {
    const client = await connectDevice(`mqtt://127.0.0.1:${env.MQTT_PORT}`, device);
    const base = Date.now() - 60_000;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        client.publishAsync(
          `devices/${device.id}/telemetry`,
          JSON.stringify({ ts: base + i, readings: { shutdown: i } }),
          { qos: 1 },
        ),
      ),
    );
    const exited = new Promise<number | null>((resolve) => broker!.once('exit', resolve));
    broker!.kill('SIGTERM');
    expect(await exited).toBe(0);
    broker = undefined;
    client.end(true);

    const [series] = await admin.query(
      `SELECT count(value) FROM readings WHERE device = '${device.pseudonym}' AND metric = 'shutdown'`,
      { database: 'telemoat' },
    );
    expect(series ? rowsOf(series)[0]?.count : 0).toBe(200);
    const left = (await readdir(path.join(root.dir, 'spool'))).filter((f) => f !== 'quarantine');
    expect(left).toEqual([]);
    await expect(connectDevice(`mqtt://127.0.0.1:${env.MQTT_PORT}`, device)).rejects.toThrow(
      /ECONNREFUSED/,
    );
  }, 60_000);
});
