import { z } from 'zod';
import { env } from '../common/config.js';

/** The broker process: MQTT for devices, with the ingest pipeline running in-process. */
export const brokerConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  MQTT_HOST: env.host('0.0.0.0'),
  MQTT_PORT: env.port(1883),
  /** Postgres URL with the `telemoat_broker` role: device credentials and nothing else. */
  BROKER_DATABASE_URL: env.url(['postgres:', 'postgresql:']),
  INFLUX_URL: env.url(['http:', 'https:']),
  INFLUX_DATABASE: env.name().default('telemoat'),
  INFLUX_INGEST_USER: env.name().default('telemoat_ingest'),
  INFLUX_INGEST_PASSWORD: env.secret(),
  INGEST_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(64).max(1_048_576).default(65_536),
  INGEST_MAX_READINGS: z.coerce.number().int().min(1).max(100_000).default(1000),
  INGEST_MAX_FUTURE_MS: env.duration(5 * 60_000),
  RAW_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
});

export type BrokerConfig = z.output<typeof brokerConfigSchema>;
