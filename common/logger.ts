import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Keys whose values never reach a log, at any depth and in any casing: passwords, secrets and
 * tokens, credentials in headers and cookies (also `set-cookie`), connection strings and URLs
 * that carry a password (`*_DATABASE_URL`, `SMTP_URL`), and the platform's keys
 * (`DIRECTORY_MASTER_KEYS`, `EMAIL_INDEX_KEY`, `JWT_PRIVATE_KEY`, `SECURITY_LOG_KEY`,
 * `INFLUX_*_PASSWORD`, an OIDC `clientSecret`). Secrets reach log calls through error objects
 * and request dumps more often than through deliberate logging, so the rule is broad.
 */
export const redactedKey =
  /password|secret|token|authorization|cookie|connection_?string|database_url|smtp_url|master_keys|index_key|private_key|log_key/i;

const CENSOR = '[redacted]';
/** Deep enough for any record the platform logs; deeper values are cut, not walked. */
const MAX_DEPTH = 10;

/** A copy of `value` with every redacted key censored; shared and cyclic parts are cut. */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Errors keep their message and stack (not own enumerable keys) and their cause.
  if (value instanceof Error) return redact(pino.stdSerializers.err(value), depth, seen);
  if (depth >= MAX_DEPTH || seen.has(value)) return '[cut]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    // A count or a flag is no secret ("passwordResets: 3"); every other value of such a key is.
    const secret = redactedKey.test(key) && typeof item !== 'number' && typeof item !== 'boolean';
    copy[key] = secret ? CENSOR : redact(item, depth + 1, seen);
  }
  return copy;
}

export function createLogger(options: {
  level: string;
  name: string;
  pretty?: boolean;
  /** Where lines go instead of standard output: for tests. */
  destination?: DestinationStream;
}): Logger {
  const settings = {
    name: options.name,
    level: options.level,
    // Every record, before pino's serializers: errors are serialised here on the way.
    formatters: {
      log: (record: Record<string, unknown>) => redact(record) as Record<string, unknown>,
    },
    // Human-readable lines for the local start-up only; deployments keep JSON for collectors.
    ...(options.pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true } } }
      : {}),
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/**
 * What a pool reports when an idle connection of it fails (a database restarting or shutting
 * down): one line with the driver's code and message, not the client object the error carries.
 */
export function idleConnectionFailure(log: Logger) {
  return (err: Error & { code?: unknown }) =>
    log.warn({ code: err.code, reason: err.message }, 'idle Postgres connection failed');
}

/** Strips credentials from a URL before it is logged. */
export function safeUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
