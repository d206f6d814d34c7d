import { AppError } from '../../common/errors.js';
import { hashSecret, verifySecret } from '../../common/secret-hash.js';
import { AuditLogRepository } from '../accounts/audit-log.repository.js';
import {
  requireCurrentTerms,
  requireStrongPassword,
  sendAll,
  type IdentityDeps,
} from '../identity.context.js';
import { InvitationsRepository } from './invitations.repository.js';
import { createInvitation } from './invitations.service.js';
import { OrganisationsRepository, type Organisation } from './organisations.repository.js';
import { transaction } from '../db/transaction.js';
import { UsersRepository } from '../accounts/users.repository.js';
import type { Role } from './roles.js';

export interface InvitationRequest {
  email: string;
  /** What the organisation calls the person; they may correct it when they accept. */
  name: string;
  role: Role;
}

export interface AcceptInvitationRequest {
  token: string;
  password: string;
  termsVersion: string;
  name?: string;
}

/**
 * Organisations and how people join them (P6): whoever creates an organisation owns it; its
 * owners and admins invite people by e-mail. An invitation to an address without an account
 * creates an inactive one, which becomes a verified member only by accepting the invitation
 * and the privacy terms through the e-mailed link, and is deleted by the jobs when the link
 * expires unused (P7). Membership starts on acceptance, never before.
 */
export class OrganisationsService {
  constructor(private readonly deps: IdentityDeps) {}

  async create(
    userId: string,
    input: { name: string; address?: string | null; region?: string },
  ): Promise<Organisation> {
    return transaction(this.deps.pool, async (client) => {
      const organisations = new OrganisationsRepository(client, this.deps.crypto);
      const org = await organisations.create(input.name, input);
      await organisations.addMember(org.id, userId, 'owner');
      await new AuditLogRepository(client).record({
        userId,
        actorUserId: userId,
        action: 'organisation.created',
        details: { orgId: org.id, role: 'owner' },
      });
      return org;
    });
  }

  async invite(
    inviterId: string,
    orgId: string,
    request: InvitationRequest,
  ): Promise<{ expiresAt: Date; role: Role }> {
    const { mail, expiresAt } = await transaction(this.deps.pool, async (client) => {
      const organisations = new OrganisationsRepository(client, this.deps.crypto);
      const mine = await organisations.membership(orgId, inviterId);
      if (!mine) throw new AppError('NOT_FOUND');
      if (!mayInvite(mine.role, request.role)) throw new AppError('FORBIDDEN');

      const users = new UsersRepository(client, this.deps.crypto);
      const existing = await users.findByEmail(request.email);
      if (existing && (await organisations.membership(orgId, existing.id))) {
        throw new AppError('CONFLICT');
      }
      const org = (await organisations.find(orgId))!;
      return createInvitation(client, this.deps, {
        org,
        email: request.email,
        name: request.name,
        role: request.role,
        inviterId,
      });
    });
    await sendAll(this.deps.mailer, [mail]);
    return { expiresAt, role: request.role };
  }

  /**
   * Accepts an invitation through its link. An account created for the invitation gets its
   * password and becomes verified (the link proves the address); an existing account must
   * give its current password, which is never replaced this way.
   */
  async accept(request: AcceptInvitationRequest): Promise<{ orgId: string; role: Role }> {
    const { crypto, settings } = this.deps;
    requireCurrentTerms(settings, request.termsVersion);
    return transaction(this.deps.pool, async (client) => {
      const invitation = await new InvitationsRepository(client).consume(request.token);
      if (!invitation) throw new AppError('TOKEN_INVALID');
      const users = new UsersRepository(client, crypto);
      const account = await users.findById(invitation.userId);
      if (!account) throw new AppError('TOKEN_INVALID');
      const audit = new AuditLogRepository(client);
      const { userId, orgId, role } = invitation;

      if (account.verified && account.passwordHash !== null) {
        if (!(await verifySecret(request.password, account.passwordHash))) {
          throw new AppError('INVALID_CREDENTIALS');
        }
      } else {
        requireStrongPassword(request.password);
        await users.setPassword(userId, await hashSecret(request.password));
        if (await users.markVerified(userId)) {
          await audit.record({ userId, actorUserId: userId, action: 'email.verified' });
        }
      }
      await users.acceptTerms(userId, request.termsVersion);
      if (request.name !== undefined) {
        const fields = await users.update(userId, { name: request.name });
        if (fields.length > 0) {
          await audit.record({
            userId,
            actorUserId: userId,
            action: 'profile.updated',
            details: { fields },
          });
        }
      }
      await new OrganisationsRepository(client, crypto).addMember(orgId, userId, role);
      await audit.record({
        userId,
        actorUserId: userId,
        action: 'invitation.accepted',
        details: { orgId, role },
      });
      return { orgId, role };
    });
  }
}

/** Owners invite anyone; admins invite anyone but owners (P6). */
export function mayInvite(inviterRole: Role, role: Role): boolean {
  return inviterRole === 'owner' || (inviterRole === 'admin' && role !== 'owner');
}
