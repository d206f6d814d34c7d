import { AppError } from '../../common/errors.js';
import { AuditLogRepository, type AuditEntry } from './audit-log.repository.js';
import { normaliseEmail } from '../crypto/blind-index.js';
import { EmailVerificationsRepository } from './email-verifications.repository.js';
import { linksOf, sendAll, type IdentityDeps } from '../identity.context.js';
import { emailChangeMail, emailChangeNoticeMail, emailInUseMail } from '../mail/mail-templates.js';
import type { MailMessage } from '../mail/mailer.js';
import { transaction } from '../db/transaction.js';
import type { CheckClient, PasswordGuard } from '../sessions/password-guard.js';
import {
  UsersRepository,
  type Membership,
  type ProfilePatch,
  type UserProfile,
} from './users.repository.js';

/**
 * The user's own view of their account: what is stored (P15), correcting it (P16) and the
 * history of changes made on their behalf (P11). Every change is audited by field name, never
 * by value.
 */
export class ProfileService {
  constructor(private readonly deps: IdentityDeps & { passwords: Pick<PasswordGuard, 'check'> }) {}

  async profile(userId: string): Promise<UserProfile & { memberships: Membership[] }> {
    const users = new UsersRepository(this.deps.pool, this.deps.crypto);
    const profile = await users.profile(userId);
    if (!profile) throw new AppError('UNAUTHENTICATED');
    return { ...profile, memberships: await users.memberships(userId) };
  }

  async update(userId: string, patch: ProfilePatch): Promise<UserProfile> {
    return transaction(this.deps.pool, async (client) => {
      const users = new UsersRepository(client, this.deps.crypto);
      const changed = await users.update(userId, patch);
      if (changed.length > 0) {
        await new AuditLogRepository(client).record({
          userId,
          actorUserId: userId,
          action: 'profile.updated',
          details: { fields: changed },
        });
      }
      const profile = await users.profile(userId);
      if (!profile) throw new AppError('UNAUTHENTICATED');
      return profile;
    });
  }

  /**
   * Asks to move the account to `newEmail` (P16). The change takes effect only when the link
   * sent to the new address is used; the old address is told at once. When the new address
   * already has an account, it is told so instead of getting a link, and the answer to the
   * caller is the same, so the request cannot be used to find out who has an account.
   */
  async requestEmailChange(
    userId: string,
    request: { newEmail: string; password: string | undefined },
    client: CheckClient,
  ): Promise<void> {
    const { crypto, settings } = this.deps;
    const users = new UsersRepository(this.deps.pool, crypto);
    await checkEmailChange(await users.findById(userId), request, this.deps.passwords, client);
    const links = linksOf(this.deps);
    const mails = await transaction(this.deps.pool, async (client) => {
      const txUsers = new UsersRepository(client, crypto);
      const profile = (await txUsers.profile(userId))!;
      const me = { name: profile.name, omitNames: profile.settings.omitNamesInEmail };
      const messages: MailMessage[] = [];
      const holder = await txUsers.findByEmail(request.newEmail);
      if (holder) {
        const other = (await txUsers.profile(holder.id))!;
        const recipient = { name: other.name, omitNames: other.settings.omitNamesInEmail };
        messages.push({ to: other.email, ...emailInUseMail(recipient) });
      } else {
        const key = (await txUsers.dataKey(userId))!;
        const token = await new EmailVerificationsRepository(client, crypto).createEmailChange(
          userId,
          key,
          request.newEmail,
          settings.emailVerificationTtlHours * 3600,
        );
        const link = links.verifyEmail(token);
        messages.push({
          to: request.newEmail.trim(),
          ...emailChangeMail(me, link, settings.emailVerificationTtlHours),
        });
      }
      messages.push({ to: profile.email, ...emailChangeNoticeMail(me) });
      await new AuditLogRepository(client).record({
        userId,
        actorUserId: userId,
        action: 'email.change_requested',
      });
      return messages;
    });
    await sendAll(this.deps.mailer, mails);
  }

  async auditHistory(userId: string, limit: number): Promise<AuditEntry[]> {
    return new AuditLogRepository(this.deps.pool).listForUser(userId, limit);
  }
}

/**
 * Whether the account may move to `newEmail`: it must exist, give its current password when it
 * has one (someone holding a stolen access token must not be able to take it over), checked
 * under the sign-in throttle like every password (P10), and name an address it does not have
 * already. Returns the account.
 */
export async function checkEmailChange<A extends { passwordHash: string | null; email: string }>(
  account: A | null,
  request: { newEmail: string; password: string | undefined },
  passwords: Pick<PasswordGuard, 'check'>,
  client: CheckClient,
): Promise<A> {
  if (!account) throw new AppError('UNAUTHENTICATED');
  // An account without a password (OpenID Connect only) has nothing to give.
  if (account.passwordHash !== null) {
    await passwords.check(account, request.password ?? '', client);
  }
  if (normaliseEmail(request.newEmail) === normaliseEmail(account.email)) {
    throw new AppError('VALIDATION_FAILED', [
      { path: 'email', message: 'is already the address of this account' },
    ]);
  }
  return account;
}
