import type pg from 'pg';
import type { ScryptCost } from '../common/secret-hash.js';
import type { ApiConfig } from '../api/api.config.js';
import { directoryCryptoFrom } from '../directory/crypto/crypto.config.js';
import type { IdentityDeps } from '../directory/identity.context.js';
import { createSmtpMailer, type Mailer } from '../directory/mail/mailer.js';
import { OrganisationsRepository } from '../directory/organisations/organisations.repository.js';
import { OrganisationsService } from '../directory/organisations/organisations.service.js';
import {
  PasswordService,
  type PasswordServiceDeps,
} from '../directory/accounts/password.service.js';
import { ProfileService } from '../directory/accounts/profile.service.js';
import { SignupService } from '../directory/accounts/signup.service.js';
import { UsersRepository } from '../directory/accounts/users.repository.js';

/** The configuration the directory's identity services read (the API's, or a CLI's subset). */
export type IdentityConfig = Pick<
  ApiConfig,
  | 'DIRECTORY_MASTER_KEYS'
  | 'DIRECTORY_ACTIVE_KEY_ID'
  | 'EMAIL_INDEX_KEY'
  | 'SMTP_URL'
  | 'MAIL_FROM'
  | 'PUBLIC_URL'
  | 'PRIVACY_TERMS_VERSION'
  | 'EMAIL_VERIFICATION_TTL_HOURS'
  | 'INVITATION_TTL_DAYS'
  | 'REGISTRATION_RECORD_DAYS'
  | 'MAILS_PER_ADDRESS_PER_HOUR'
  | 'PASSWORD_HASH_LOG2_N'
>;

/** Keys, mailer and settings shared by the identity services, over one pool. */
export function identityContext(
  pool: pg.Pool,
  config: IdentityConfig,
  now: () => number = Date.now,
): IdentityDeps & { mailer: Mailer & { close(): void } } {
  return {
    pool,
    now,
    crypto: directoryCryptoFrom(config),
    mailer: createSmtpMailer({ url: config.SMTP_URL, from: config.MAIL_FROM }),
    settings: {
      publicUrl: config.PUBLIC_URL,
      termsVersion: config.PRIVACY_TERMS_VERSION,
      emailVerificationTtlHours: config.EMAIL_VERIFICATION_TTL_HOURS,
      invitationTtlDays: config.INVITATION_TTL_DAYS,
      registrationRecordDays: config.REGISTRATION_RECORD_DAYS,
      mailsPerAddressPerHour: config.MAILS_PER_ADDRESS_PER_HOUR,
      passwordCost: passwordCostOf(config),
    },
  };
}

/**
 * The API's identity side: the encrypted directory (P12), sign-up with e-mail verification
 * (P5), organisations and invitations (P6, P7), the user's own settings and history (P11, P16),
 * and the SMTP mailer they share. Built on the API's pool (role `telemoat_api`).
 */
export function identityDeps(
  pool: pg.Pool,
  config: ApiConfig,
  options: Pick<PasswordServiceDeps, 'passwords' | 'sessions'> & { now?: () => number },
) {
  const deps = identityContext(pool, config, options.now);
  const { crypto, mailer } = deps;
  return {
    passwordService: new PasswordService({ ...deps, ...options }),
    users: new UsersRepository(pool, crypto),
    organisations: new OrganisationsRepository(pool, crypto),
    signupService: new SignupService(deps),
    profileService: new ProfileService({ ...deps, passwords: options.passwords }),
    organisationsService: new OrganisationsService({
      ...deps,
      passwords: options.passwords,
      orgsPerUser: config.ORGS_PER_USER,
    }),
    privacyTermsVersion: config.PRIVACY_TERMS_VERSION,
    /** Ends the mailer's connections on shutdown. */
    closeMailer: () => mailer.close(),
  };
}

/** scrypt's cost from the configuration: N = 2^PASSWORD_HASH_LOG2_N, r = 8, p = 1. */
export function passwordCostOf(config: Pick<ApiConfig, 'PASSWORD_HASH_LOG2_N'>): ScryptCost {
  return { N: 2 ** config.PASSWORD_HASH_LOG2_N, r: 8, p: 1 };
}
