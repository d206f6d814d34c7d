import { z } from 'zod';
import { env } from '../common/config.js';
import { READING_FUTURE_SLACK_MS } from '../common/limits.js';

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
    METRICS_PORT: env.port(9464),
    /** Postgres URL with the `telemoat_broker` role: device credentials and nothing else. */
    BROKER_DATABASE_URL: env.url(['postgres:', 'postgresql:']),
    AUTH_CACHE_FRESH_MS: env.duration(5_000),
    AUTH_CACHE_STALE_MS: env.duration(86_400_000),
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
  });

export type BrokerConfig = z.output<typeof brokerConfigSchema>;
