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
import { alreadyRegisteredMail, verifyEmailMail } from '../mail/mail-templates.js';
import type { MailMessage } from '../mail/mailer.js';
import { RegistrationsRepository } from './registrations.repository.js';
import { transaction } from '../db/transaction.js';
import { EmailInUseError, UsersRepository } from './users.repository.js';

export interface SignupInput {
  email: string;
  name: string;
  password: string;
  termsVersion: string;
  omitNamesInEmail?: boolean;
  /** P4: recorded, sealed, for a limited time. */
  client: { ip: string | undefined; userAgent: string | undefined };
}

export type VerifiedPurpose = 'signup' | 'email_change';

/**
 * Sign-up with e-mail verification (P5). The account stays inactive until its address is
 * confirmed through a single-use, expiring link. The answer to a sign-up never reveals whether
 * the address already has an account: every attempt hashes a password and sends one e-mail,
 * either the link or a "you already have an account" note.
 */
export class SignupService {
  constructor(private readonly deps: IdentityDeps) {}

  async signup(input: SignupInput): Promise<void> {
    const { settings, crypto } = this.deps;
    requireStrongPassword(input.password);
    requireCurrentTerms(settings, input.termsVersion);
    const passwordHash = await hashSecret(input.password);
    const links = linksOf(this.deps);
    const omitNames = input.omitNamesInEmail ?? false;

    let mail: MailMessage | null;
    try {
      mail = await transaction(this.deps.pool, async (client) => {
        const users = new UsersRepository(client, crypto);
        const existing = await users.findByEmail(input.email);
        if (existing?.verified) {
          const profile = (await users.profile(existing.id))!;
          const recipient = { name: profile.name, omitNames: profile.settings.omitNamesInEmail };
          return { to: profile.email, ...alreadyRegisteredMail(recipient, links.signIn()) };
        }
        let userId: string;
        if (existing) {
          // Never verified: whoever controls the mailbox decides, with this attempt's details.
          userId = existing.id;
          await users.restartSignup(userId, {
            displayName: input.name,
            passwordHash,
            termsVersion: input.termsVersion,
            omitNamesInEmail: omitNames,
          });
        } else {
          userId = await users.create({
            email: input.email,
            displayName: input.name,
            passwordHash,
            verified: false,
            origin: 'signup',
            termsVersion: input.termsVersion,
            omitNamesInEmail: omitNames,
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
        }
        const token = await new EmailVerificationsRepository(client, crypto).createSignup(
          userId,
          settings.emailVerificationTtlHours * 3600,
        );
        const recipient = { name: input.name, omitNames };
        return {
          to: input.email.trim(),
          ...verifyEmailMail(
            recipient,
            links.verifyEmail(token),
            settings.emailVerificationTtlHours,
          ),
        };
      });
    } catch (err) {
      // Two sign-ups for one new address at once: the other one created the account and sent
      // its link; this one answers the same as always.
      if (err instanceof EmailInUseError) return;
      throw err;
    }
    await sendAll(this.deps.mailer, [mail]);
  }

  /**
   * Uses a verification link: activates a new account, or moves an account to the address an
   * e-mail change asked for (P16). A used, unknown or expired link is TOKEN_INVALID.
   */
  async verifyEmail(token: string): Promise<{ purpose: VerifiedPurpose }> {
    const { crypto } = this.deps;
    return transaction(this.deps.pool, async (client) => {
      const consumed = await new EmailVerificationsRepository(client, crypto).consume(token);
      if (!consumed) throw new AppError('TOKEN_INVALID');
      const users = new UsersRepository(client, crypto);
      const audit = new AuditLogRepository(client);
      const { userId } = consumed;
      if (consumed.purpose === 'signup') {
        if (await users.markVerified(userId)) {
          await audit.record({ userId, actorUserId: userId, action: 'email.verified' });
        }
        return { purpose: 'signup' };
      }
      try {
        await users.changeEmail(userId, consumed.newEmail!);
      } catch (err) {
        // Taken by another account since the change was asked for.
        if (err instanceof EmailInUseError) throw new AppError('CONFLICT');
        throw err;
      }
      await users.markVerified(userId);
      await audit.record({ userId, actorUserId: userId, action: 'email.changed' });
      return { purpose: 'email_change' };
    });
  }
}
