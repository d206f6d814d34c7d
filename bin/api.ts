import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApi } from '../api/app.js';
import { ExportService } from '../api/export/export.service.js';
import { LiveHub } from '../api/live/live-hub.js';
import { ReadingsService } from '../api/readings/readings.service.js';
import type { ApiConfig } from '../api/api.config.js';
import { closeServer, listen } from '../common/listen.js';
import { idleConnectionFailure, type Logger } from '../common/logger.js';
import { createDirectoryPool } from '../directory/db/pool.js';
import { directoryCryptoFrom } from '../directory/crypto/crypto.config.js';
import { DevicesRepository } from '../directory/devices/devices.repository.js';
import { DevicesService } from '../directory/devices/devices.service.js';
import { MembersService } from '../directory/organisations/members.service.js';
import { MetricUnitsRepository } from '../directory/organisations/metric-units.repository.js';
import { MetricUnitsService } from '../directory/organisations/metric-units.service.js';
import { InfluxClient } from '../influx/influx.client.js';
import { createInfluxTelemetry } from '../influx/tenant-telemetry.js';
import { authDeps, passwordChecks } from './auth-deps.js';
import { identityDeps } from './identity-deps.js';

/** The built dashboard (`npm run build`). */
const dashboardDir = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'dashboard',
  'dist',
);

/** What a test may replace in a running API: its clock, which throttles and caches read. */
export interface ApiHooks {
  now?: () => number;
}

/** The API's composition root: the one process that holds both a directory and an InfluxDB client. */
export async function startApi(config: ApiConfig, logger: Logger, hooks: ApiHooks = {}) {
  const log = logger.child({ module: 'api-main' });
  // Bounded waits: with Postgres down a request fails fast with 503 instead of hanging.
  const pool = createDirectoryPool({
    connectionString: config.API_DATABASE_URL,
    max: 10,
    connectionTimeoutMillis: 3000,
    query_timeout: 15_000,
  });
  pool.on('error', idleConnectionFailure(log));
  const influx = new InfluxClient(
    {
      url: config.INFLUX_URL,
      username: config.INFLUX_API_USER,
      password: config.INFLUX_API_PASSWORD,
    },
    5000,
  );

  const checks = passwordChecks(pool, config, hooks.now);
  const auth = await authDeps(pool, config, checks, logger, hooks.now);
  const identity = identityDeps(pool, config, {
    passwords: checks.passwords,
    sessions: auth.sessions,
    ...(hooks.now ? { now: hooks.now } : {}),
  });
  const devices = new DevicesRepository(pool);
  // Every read of telemetry goes through this port, one tenant at a time.
  const telemetry = createInfluxTelemetry({
    client: influx,
    database: config.INFLUX_DATABASE,
    rawRetentionDays: config.RAW_RETENTION_DAYS,
  });
  // One poller per organisation with live subscribers (api/live/live-hub.ts).
  const live = new LiveHub({ telemetry, devices, logger });
  const app = buildApi({
    logger,
    ...identity,
    devicesService: new DevicesService(pool),
    readingsService: new ReadingsService({
      devices,
      metricUnits: new MetricUnitsRepository(pool),
      telemetry,
    }),
    exportService: new ExportService({ devices, telemetry }),
    metricUnitsService: new MetricUnitsService(pool),
    live,
    mqttPublicUrl: config.MQTT_PUBLIC_URL,
    membersService: new MembersService(pool, directoryCryptoFrom(config)),
    ...auth,
    dashboardDir,
    readiness: {
      postgres: () => pool.query('SELECT 1'),
      influxdb: async () => {
        if (!(await influx.ping())) throw new Error('InfluxDB did not answer /ping');
      },
    },
    rateLimits: {
      perIpPerMinute: config.RATE_LIMIT_PER_IP_PER_MINUTE,
      perUserPerMinute: config.RATE_LIMIT_PER_USER_PER_MINUTE,
    },
    https: new URL(config.PUBLIC_URL).protocol === 'https:',
    streamLimits: {
      recheckMs: config.STREAM_RECHECK_MS,
      perUser: config.LIVE_STREAMS_PER_USER,
      perIp: config.LIVE_STREAMS_PER_IP,
    },
    // Open streams re-check their tokens on the clock the token service reads.
    ...(hooks.now ? { now: hooks.now } : {}),
  });

  const server = createServer(app);
  const port = await listen(server, config.API_PORT, config.API_HOST);
  log.info({ port }, 'API listening');

  return {
    port,
    /** The live stream's hub: how many organisations it polls, for tests. */
    live,
    /**
     * Graceful: stops accepting, lets requests in flight finish (at most `graceMs`), ends
     * keep-alive connections as soon as they are idle, then cuts whatever is left (live streams).
     */
    async close(graceMs = 10_000) {
      // Live streams never end by themselves: end them first, so they need no grace period.
      live.close();
      const closed = closeServer(server);
      server.closeIdleConnections();
      const idleSweep = setInterval(() => server.closeIdleConnections(), 100);
      const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
      try {
        await closed;
      } finally {
        clearInterval(idleSweep);
        clearTimeout(deadline);
      }
      identity.closeMailer();
      await pool.end();
    },
  };
}
