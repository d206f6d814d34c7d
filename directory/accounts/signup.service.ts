import { AppError } from '../../common/errors.js';
import { hashSecret } from '../../common/secret-hash.js';
import { AuditLogRepository } from './audit-log.repository.js';
import { EmailVerificationsRepository } from './email-verifications.repository.js';
import {
  linksOf,
  requireCurrentTerms,
  requireStrongPassword,
  sendAll,
  type IdentityDeps,
} from '../identity.context.js';
import { alreadyRegisteredMail, signupLinkMail } from '../mail/mail-templates.js';
import type { MailMessage } from '../mail/mailer.js';
import { RegistrationsRepository } from './registrations.repository.js';
import { transaction, type Queryable } from '../db/transaction.js';
import { MailQuotaRepository } from './mail-quota.repository.js';
import { EmailInUseError, UsersRepository } from './users.repository.js';

export interface SignupInput {
  email: string;
  /** P4: recorded, sealed, for a limited time. */
  client: { ip: string | undefined; userAgent: string | undefined };
}

/** What the person who opened the sign-up link chooses (P5): the account's credentials. */
export interface CompleteSignupInput {
  token: string;
  name: string;
  password: string;
  termsVersion: string;
  omitNamesInEmail?: boolean;
}

/**
 * Sign-up with e-mail verification (P5). Sign-up takes only the address; the link sent there
 * opens a page where the name and password are chosen, so only whoever controls the mailbox
 * ever sets an account's credentials: a second sign-up for an address nobody has verified yet
 * changes nothing and cannot hijack it. The answer never reveals whether the address already
 * has an account, and the e-mails one address receives are limited per hour.
 */
export class SignupService {
  constructor(private readonly deps: IdentityDeps) {}

  async signup(input: SignupInput): Promise<void> {
    const { settings, crypto } = this.deps;
    const links = linksOf(this.deps);
    let mail: MailMessage | null;
    try {
      mail = await transaction(this.deps.pool, async (client) => {
        const users = new UsersRepository(client, crypto);
        const quota = new MailQuotaRepository(client, this.deps.now);
        const index = users.emailIndex(input.email);
        if (!(await quota.take(index, 'signup', settings.mailsPerAddressPerHour))) return null;
        const existing = await users.findByEmail(input.email);
        if (existing?.verified) {
          const profile = (await users.profile(existing.id))!;
          const recipient = { name: profile.name, omitNames: profile.settings.omitNamesInEmail };
          return { to: profile.email, ...alreadyRegisteredMail(recipient, links.signIn()) };
        }
        // A pending account stays as it is; its earlier links keep working.
        const userId = existing?.id ?? (await this.createPending(client, input));
        const token = await new EmailVerificationsRepository(client, crypto).createSignup(
          userId,
          settings.emailVerificationTtlHours * 3600,
        );
        return {
          to: input.email.trim(),
          ...signupLinkMail(links.completeSignup(token), settings.emailVerificationTtlHours),
        };
      });
    } catch (err) {
      // Two sign-ups for one new address at once: the other one created the account and sent
      // its link; this one answers the same as always.
      if (err instanceof EmailInUseError) return;
      throw err;
    }
    if (mail) await sendAll(this.deps.mailer, [mail]);
  }

  /**
   * Uses a sign-up link: the account gets the name, password and settings chosen now, and
   * becomes active; every other sign-up link of it stops working. A used, unknown or expired
   * link is TOKEN_INVALID.
   */
  async completeSignup(input: CompleteSignupInput): Promise<void> {
    const { settings, crypto } = this.deps;
    requireStrongPassword(input.password);
    requireCurrentTerms(settings, input.termsVersion);
    await transaction(this.deps.pool, async (client) => {
      const verifications = new EmailVerificationsRepository(client, crypto);
      const consumed = await verifications.consume(input.token, 'signup');
      if (!consumed) throw new AppError('TOKEN_INVALID');
      // Hashed only for a live link: a made-up token must not cost the server a slow hash.
      const passwordHash = await hashSecret(input.password, settings.passwordCost);
      const { userId } = consumed;
      const completed = await new UsersRepository(client, crypto).completeSignup(userId, {
        displayName: input.name,
        passwordHash,
        termsVersion: input.termsVersion,
        omitNamesInEmail: input.omitNamesInEmail ?? false,
      });
      if (!completed) throw new AppError('TOKEN_INVALID');
      await verifications.deleteAll(userId, 'signup');
      await new AuditLogRepository(client).record({
        userId,
        actorUserId: userId,
        action: 'email.verified',
      });
    });
  }

  /**
   * Uses an e-mail change link: moves the account to the address it asked for (P16). A used,
   * unknown or expired link is TOKEN_INVALID.
   */
  async verifyEmail(token: string): Promise<void> {
    const { crypto } = this.deps;
    await transaction(this.deps.pool, async (client) => {
      const consumed = await new EmailVerificationsRepository(client, crypto).consume(
        token,
        'email_change',
      );
      if (!consumed) throw new AppError('TOKEN_INVALID');
      const users = new UsersRepository(client, crypto);
      const { userId } = consumed;
      try {
        await users.changeEmail(userId, consumed.newEmail!);
      } catch (err) {
        // Taken by another account since the change was asked for.
        if (err instanceof EmailInUseError) throw new AppError('CONFLICT');
        throw err;
      }
      await users.markVerified(userId);
      await new AuditLogRepository(client).record({
        userId,
        actorUserId: userId,
        action: 'email.changed',
      });
    });
  }

  /** An inactive account with no name and no password yet, and its registration record (P4). */
  private async createPending(client: Queryable, input: SignupInput): Promise<string> {
    const { settings, crypto } = this.deps;
    const users = new UsersRepository(client, crypto);
    const userId = await users.create({
      email: input.email,
      displayName: '',
      passwordHash: null,
      verified: false,
      origin: 'signup',
    });
    const key = (await users.dataKey(userId))!;
    await new RegistrationsRepository(client).record(
      userId,
      key,
      input.client,
      settings.registrationRecordDays,
    );
    await new AuditLogRepository(client).record({
      userId,
      actorUserId: userId,
      action: 'account.created',
      details: { origin: 'signup' },
    });
    return userId;
  }
}
