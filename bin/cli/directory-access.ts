import { createDirectoryPool } from '../../directory/db/pool.js';
import { apiConfigSchema } from '../../api/api.config.js';
import { loadConfig } from '../../common/config.js';
import type { IdentityDeps } from '../../directory/identity.context.js';
import { identityContext } from '../identity-deps.js';

/**
 * What the directory commands read from the API's configuration: they act as the API would,
 * connecting as `telemoat_api` with the directory's keys, and mail through the API's server.
 */
const directoryCommandConfigSchema = apiConfigSchema.pick({
  LOG_LEVEL: true,
  API_DATABASE_URL: true,
  DIRECTORY_MASTER_KEYS: true,
  DIRECTORY_ACTIVE_KEY_ID: true,
  EMAIL_INDEX_KEY: true,
  SMTP_URL: true,
  MAIL_FROM: true,
  PUBLIC_URL: true,
  PRIVACY_TERMS_VERSION: true,
  EMAIL_VERIFICATION_TTL_HOURS: true,
  INVITATION_TTL_DAYS: true,
  REGISTRATION_RECORD_DAYS: true,
  MAILS_PER_ADDRESS_PER_HOUR: true,
  PASSWORD_HASH_LOG2_N: true,
});

/** Opens the directory for one command; `close` ends the pool and the mailer. */
export function openDirectory(command: string): IdentityDeps & { close(): Promise<void> } {
  const config = loadConfig(command, directoryCommandConfigSchema, process.env);
  const pool = createDirectoryPool({
    connectionString: config.API_DATABASE_URL,
    max: 2,
    connectionTimeoutMillis: 10_000,
  });
  const deps = identityContext(pool, config);
  return {
    ...deps,
    async close() {
      deps.mailer.close();
      await pool.end();
    },
  };
}
