import type pg from 'pg';
import { AppError } from '../common/errors.js';
import type { ScryptCost } from '../common/secret-hash.js';
import type { DirectoryCrypto } from './crypto/crypto.config.js';
import { mailLinks, type MailLinks } from './mail/mail-templates.js';
import type { Mailer, MailMessage } from './mail/mailer.js';
import { passwordProblem } from './accounts/password-policy.js';

/** Lifetimes and versions the identity flows follow; from the API's configuration. */
export interface IdentitySettings {
  /** Where links in e-mails lead, e.g. https://telemoat.example.com */
  publicUrl: string;
  /** The privacy terms a user must accept at sign-up and on accepting an invitation. */
  termsVersion: string;
  emailVerificationTtlHours: number;
  invitationTtlDays: number;
  registrationRecordDays: number;
  /** Sign-up and password-reset e-mails one address receives per hour, each kind. */
  mailsPerAddressPerHour: number;
  /** What new password hashes cost (scrypt). */
  passwordCost: ScryptCost;
}

/** What the identity services share: the API's pool, the keys, the mail server, settings. */
export interface IdentityDeps {
  pool: pg.Pool;
  crypto: DirectoryCrypto;
  mailer: Mailer;
  settings: IdentitySettings;
  /** The clock of the mail quota; tests move it. */
  now?: () => number;
}

export const linksOf = (deps: IdentityDeps): MailLinks => mailLinks(deps.settings.publicUrl);

/**
 * Sends after the transaction has committed. An unreachable mail server rejects with
 * MAIL_UNAVAILABLE, which the API answers as SERVICE_UNAVAILABLE (and logs with its cause).
 */
export async function sendAll(mailer: Mailer, messages: readonly MailMessage[]): Promise<void> {
  for (const message of messages) await mailer.send(message);
}

export function requireStrongPassword(password: string): void {
  const reason = passwordProblem(password);
  if (reason) throw new AppError('WEAK_PASSWORD', { reason });
}

export function requireCurrentTerms(settings: IdentitySettings, accepted: string): void {
  if (accepted !== settings.termsVersion) {
    throw new AppError('TERMS_NOT_ACCEPTED', { currentVersion: settings.termsVersion });
  }
}
