import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino censors wherever they appear in a log record. Secrets reach log calls through
 * error objects and request dumps more often than through deliberate logging, so the list is
 * broad rather than exact.
 */
export const redactPaths = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'refreshToken',
  '*.refreshToken',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'connectionString',
  '*.connectionString',
  // Configuration that must never reach a log: the directory's keys and the mail server's URL.
  'DIRECTORY_MASTER_KEYS',
  '*.DIRECTORY_MASTER_KEYS',
  'EMAIL_INDEX_KEY',
  '*.EMAIL_INDEX_KEY',
  'SMTP_URL',
  '*.SMTP_URL',
];

export function createLogger(options: { level: string; name: string; pretty?: boolean }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    // Human-readable lines for the local start-up only; deployments keep JSON for collectors.
    ...(options.pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true } } }
      : {}),
  });
}

/** Strips credentials from a URL before it is logged. */
export function safeUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
