import { z } from 'zod';
import { env } from '../common/config.js';

export const apiConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  API_HOST: env.host('0.0.0.0'),
  API_PORT: env.port(8080),
  /** Postgres URL with the `telemoat_api` role. */
  API_DATABASE_URL: env.url(['postgres:', 'postgresql:']),
  INFLUX_URL: env.url(['http:', 'https:']),
  INFLUX_DATABASE: env.name().default('telemoat'),
  INFLUX_API_USER: env.name().default('telemoat_api'),
  INFLUX_API_PASSWORD: env.secret(),
  /** Ed25519 private key, PKCS#8 PEM; `\n` escapes are accepted for one-line env files. */
  JWT_PRIVATE_KEY: z
    .string()
    .transform((value) => value.replace(/\\n/g, '\n'))
    .refine((value) => value.includes('BEGIN PRIVATE KEY'), 'must be a PKCS#8 PEM private key'),
  JWT_ISSUER: z.string().min(1).default('telemoat'),
  JWT_AUDIENCE: z.string().min(1).default('telemoat-api'),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(900),
});

export type ApiConfig = z.output<typeof apiConfigSchema>;
