import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { roleUrl } from '../directory/provision.js';
import type { Env } from './platform.js';

/** Where the servers are, as the local-servers module or the environment reports them. */
export interface ServerEndpoints {
  postgresAdminUrl: string;
  influxUrl: string;
  influxAdminUser: string;
  influxAdminPassword: string;
}

/** Credentials each component gets for itself; generated per data folder or test run. */
export interface PlatformSecrets {
  apiDatabasePassword: string;
  brokerDatabasePassword: string;
  jobsDatabasePassword: string;
  influxIngestPassword: string;
  influxApiPassword: string;
  jwtPrivateKey: string;
}

export interface PlatformPlacement {
  database: string;
  influxDatabase: string;
  spoolDir: string;
  mqttPort: number;
  apiPort: number;
  /** MQTT over WebSocket and the metrics port; the schema defaults when not given. */
  wsPort?: number;
  metricsPort?: number;
}

const password = () => randomBytes(18).toString('base64url');

export function generateSecrets(): PlatformSecrets {
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    apiDatabasePassword: password(),
    brokerDatabasePassword: password(),
    jobsDatabasePassword: password(),
    influxIngestPassword: password(),
    influxApiPassword: password(),
    jwtPrivateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Secrets for a data folder, created once (mode 0600) so a restart keeps its credentials. */
export async function loadOrCreateSecrets(file: string): Promise<PlatformSecrets> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as PlatformSecrets;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secrets = generateSecrets();
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** The environment every component would get in a deployment, built for one machine. */
export function platformEnv(
  servers: ServerEndpoints,
  secrets: PlatformSecrets,
  placement: PlatformPlacement,
): Env {
  const databaseUrl = new URL(servers.postgresAdminUrl);
  databaseUrl.pathname = `/${placement.database}`;
  const adminUrl = databaseUrl.toString();
  return {
    DATABASE_URL: adminUrl,
    API_DATABASE_PASSWORD: secrets.apiDatabasePassword,
    BROKER_DATABASE_PASSWORD: secrets.brokerDatabasePassword,
    JOBS_DATABASE_PASSWORD: secrets.jobsDatabasePassword,
    API_DATABASE_URL: roleUrl(
      adminUrl,
      placement.database,
      'telemoat_api',
      secrets.apiDatabasePassword,
    ),
    BROKER_DATABASE_URL: roleUrl(
      adminUrl,
      placement.database,
      'telemoat_broker',
      secrets.brokerDatabasePassword,
    ),
    INFLUX_URL: servers.influxUrl,
    INFLUX_DATABASE: placement.influxDatabase,
    INFLUX_ADMIN_USER: servers.influxAdminUser,
    INFLUX_ADMIN_PASSWORD: servers.influxAdminPassword,
    INFLUX_INGEST_PASSWORD: secrets.influxIngestPassword,
    INFLUX_API_PASSWORD: secrets.influxApiPassword,
    JWT_PRIVATE_KEY: secrets.jwtPrivateKey,
    SPOOL_DIR: placement.spoolDir,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(placement.mqttPort),
    ...(placement.wsPort === undefined ? {} : { MQTT_WS_PORT: String(placement.wsPort) }),
    ...(placement.metricsPort === undefined ? {} : { METRICS_PORT: String(placement.metricsPort) }),
    API_HOST: '127.0.0.1',
    API_PORT: String(placement.apiPort),
  };
}
