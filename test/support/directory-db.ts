import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { hashSecret } from '../../common/secret-hash.js';
import { AuditLogRepository } from '../../directory/accounts/audit-log.repository.js';
import { UsersRepository, type NewUser } from '../../directory/accounts/users.repository.js';
import { directoryCryptoFrom, type DirectoryCrypto } from '../../directory/crypto/crypto.config.js';
import { createDirectoryPool } from '../../directory/db/pool.js';
import { provisionDirectory, roleUrl } from '../../directory/db/provision.js';
import type { IdentityDeps, IdentitySettings } from '../../directory/identity.context.js';
import { createSmtpMailer, type Mailer } from '../../directory/mail/mailer.js';
import { OrganisationsRepository } from '../../directory/organisations/organisations.repository.js';
import { freePort } from '../../servers/free-port.js';
import { SecurityEventsRepository } from '../../directory/security/security-events.repository.js';
import { PasswordGuard } from '../../directory/sessions/password-guard.js';
import { SignInThrottle } from '../../directory/sessions/sign-in-throttle.service.js';
import { perFile } from './lazy.js';
import { startTestMailbox, type TestMailbox } from './smtp-catcher.js';
import { defaultThrottlePolicy } from './throttle-policy.js';

/** A directory database of one test file, and what the identity services need around it. */
export interface DirectoryTestDb {
  database: string;
  /** The API's own view: role `telemoat_api`, through the directory's pool (its error codes). */
  pool: pg.Pool;
  /**
   * The server's admin on the same database, for checks the API role may not make (a device's
   * secret hash, data keys). Tests only read through it; the services never get it.
   */
  admin: pg.Pool;
  /** Generated for this database: a master key `test` and an e-mail index key. */
  crypto: DirectoryCrypto;
  /** The in-process SMTP server the mailer of `identity` delivers to. */
  mailbox: TestMailbox;
  identity: IdentityDeps;
  /**
   * The guard every password check goes through, on this database's security log with the
   * production throttle policy; each test's client should come from an address of its own.
   */
  passwords: PasswordGuard;
  /** The repositories most tests read back through, on `pool`. */
  users: UsersRepository;
  organisations: OrganisationsRepository;
  audit: AuditLogRepository;
  /** A mailer whose server refuses every connection, for "mail server down" cases. */
  unreachableMailer(): Promise<Mailer>;
  /** A verified or unverified account, created the way sign-up and the e-2-e helpers do. */
  createUser(
    options?: Partial<Omit<NewUser, 'passwordHash'>> & { password?: string },
  ): Promise<{ id: string; email: string; password: string | null }>;
  close(): Promise<void>;
}

const defaultSettings: IdentitySettings = {
  publicUrl: 'http://127.0.0.1:8080',
  termsVersion: '1',
  emailVerificationTtlHours: 24,
  invitationTtlDays: 7,
  registrationRecordDays: 30,
  mailsPerAddressPerHour: 3,
  // The cheapest cost the configuration allows: tests hash many passwords.
  passwordCost: { N: 2 ** 14, r: 8, p: 1 },
};

const MAIL_FROM = 'Telemoat <no-reply@telemoat.test>';

/**
 * A fresh directory database on the suite's real PostgreSQL for one test file: created,
 * given the component roles and migrated by the platform's own provisioning
 * (directory/db/provision.ts, which runs directory/db/migrate.ts). Roles are server-wide, so
 * their passwords are the run's shared secrets, as in test/support/platform.ts. Nothing else
 * is started: no HTTP, no broker, no InfluxDB.
 */
export async function createDirectoryDb(
  options: { settings?: Partial<IdentitySettings> } = {},
): Promise<DirectoryTestDb> {
  const { postgresAdminUrl } = inject('servers');
  const secrets = inject('secrets');
  const database = `directory_${randomBytes(4).toString('hex')}`;
  await provisionDirectory({
    adminUrl: postgresAdminUrl,
    database,
    passwords: {
      telemoat_api: secrets.apiDatabasePassword,
      telemoat_broker: secrets.brokerDatabasePassword,
      telemoat_jobs: secrets.jobsDatabasePassword,
    },
  });
  const adminUrl = new URL(postgresAdminUrl);
  adminUrl.pathname = `/${database}`;
  const pool = createDirectoryPool({
    connectionString: roleUrl(
      postgresAdminUrl,
      database,
      'telemoat_api',
      secrets.apiDatabasePassword,
    ),
    max: 4,
  });
  const admin = new pg.Pool({ connectionString: adminUrl.toString(), max: 2 });
  const crypto = directoryCryptoFrom({
    DIRECTORY_MASTER_KEYS: new Map([['test', randomBytes(32)]]),
    DIRECTORY_ACTIVE_KEY_ID: 'test',
    EMAIL_INDEX_KEY: randomBytes(32),
  });
  const mailbox = await startTestMailbox();
  const mailers: (Mailer & { close(): void })[] = [];
  const mailer = createSmtpMailer({ url: mailbox.url, from: MAIL_FROM });
  mailers.push(mailer);
  const identity: IdentityDeps = {
    pool,
    crypto,
    mailer,
    settings: { ...defaultSettings, ...options.settings },
  };
  const users = new UsersRepository(pool, crypto);

  return {
    database,
    pool,
    admin,
    crypto,
    mailbox,
    identity,
    passwords: new PasswordGuard({
      throttle: new SignInThrottle(new SecurityEventsRepository(pool), defaultThrottlePolicy),
      securityEvents: new SecurityEventsRepository(pool),
      accountHashKey: randomBytes(32).toString('hex'),
    }),
    users,
    organisations: new OrganisationsRepository(pool, crypto),
    audit: new AuditLogRepository(pool),
    async unreachableMailer() {
      // A port that was just free: nothing listens on it, so every connection is refused.
      const down = createSmtpMailer({
        url: `smtp://127.0.0.1:${await freePort()}`,
        from: MAIL_FROM,
      });
      mailers.push(down);
      return down;
    },
    async createUser({ password, ...user } = {}) {
      const email = user.email ?? `user-${randomBytes(4).toString('hex')}@example.test`;
      const id = await users.create({
        displayName: 'Test User',
        verified: true,
        ...user,
        email,
        passwordHash:
          password === undefined
            ? null
            : await hashSecret(password, identity.settings.passwordCost),
      });
      return { id, email, password: password ?? null };
    },
    async close() {
      for (const m of mailers) m.close();
      await Promise.all([pool.end(), admin.end(), mailbox.stop()]);
      const server = new pg.Client({ connectionString: postgresAdminUrl });
      await server.connect();
      try {
        await server.query(
          `DROP DATABASE IF EXISTS ${server.escapeIdentifier(database)} WITH (FORCE)`,
        );
      } finally {
        await server.end();
      }
    },
  };
}

/** A directory database for one test file: created before its tests, dropped after them. */
export function useDirectoryDb(
  options: { settings?: Partial<IdentitySettings> } = {},
): DirectoryTestDb {
  return perFile(() => createDirectoryDb(options), 'the directory database');
}
