import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiConfigSchema } from '../../api/api.config.js';
import { startApi } from '../../bin/api.js';
import { generateSecrets, platformEnv } from '../../bin/platform-env.js';
import { runSetup } from '../../bin/setup.js';
import { setupConfigSchema } from '../../bin/setup.config.js';
import { loadConfig } from '../../common/config.js';
import { createLogger } from '../../common/logger.js';
import { hashSecret } from '../../common/secret-hash.js';
import { directoryCryptoFrom } from '../../directory/crypto/crypto.config.js';
import { DevicesRepository } from '../../directory/devices/devices.repository.js';
import { OrganisationsRepository } from '../../directory/organisations/organisations.repository.js';
import { UsersRepository } from '../../directory/accounts/users.repository.js';
import pg from 'pg';
import {
  startInflux,
  startPostgres,
  type LocalInflux,
  type LocalPostgres,
} from '../../servers/local-servers.js';
import { eventually } from '../support/mqtt-device.js';

/**
 * The API against Postgres and InfluxDB servers of its own, so that this file can stop them:
 * while a store is down the API answers 503 SERVICE_UNAVAILABLE in the error format (never a
 * stack trace, never a hang), and it recovers by itself once the store is back.
 */
describe('store outages: 503 while a store is down, recovery without a restart', () => {
  let root: string;
  let postgres: LocalPostgres;
  let influx: LocalInflux;
  let api: Awaited<ReturnType<typeof startApi>>;
  let apiUrl: string;
  let token: string;
  let orgId: string;
  let deviceId: string;
  const logger = createLogger({ name: 'test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'telemoat-outage-'));
    await chmod(root, 0o755);
    [postgres, influx] = await Promise.all([
      startPostgres({ dataDir: path.join(root, 'postgres') }),
      startInflux({ dataDir: path.join(root, 'influx') }),
    ]);
    const env = platformEnv(
      {
        postgresAdminUrl: postgres.url,
        influxUrl: influx.url,
        influxAdminUser: influx.adminUser,
        influxAdminPassword: influx.adminPassword,
      },
      generateSecrets(),
      {
        database: 'telemoat',
        influxDatabase: 'telemoat',
        spoolDir: path.join(root, 'spool'),
        mqttPort: 0,
        apiPort: 0,
      },
    );
    env.LOG_LEVEL = 'silent';
    await runSetup(loadConfig('setup', setupConfigSchema, env), logger);
    const config = loadConfig('api', apiConfigSchema, env);
    api = await startApi(config, logger);
    apiUrl = `http://127.0.0.1:${api.port}`;

    const pool = new pg.Pool({ connectionString: env.API_DATABASE_URL, max: 1 });
    try {
      const crypto = directoryCryptoFrom(config);
      const org = await new OrganisationsRepository(pool, crypto).create('Outage Farm');
      orgId = org.id;
      const password = `pw-${randomBytes(8).toString('hex')}`;
      const email = `outage-${randomBytes(4).toString('hex')}@example.test`;
      const userId = await new UsersRepository(pool, crypto).create({
        email,
        displayName: 'Outage Tester',
        passwordHash: await hashSecret(password),
        verified: true,
      });
      await new OrganisationsRepository(pool, crypto).addMember(orgId, userId, 'viewer');
      deviceId = (await new DevicesRepository(pool).provision(orgId, 'Probe')).device.id;
      const login = await call('POST', '/api/v1/auth/login', { email, password });
      expect(login.status).toBe(200);
      token = (login.body as { accessToken: string }).accessToken;
    } finally {
      await pool.end();
    }
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    await Promise.all([postgres?.stop(), influx?.stop()]);
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** Answers within the client's 20 s at most: the API's own waits are bounded below that. */
  async function call(method: string, route: string, body?: unknown) {
    const response = await fetch(`${apiUrl}${route}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as unknown) : undefined,
      text,
    };
  }

  const readings = () => call('GET', `/api/v1/orgs/${orgId}/devices/${deviceId}/readings`);

  function expectUnavailable(answer: Awaited<ReturnType<typeof call>>) {
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(answer.text).not.toMatch(/at .*\.(ts|js):\d+|ECONNREFUSED|stack/i);
  }

  it('answers normally and is ready while both stores are up', async () => {
    expect((await readings()).status).toBe(200);
    expect((await call('GET', '/api/v1/me')).status).toBe(200);
    expect(await call('GET', '/readyz')).toMatchObject({
      status: 200,
      body: { status: 'ready', stores: { postgres: 'up', influxdb: 'up' } },
    });
  });

  it('InfluxDB down: readings get 503, /readyz 503, the directory still answers; then recovers', async () => {
    const port = influx.port;
    await influx.stop();
    const answer = await readings();
    expectUnavailable(answer);
    const ready = await call('GET', '/readyz');
    expectUnavailable(ready);
    expect(ready.body).toMatchObject({ details: { stores: { influxdb: 'down', postgres: 'up' } } });
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/api/v1/me')).status).toBe(200);

    influx = await startInflux({ dataDir: path.join(root, 'influx'), port });
    expect(influx.port).toBe(port);
    expect((await eventually(15_000, readings, (a) => a.status === 200)).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
  }, 90_000);

  it('Postgres down: directory routes get 503 rather than hang, /readyz 503; then recovers', async () => {
    const port = postgres.port;
    await postgres.stop();
    for (const answer of [await call('GET', '/api/v1/me'), await readings()]) {
      expectUnavailable(answer);
    }
    const ready = await call('GET', '/readyz');
    expectUnavailable(ready);
    expect(ready.body).toMatchObject({ details: { stores: { postgres: 'down', influxdb: 'up' } } });
    expect((await call('GET', '/healthz')).status).toBe(200);

    postgres = await startPostgres({ dataDir: path.join(root, 'postgres'), port });
    expect(postgres.port).toBe(port);
    const me = () => call('GET', '/api/v1/me');
    expect((await eventually(15_000, me, (a) => a.status === 200)).status).toBe(200);
    expect((await readings()).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
  }, 90_000);

  it('closes gracefully: an idle keep-alive connection does not hold shutdown up', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get(`${apiUrl}/healthz`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
    expect(status).toBe(200);
    // A grace far past the test's timeout: if the idle connection held shutdown up, the test
    // would time out instead of passing, whatever the machine's speed.
    await api.close(600_000);
    agent.destroy();
    await expect(fetch(`${apiUrl}/healthz`)).rejects.toThrow();
    api = { ...api, close: async () => {} };
  });
});
