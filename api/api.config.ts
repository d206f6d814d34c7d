import { z } from 'zod';
import { env } from '../common/config.js';
import { directoryKeysShape } from '../directory/crypto/crypto.config.js';
import { DEFAULT_ORGS_PER_USER } from '../directory/organisations/organisations.service.js';
import { parseOidcProviders } from '../directory/sessions/oidc.service.js';
import { STREAM_LIMIT_DEFAULTS } from './live/stream-guard.js';
import { MAX_PASSWORD_COST_LOG2_N } from '../common/secret-hash.js';

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
  /** Days InfluxDB keeps raw readings: older ranges are read from the rollups (setup's key). */
  RAW_RETENTION_DAYS: env.rawRetentionDays(),
  /** Where devices reach the broker, for the example command shown with a new secret. */
  MQTT_PUBLIC_URL: env.url(['mqtt:', 'mqtts:']).default('mqtt://127.0.0.1:1883'),
  /** Ed25519 private key, PKCS#8 PEM; `\n` escapes are accepted for one-line env files. */
  JWT_PRIVATE_KEY: z
    .string()
    .transform((value) => value.replace(/\\n/g, '\n'))
    .refine((value) => value.includes('BEGIN PRIVATE KEY'), 'must be a PKCS#8 PEM private key'),
  JWT_ISSUER: z.string().min(1).default('telemoat'),
  JWT_AUDIENCE: z.string().min(1).default('telemoat-api'),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(900),
  // Sessions (P9), sign-in throttling (P10) and OpenID Connect (P8): see directory/sessions/sign-in.service.ts.
  /** How long a refresh token may wait to be exchanged: a session's idle timeout. */
  REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(31_536_000).default(1_209_600),
  /** A session's absolute lifetime, however often it is refreshed. */
  SESSION_MAX_AGE_SECONDS: z.coerce.number().int().min(60).max(31_536_000).default(2_592_000),
  /** `false` only for plain-HTTP local use: browsers drop Secure cookies on http://localhost. */
  AUTH_COOKIE_SECURE: z.enum(['true', 'false']).default('true'),
  /** HMAC key that names accounts in the security log instead of their e-mail addresses. */
  SECURITY_LOG_KEY: env.secret(32),
  SIGNIN_THROTTLE_WINDOW_MS: z.coerce.number().int().min(1000).default(900_000),
  SIGNIN_THROTTLE_FREE_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(5),
  SIGNIN_THROTTLE_FREE_ATTEMPTS_PER_IP: z.coerce.number().int().min(1).max(100_000).default(20),
  SIGNIN_THROTTLE_ACCOUNT_CEILING: z.coerce.number().int().min(1).max(100_000).default(50),
  SIGNIN_THROTTLE_BASE_DELAY_MS: z.coerce.number().int().min(1).default(1000),
  SIGNIN_THROTTLE_MAX_DELAY_MS: z.coerce.number().int().min(1).default(30_000),
  /** Requests per minute per client address and per signed-in user (token buckets, 429). */
  RATE_LIMIT_PER_IP_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  RATE_LIMIT_PER_USER_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(1200),
  /** How often open live streams and exports re-check their token, session and membership (P9). */
  STREAM_RECHECK_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(STREAM_LIMIT_DEFAULTS.recheckMs),
  /** Open live streams per signed-in user and per client address; more get 429 RATE_LIMITED. */
  LIVE_STREAMS_PER_USER: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(STREAM_LIMIT_DEFAULTS.perUser),
  LIVE_STREAMS_PER_IP: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(STREAM_LIMIT_DEFAULTS.perIp),
  /** Organisations a user may own and still create another (409 CONFLICT `org-limit`). */
  ORGS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_ORGS_PER_USER),
  /** JSON array of `{ id, issuer, clientId, clientSecret?, redirectUri }`; see parseOidcProviders. */
  OIDC_PROVIDERS: z
    .string()
    .default('[]')
    .superRefine((value, ctx) => {
      try {
        parseOidcProviders(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  // The encrypted directory (P12), sign-up and invitations (P4-P7), e-mail (P5, P14).
  ...directoryKeysShape,
  /** smtp:// or smtps://[user:password@]host:port; `npm start` runs a local catcher on 1025. */
  SMTP_URL: env.url(['smtp:', 'smtps:']).default('smtp://127.0.0.1:1025'),
  /** The From header of every e-mail, e.g. `Telemoat <no-reply@example.com>`. */
  MAIL_FROM: z
    .string()
    .regex(/^[^\r\n]*@[^\r\n]*$/, 'must be an address, optionally as Name <address>')
    .default('Telemoat <no-reply@telemoat.local>'),
  /** Where links in e-mails lead: the address people reach the dashboard at. */
  PUBLIC_URL: env.url(['http:', 'https:']).default('http://127.0.0.1:8080'),
  /** The privacy terms sign-up and invitations accept; raise it when the terms change (P22). */
  PRIVACY_TERMS_VERSION: z
    .string()
    .regex(/^[\w.-]{1,64}$/)
    .default('1'),
  EMAIL_VERIFICATION_TTL_HOURS: z.coerce.number().int().min(1).max(720).default(24),
  /** P7: how long an invitation link works; an account nobody accepts is deleted then. */
  INVITATION_TTL_DAYS: z.coerce.number().int().min(1).max(90).default(7),
  /** P4: how long the registration record (time, IP, browser) of a sign-up is kept. */
  REGISTRATION_RECORD_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /**
   * scrypt's cost for passwords as log2 N (r = 8, p = 1): 17 is OWASP's recommendation; a
   * sign-in with a cheaper stored hash replaces it.
   */
  PASSWORD_HASH_LOG2_N: z.coerce.number().int().min(14).max(MAX_PASSWORD_COST_LOG2_N).default(17),
  /** Sign-up and password-reset e-mails one address receives per hour, each (P5, P10). */
  MAILS_PER_ADDRESS_PER_HOUR: z.coerce.number().int().min(1).max(1000).default(3),
});

export type ApiConfig = z.output<typeof apiConfigSchema>;
