import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { apiConfigSchema } from '../../api/api.config.js';
import { passwordCostOf } from '../../bin/identity-deps.js';
import { platformEnv } from '../../bin/platform-env.js';
import type { ApiHooks } from '../../bin/api.js';
import { startPlatform, type Env } from '../../bin/platform.js';
import { loadConfig } from '../../common/config.js';
import { createLogger } from '../../common/logger.js';
import { hashSecret } from '../../common/secret-hash.js';
import { directoryCryptoFrom, type DirectoryCrypto } from '../../directory/crypto/crypto.config.js';
import { DevicesRepository } from '../../directory/devices/devices.repository.js';
import { OrganisationsRepository } from '../../directory/organisations/organisations.repository.js';
import { UsersRepository } from '../../directory/accounts/users.repository.js';
import type { Role } from '../../directory/organisations/roles.js';
import { InfluxClient } from '../../influx/influx.client.js';

export interface TestPlatform {
  env: Env;
  mqttPort: number;
  brokerPorts: { tcp: number; tls?: number; ws?: number; metrics: number };
  broker: Awaited<ReturnType<typeof startPlatform>>['broker'];
  /** The API as started in-process (e.g. its live hub). */
  api: Awaited<ReturnType<typeof startPlatform>>['api'];
  mqttUrl: string;
  apiUrl: string;
  influxAdmin: InfluxClient;
  influxDatabase: string;
  adminPool: pg.Pool;
  /** The directory's keys as the API has them: for repositories in tests. */
  crypto: DirectoryCrypto;
  createMember(
    orgId: string,
    role?: Role,
  ): Promise<{ email: string; password: string; userId: string }>;
  createOrg(name: string): Promise<{ id: string; tenantKey: string }>;
  provisionDevice(
    orgId: string,
    name: string,
  ): Promise<{ id: string; secret: string; pseudonym: string }>;
  login(email: string, password: string): Promise<string>;
  get(path: string, token?: string): Promise<{ status: number; body: unknown }>;
  /** A JSON request with any method, optionally signed in and with extra headers. */
  send(
    method: string,
    path: string,
    body?: unknown,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

/**
 * The whole platform for one test file: its own Postgres database and InfluxDB database and
 * users on the run's shared servers, every component started as in a deployment.
 */
export async function startTestPlatform(
  overrides: Env = {},
  hooks: ApiHooks = {},
): Promise<TestPlatform> {
  const servers = inject('servers');
  const suffix = randomBytes(4).toString('hex');
  const influxDatabase = `telemoat_${suffix}`;
  const spoolDir = await mkdtemp(path.join(tmpdir(), 'telemoat-spool-'));
  const env: Env = {
    ...platformEnv(servers, inject('secrets'), {
      database: `telemoat_${suffix}`,
      influxDatabase,
      spoolDir,
      mqttPort: 0,
      apiPort: 0,
      wsPort: 0,
      metricsPort: 0,
    }),
    // InfluxDB users are server-wide; one pair per file keeps grants from colliding.
    INFLUX_INGEST_USER: `ingest_${suffix}`,
    INFLUX_API_USER: `api_${suffix}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // The cheapest password hashes the configuration allows: the suite hashes and checks
    // thousands. test/integration/directory-sign-in.test.ts covers raising the cost.
    PASSWORD_HASH_LOG2_N: '14',
    ...overrides,
  };
  const logger = createLogger({ name: 'test', level: env.LOG_LEVEL! });
  const platform = await startPlatform(env, logger, hooks);
  const apiPool = new pg.Pool({ connectionString: env.API_DATABASE_URL, max: 2 });
  const adminPool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
  const apiConfig = loadConfig('api', apiConfigSchema, env);
  const crypto = directoryCryptoFrom(apiConfig);
  const users = new UsersRepository(apiPool, crypto);
  const organisations = new OrganisationsRepository(apiPool, crypto);
  const devices = new DevicesRepository(apiPool);
  const apiUrl = `http://127.0.0.1:${platform.apiPort}`;

  async function request(path: string, init: RequestInit = {}) {
    const response = await fetch(`${apiUrl}${path}`, init);
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  return {
    env,
    mqttPort: platform.mqttPort,
    brokerPorts: platform.brokerPorts,
    broker: platform.broker,
    api: platform.api,
    mqttUrl: `mqtt://127.0.0.1:${platform.mqttPort}`,
    apiUrl,
    influxDatabase,
    adminPool,
    crypto,
    influxAdmin: new InfluxClient({
      url: servers.influxUrl,
      username: servers.influxAdminUser,
      password: servers.influxAdminPassword,
    }),
    createOrg: (name) => organisations.create(name),
    async createMember(orgId, role = 'member') {
      const email = `user-${randomBytes(4).toString('hex')}@example.test`;
      const password = `pw-${randomBytes(8).toString('hex')}`;
      const userId = await users.create({
        email,
        displayName: 'Test User',
        passwordHash: await hashSecret(password, passwordCostOf(apiConfig)),
        verified: true,
      });
      await organisations.addMember(orgId, userId, role);
      return { email, password, userId };
    },
    async provisionDevice(orgId, name) {
      const { device, secret } = await devices.provision(orgId, name);
      return { id: device.id, secret, pseudonym: device.pseudonym };
    },
    async login(email, password) {
      const { status, body } = await request('/api/v1/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      });
      if (status !== 200) throw new Error(`login failed with ${status}`);
      return (body as { accessToken: string }).accessToken;
    },
    get: (path, token) =>
      request(path, token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    send: (method, path, body, options = {}) =>
      request(path, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...options.headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    async close() {
      await platform.close();
      await Promise.all([apiPool.end(), adminPool.end()]);
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
}
