import pg from 'pg';
import { createDeviceAuthenticator } from '../broker/device-authenticator.js';
import { buildBroker } from '../broker/broker.js';
import type { BrokerConfig } from '../broker/broker.config.js';
import type { Logger } from '../common/logger.js';
import { safeUrl } from '../common/logger.js';
import { verifySecret } from '../common/secret-hash.js';
import { DeviceCredentialsRepository } from '../directory/device-credentials.repository.js';
import { createIngest } from '../ingest/ingest.pipeline.js';
import { InfluxClient } from '../influx/influx.client.js';
import { ReadingsWriter } from '../influx/readings.writer.js';

const DAY_MS = 86_400_000;

/**
 * The broker's composition root. It is the only place that hands the broker a window on the
 * directory, and that window is a repository connected as `telemoat_broker`.
 */
export async function startBroker(config: BrokerConfig, logger: Logger) {
  const log = logger.child({ module: 'broker-main' });
  const pool = new pg.Pool({ connectionString: config.BROKER_DATABASE_URL, max: 4 });
  pool.on('error', (err) => log.warn({ err }, 'idle Postgres connection failed'));
  const influx = new InfluxClient({
    url: config.INFLUX_URL,
    username: config.INFLUX_INGEST_USER,
    password: config.INFLUX_INGEST_PASSWORD,
  });

  const broker = await buildBroker({
    logger,
    authenticateDevice: createDeviceAuthenticator({
      credentials: new DeviceCredentialsRepository(pool),
      verifySecret,
    }),
    ingest: createIngest({
      sink: new ReadingsWriter(influx, config.INFLUX_DATABASE),
      limits: {
        maxPayloadBytes: config.INGEST_MAX_PAYLOAD_BYTES,
        maxReadingsPerMessage: config.INGEST_MAX_READINGS,
        maxFutureMs: config.INGEST_MAX_FUTURE_MS,
        maxAgeMs: config.RAW_RETENTION_DAYS * DAY_MS,
      },
    }),
  });
  const port = await broker.listen(config.MQTT_PORT, config.MQTT_HOST);
  log.info({ port, influx: safeUrl(config.INFLUX_URL) }, 'MQTT broker listening');

  return {
    port,
    async close() {
      await broker.close();
      await pool.end();
    },
  };
}
