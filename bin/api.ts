import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { buildApi } from '../api/app.js';
import type { ApiConfig } from '../api/api.config.js';
import { closeServer, listen } from '../common/listen.js';
import type { Logger } from '../common/logger.js';
import { hashSecret, verifySecret } from '../common/secret-hash.js';
import { DevicesRepository } from '../directory/devices.repository.js';
import { InfluxClient } from '../influx/influx.client.js';
import { ReadingsReader } from '../influx/readings.reader.js';
import { newDeviceSecret } from '../common/ids.js';
import { authDeps } from './auth-deps.js';
import { identityDeps } from './identity-deps.js';

const dashboardDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dashboard');

/** The API's composition root: the one process that holds both a directory and an InfluxDB client. */
export async function startApi(config: ApiConfig, logger: Logger) {
  const log = logger.child({ module: 'api-main' });
  const pool = new pg.Pool({ connectionString: config.API_DATABASE_URL, max: 10 });
  pool.on('error', (err) => log.warn({ err }, 'idle Postgres connection failed'));
  const influx = new InfluxClient({
    url: config.INFLUX_URL,
    username: config.INFLUX_API_USER,
    password: config.INFLUX_API_PASSWORD,
  });

  const identity = identityDeps(pool, config);
  const app = buildApi({
    logger,
    ...identity,
    devices: new DevicesRepository(pool),
    readings: new ReadingsReader(influx, config.INFLUX_DATABASE),
    ...authDeps(pool, config),
    verifyPassword: verifySecret,
    decoyHash: await hashSecret(newDeviceSecret()),
    dashboardDir,
  });

  const server = createServer(app);
  const port = await listen(server, config.API_PORT, config.API_HOST);
  log.info({ port }, 'API listening');

  return {
    port,
    async close() {
      const closed = closeServer(server);
      server.closeIdleConnections();
      await closed;
      identity.closeMailer();
      await pool.end();
    },
  };
}
