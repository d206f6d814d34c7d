import { AppError } from '../../common/errors.js';
import { hashSecret } from '../../common/secret-hash.js';
import { transaction, type Queryable } from '../db/transaction.js';
import { linksOf, requireStrongPassword, sendAll, type IdentityDeps } from '../identity.context.js';
import { passwordChangedMail, passwordResetMail } from '../mail/mail-templates.js';
import type { MailMessage } from '../mail/mailer.js';
import type { RevokeReason } from '../sessions/sessions.repository.js';
import type { CheckClient, PasswordGuard } from '../sessions/password-guard.js';
import { AuditLogRepository } from './audit-log.repository.js';
import { MailQuotaRepository } from './mail-quota.repository.js';
import { PasswordResetsRepository } from './password-resets.repository.js';
import { UsersRepository } from './users.repository.js';

/** How long a reset link works: long enough to reach the mailbox, short for a stolen one. */
export const PASSWORD_RESET_TTL_HOURS = 1;

export interface PasswordServiceDeps extends IdentityDeps {
  passwords: Pick<PasswordGuard, 'check'>;
  sessions: { revokeAll(userId: string, reason: RevokeReason, except?: string): Promise<number> };
}

/**
 * Rotating a password (P9, P10): changed with the current one, ending every other session; or
 * reset through a single-use link e-mailed to the account's address, ending every session. A
 * reset request answers alike whether or not the address has an account.
 */
export class PasswordService {
  constructor(private readonly deps: PasswordServiceDeps) {}

  async change(
    userId: string,
    request: { currentPassword: string; newPassword: string },
    client: CheckClient & { sessionId: string },
  ): Promise<void> {
    const { crypto } = this.deps;
    const users = new UsersRepository(this.deps.pool, crypto);
    const account = await users.findById(userId);
    if (!account) throw new AppError('UNAUTHENTICATED');
    await this.deps.passwords.check(account, request.currentPassword, client);
    requireStrongPassword(request.newPassword);
    const passwordHash = await hashSecret(request.newPassword, this.deps.settings.passwordCost);
    const mail = await transaction(this.deps.pool, (tx) =>
      this.setPassword(tx, userId, passwordHash, 'changed'),
    );
    await this.deps.sessions.revokeAll(userId, 'password', client.sessionId);
    await sendAll(this.deps.mailer, [mail]);
  }

  /** E-mails a reset link to a verified account's address, within the address's quota. */
  async requestReset(email: string): Promise<void> {
    const { crypto, settings } = this.deps;
    const mail = await transaction(this.deps.pool, async (client) => {
      const users = new UsersRepository(client, crypto);
      const quota = new MailQuotaRepository(client, this.deps.now);
      const allowed = await quota.take(
        users.emailIndex(email),
        'password_reset',
        settings.mailsPerAddressPerHour,
      );
      const account = allowed ? await users.findByEmail(email) : null;
      if (!account?.verified) return null;
      const profile = (await users.profile(account.id))!;
      const token = await new PasswordResetsRepository(client).create(
        account.id,
        PASSWORD_RESET_TTL_HOURS * 3600,
      );
      const recipient = { name: profile.name, omitNames: profile.settings.omitNamesInEmail };
      const link = linksOf(this.deps).resetPassword(token);
      return {
        to: profile.email,
        ...passwordResetMail(recipient, link, PASSWORD_RESET_TTL_HOURS),
      };
    });
    if (mail) await sendAll(this.deps.mailer, [mail]);
  }

  /** Uses a reset link: the new password is set and every session of the account ends. */
  async completeReset(token: string, newPassword: string): Promise<void> {
    requireStrongPassword(newPassword);
    const { userId, mail } = await transaction(this.deps.pool, async (tx) => {
      const found = await new PasswordResetsRepository(tx).consume(token);
      if (!found) throw new AppError('TOKEN_INVALID');
      // Hashed only for a live link: a made-up token must not cost the server a slow hash.
      const passwordHash = await hashSecret(newPassword, this.deps.settings.passwordCost);
      return { userId: found, mail: await this.setPassword(tx, found, passwordHash, 'reset') };
    });
    await this.deps.sessions.revokeAll(userId, 'password');
    await sendAll(this.deps.mailer, [mail]);
  }

  /** Sets the password, audits it, and returns the notice for the account's address. */
  private async setPassword(
    tx: Queryable,
    userId: string,
    passwordHash: string,
    how: 'changed' | 'reset',
  ): Promise<MailMessage> {
    const users = new UsersRepository(tx, this.deps.crypto);
    await users.setPassword(userId, passwordHash);
    await new AuditLogRepository(tx).record({
      userId,
      actorUserId: userId,
      action: how === 'changed' ? 'password.changed' : 'password.reset',
    });
    const profile = (await users.profile(userId))!;
    const recipient = { name: profile.name, omitNames: profile.settings.omitNamesInEmail };
    return { to: profile.email, ...passwordChangedMail(recipient) };
  }
}
