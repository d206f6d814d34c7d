import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { roleUrl } from '../directory/db/provision.js';
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
  /** HMAC key naming accounts in the security log (SECURITY_LOG_KEY). */
  securityLogKey: string;
  /** The directory's master key (DIRECTORY_MASTER_KEYS, id `local`), base64. */
  directoryMasterKey: string;
  /** The e-mail blind index key (EMAIL_INDEX_KEY), base64. */
  emailIndexKey: string;
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
    securityLogKey: randomBytes(32).toString('base64url'),
    directoryMasterKey: randomBytes(32).toString('base64'),
    emailIndexKey: randomBytes(32).toString('base64'),
  };
}

/** Secrets for a data folder, created once (mode 0600) so a restart keeps its credentials. */
export async function loadOrCreateSecrets(file: string): Promise<PlatformSecrets> {
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as Partial<PlatformSecrets>;
    // A data folder from before a secret existed gets the missing ones generated and kept.
    const missing = Object.entries(generateSecrets()).filter(([key]) => !(key in stored));
    if (missing.length === 0) return stored as PlatformSecrets;
    const completed = { ...stored, ...Object.fromEntries(missing) } as PlatformSecrets;
    await writeFile(file, JSON.stringify(completed, null, 2), { mode: 0o600 });
    return completed;
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
    JOBS_DATABASE_URL: roleUrl(
      adminUrl,
      placement.database,
      'telemoat_jobs',
      secrets.jobsDatabasePassword,
    ),
    INFLUX_URL: servers.influxUrl,
    INFLUX_DATABASE: placement.influxDatabase,
    INFLUX_ADMIN_USER: servers.influxAdminUser,
    INFLUX_ADMIN_PASSWORD: servers.influxAdminPassword,
    INFLUX_INGEST_PASSWORD: secrets.influxIngestPassword,
    INFLUX_API_PASSWORD: secrets.influxApiPassword,
    JWT_PRIVATE_KEY: secrets.jwtPrivateKey,
    SECURITY_LOG_KEY: secrets.securityLogKey,
    DIRECTORY_MASTER_KEYS: `local:${secrets.directoryMasterKey}`,
    DIRECTORY_ACTIVE_KEY_ID: 'local',
    EMAIL_INDEX_KEY: secrets.emailIndexKey,
    // The local platform and the tests speak plain HTTP on 127.0.0.1.
    AUTH_COOKIE_SECURE: 'false',
    SPOOL_DIR: placement.spoolDir,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(placement.mqttPort),
    ...(placement.wsPort === undefined ? {} : { MQTT_WS_PORT: String(placement.wsPort) }),
    ...(placement.metricsPort === undefined ? {} : { METRICS_PORT: String(placement.metricsPort) }),
    API_HOST: '127.0.0.1',
    API_PORT: String(placement.apiPort),
    // Links in e-mails; with a port chosen by the OS (0) the schema default stands.
    ...(placement.apiPort === 0 ? {} : { PUBLIC_URL: `http://127.0.0.1:${placement.apiPort}` }),
    // The broker address in the example command shown with a new device secret.
    ...(placement.mqttPort === 0
      ? {}
      : { MQTT_PUBLIC_URL: `mqtt://127.0.0.1:${placement.mqttPort}` }),
  };
}
