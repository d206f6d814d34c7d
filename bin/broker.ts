import path from 'node:path';
import pg from 'pg';
import { buildBroker } from '../broker/broker.js';
import type { BrokerConfig } from '../broker/broker.config.js';
import { createBrokerMetrics } from '../broker/broker.metrics.js';
import { createConnectThrottle } from '../broker/connect-throttle.js';
import { createDeviceAuthenticator } from '../broker/device-authenticator.js';
import { listenForDeviceChanges } from '../broker/device-changes.js';
import { createIngestWindow } from '../broker/ingest-window.js';
import { startListeners } from '../broker/listeners.js';
import { startMetricsServer } from '../broker/metrics.server.js';
import { idleConnectionFailure, safeUrl, type Logger } from '../common/logger.js';
import { verifySecret } from '../common/secret-hash.js';
import {
  DEVICE_CHANGES_CHANNEL,
  DeviceCredentialsRepository,
  readDeviceChange,
} from '../directory/devices/device-credentials.repository.js';
import { createIngest } from '../ingest/ingest.pipeline.js';
import { Spool } from '../ingest/spool/spool.js';
import { startDrainer } from '../ingest/spool/spool-drainer.js';
import { SpoolSink } from '../ingest/spool/spool.sink.js';
import { InfluxClient, InfluxError } from '../influx/influx.client.js';
import { toPresenceLine } from '../influx/line-protocol.js';
import { DAY_MS } from '../common/time.js';

/** How long shutdown waits for the spool to drain before leaving the rest for the next start. */
const SHUTDOWN_FLUSH_MS = 10_000;
/** How often the connection that listens for device changes is checked. */
const LISTEN_HEARTBEAT_MS = 30_000;

/**
 * The broker's composition root. It is the only place that hands the broker a window on the
 * directory, and that window is a repository connected as `telemoat_broker`.
 */
export async function startBroker(config: BrokerConfig, logger: Logger) {
  const log = logger.child({ module: 'broker-main' });
  const timeoutMs = config.BROKER_DATABASE_TIMEOUT_MS;
  // Without timeouts a stalled Postgres holds every lookup, and every CONNECT behind it, for as
  // long as it stalls. The server ends a slow statement (statement_timeout, lock waits included);
  // the client gives up later on a server that stopped answering at all (query_timeout).
  const connection = {
    connectionString: config.BROKER_DATABASE_URL,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: 2 * timeoutMs,
  };
  const pool = new pg.Pool({ ...connection, max: 4, statement_timeout: timeoutMs });
  pool.on('error', idleConnectionFailure(log));
  const influx = new InfluxClient({
    url: config.INFLUX_URL,
    username: config.INFLUX_INGEST_USER,
    password: config.INFLUX_INGEST_PASSWORD,
  });

  const spool = await Spool.open({
    dir: path.resolve(config.SPOOL_DIR),
    maxBytes: config.SPOOL_MAX_BYTES,
  });
  const window = createIngestWindow(config.INGEST_MAX_IN_FLIGHT);
  const metrics = createBrokerMetrics(() => spool.stats(), window);
  const drainer = startDrainer({
    spool,
    write: (lines) => influx.write(config.INFLUX_DATABASE, lines, { gzip: true }),
    batchLines: config.INFLUX_WRITE_BATCH_LINES,
    concurrency: config.INFLUX_WRITE_CONCURRENCY,
    log: logger.child({ module: 'spool-drainer' }),
    onBatch: ({ ms, ok, error }) => {
      metrics.influxWriteSeconds.observe({ outcome: ok ? 'ok' : 'error' }, ms / 1000);
      if (!ok) {
        const retryable = error instanceof InfluxError ? error.retryable : true;
        metrics.influxWriteErrors.inc({ retryable: String(retryable) });
      }
    },
  });

  const authenticator = createDeviceAuthenticator({
    credentials: new DeviceCredentialsRepository(pool),
    verifySecret,
    freshMs: config.AUTH_CACHE_FRESH_MS,
    staleMs: config.AUTH_CACHE_STALE_MS,
    negativeTtlMs: config.AUTH_NEGATIVE_CACHE_MS,
    maxLookups: config.AUTH_MAX_LOOKUPS_IN_FLIGHT,
    throttle: createConnectThrottle({
      failuresPerMinute: config.MQTT_CONNECT_FAILURES_PER_MINUTE,
    }),
  });
  const broker = await buildBroker({
    logger,
    metrics,
    window,
    revalidateEveryMs: config.DEVICE_REVALIDATE_MS,
    authenticator,
    ingest: createIngest({
      sink: new SpoolSink(spool),
      limits: {
        maxPayloadBytes: config.INGEST_MAX_PAYLOAD_BYTES,
        maxReadingsPerMessage: config.INGEST_MAX_READINGS,
        maxFutureMs: config.INGEST_MAX_FUTURE_MS,
        maxAgeMs: config.RAW_RETENTION_DAYS * DAY_MS,
      },
    }),
    recordPresence: (identity, connected) =>
      spool.append(
        toPresenceLine({
          tenantKey: identity.tenantKey,
          deviceKey: identity.deviceKey,
          connected,
          time: Date.now(),
        }),
      ),
  });

  const tlsConfigured = config.MQTT_TLS_CERT_FILE && config.MQTT_TLS_KEY_FILE;
  const deviceChanges = listenForDeviceChanges({
    connect: () => new pg.Client({ ...connection, keepAlive: true }),
    channel: DEVICE_CHANGES_CHANNEL,
    parse: readDeviceChange,
    authenticator,
    broker,
    metrics,
    logger,
    heartbeatMs: LISTEN_HEARTBEAT_MS,
    retryMs: { min: 500, max: 30_000 },
  });

  const listeners = await startListeners(broker.aedes.handle, {
    host: config.MQTT_HOST,
    tcpPort: config.MQTT_PORT,
    maxPacketBytes: config.MQTT_MAX_PACKET_BYTES,
    onOversizedPacket: () => {
      metrics.oversizedPackets.inc();
      log.warn('connection closed: packet larger than MQTT_MAX_PACKET_BYTES');
    },
    ws: { port: config.MQTT_WS_PORT, path: config.MQTT_WS_PATH },
    ...(tlsConfigured
      ? {
          tls: {
            port: config.MQTT_TLS_PORT,
            certFile: config.MQTT_TLS_CERT_FILE!,
            keyFile: config.MQTT_TLS_KEY_FILE!,
          },
        }
      : {}),
  });
  let stopping = false;
  const metricsServer = await startMetricsServer(metrics.registry, {
    host: config.BROKER_METRICS_HOST,
    port: config.METRICS_PORT,
    ready: () => !stopping,
  });
  log.info(
    { ports: listeners.ports, metricsPort: metricsServer.port, influx: safeUrl(config.INFLUX_URL) },
    'MQTT broker listening',
  );

  return {
    port: listeners.ports.tcp,
    ports: { ...listeners.ports, metrics: metricsServer.port },
    broker,
    spool,
    /** Stops accepting, ends device sessions, drains what it can, and closes. */
    async close() {
      stopping = true;
      const stopListening = listeners.close();
      await deviceChanges.close();
      await broker.close();
      await stopListening;
      await drainer.flush(SHUTDOWN_FLUSH_MS).catch((err: unknown) => {
        log.warn({ err }, 'spool not fully drained; the next start continues');
      });
      await drainer.stop();
      await spool.close();
      await metricsServer.close();
      await pool.end();
    },
  };
}
