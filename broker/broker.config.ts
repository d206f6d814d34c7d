import { z } from 'zod';
import { env } from '../common/config.js';
import { READING_FUTURE_SLACK_MS } from '../common/limits.js';

/** Room in a PUBLISH packet for its fixed header, topic and packet id (MQTT-3.3.2). */
const PACKET_OVERHEAD_BYTES = 1024;

/** The broker process: MQTT for devices, with the ingest pipeline and its spool in-process. */
export const brokerConfigSchema = z
  .object({
    LOG_LEVEL: env.logLevel(),
    MQTT_HOST: env.host('0.0.0.0'),
    MQTT_PORT: env.port(1883),
    /** MQTT over TLS listens only when both certificate files are configured. */
    MQTT_TLS_PORT: env.port(8883),
    MQTT_TLS_CERT_FILE: z.string().min(1).optional(),
    MQTT_TLS_KEY_FILE: z.string().min(1).optional(),
    MQTT_WS_PORT: env.port(8083),
    MQTT_WS_PATH: z
      .string()
      .regex(/^\/[\w/-]*$/)
      .default('/mqtt'),
    /**
     * The largest MQTT packet a client may send, fixed header included; a larger one closes the
     * connection before the broker holds it (broker/packet-size-guard.ts).
     */
    MQTT_MAX_PACKET_BYTES: z.coerce.number().int().min(1024).max(16_777_216).default(131_072),
    /** Failed CONNECTs (refused by the directory) per client address per minute, and at once. */
    MQTT_CONNECT_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(30),
    METRICS_PORT: env.port(9464),
    /** Metrics name no device, but say how busy the broker is: loopback unless chosen. */
    BROKER_METRICS_HOST: env.host('127.0.0.1'),
    /** Postgres URL with the `telemoat_broker` role: device credentials and nothing else. */
    BROKER_DATABASE_URL: env.url(['postgres:', 'postgresql:']),
    /** How long a credentials lookup may wait for a connection, and run, before it fails. */
    BROKER_DATABASE_TIMEOUT_MS: env.duration(2_000),
    AUTH_CACHE_FRESH_MS: env.duration(5_000),
    AUTH_CACHE_STALE_MS: env.duration(86_400_000),
    /** How long a refusal by the directory is repeated without asking it again. */
    AUTH_NEGATIVE_CACHE_MS: env.duration(10_000),
    /** Credentials lookups in flight at most; past it, only devices the broker knows get in. */
    AUTH_MAX_LOOKUPS_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).default(32),
    DEVICE_REVALIDATE_MS: env.duration(5_000),
    INFLUX_URL: env.url(['http:', 'https:']),
    INFLUX_DATABASE: env.name().default('telemoat'),
    INFLUX_INGEST_USER: env.name().default('telemoat_ingest'),
    INFLUX_INGEST_PASSWORD: env.secret(),
    INFLUX_WRITE_BATCH_LINES: z.coerce.number().int().min(1).max(100_000).default(5000),
    INFLUX_WRITE_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
    SPOOL_DIR: z.string().min(1).default('.data/spool'),
    SPOOL_MAX_BYTES: z.coerce.number().int().min(1_048_576).default(1_073_741_824),
    INGEST_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(64).max(1_048_576).default(65_536),
    INGEST_MAX_READINGS: z.coerce.number().int().min(1).max(100_000).default(1000),
    INGEST_MAX_FUTURE_MS: env.duration(READING_FUTURE_SLACK_MS),
    /** Publishes being made durable at once; past it, connections wait (broker/ingest-window.ts). */
    INGEST_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(1_000_000).default(2000),
    RAW_RETENTION_DAYS: env.rawRetentionDays(),
  })
  .refine((c) => (c.MQTT_TLS_CERT_FILE === undefined) === (c.MQTT_TLS_KEY_FILE === undefined), {
    message: 'set both MQTT_TLS_CERT_FILE and MQTT_TLS_KEY_FILE, or neither',
    path: ['MQTT_TLS_KEY_FILE'],
  })
  // A payload the ingest rules refuse must still arrive whole, to be acknowledged and counted;
  // a packet limit below it would close the connection instead, and the device would resend.
  .refine((c) => c.MQTT_MAX_PACKET_BYTES >= c.INGEST_MAX_PAYLOAD_BYTES + PACKET_OVERHEAD_BYTES, {
    message: `must be at least INGEST_MAX_PAYLOAD_BYTES + ${PACKET_OVERHEAD_BYTES} (topic and headers)`,
    path: ['MQTT_MAX_PACKET_BYTES'],
  });

export type BrokerConfig = z.output<typeof brokerConfigSchema>;
