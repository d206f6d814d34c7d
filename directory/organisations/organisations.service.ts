import { AppError } from '../../common/errors.js';
import { hashSecret } from '../../common/secret-hash.js';
import { AuditLogRepository } from '../accounts/audit-log.repository.js';
import {
  requireCurrentTerms,
  requireStrongPassword,
  sendAll,
  type IdentityDeps,
} from '../identity.context.js';
import {
  InvitationsRepository,
  type Invitation,
  type InvitationPosition,
  type PendingInvitationRow,
} from './invitations.repository.js';
import { createInvitation } from './invitations.service.js';
import { MembersRepository } from './members.repository.js';
import type { Actor } from './members.service.js';
import { OrganisationsRepository, type Organisation } from './organisations.repository.js';
import type { CheckClient, PasswordGuard } from '../sessions/password-guard.js';
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
  /** Where the request came from: an existing account's password is checked under the throttle. */
  client: CheckClient;
}

export interface AcceptedInvitation {
  orgId: string;
  /** The role the person holds now: the invitation's, or the one they already had. */
  role: Role;
  /** They were a member already: the invitation was spent and their role left as it was. */
  alreadyMember: boolean;
}

/** A pending invitation as the organisation's owners and admins see it. */
export interface PendingInvitation {
  id: string;
  /** The address the organisation invited; null when the account's data key has been shredded. */
  email: string | null;
  role: Role;
  /** Null for an operator's invitation (`create-org`). */
  inviter: { userId: string; name: string | null } | null;
  createdAt: Date;
  expiresAt: Date;
  /** Where a page that ends with this invitation continues (see InvitationsRepository.pending). */
  position: string;
}

/**
 * How many organisations one user may own when they create another (ORGS_PER_USER): each one
 * is a tenant with its own data key, devices and telemetry, so creating them must not be free.
 */
export const DEFAULT_ORGS_PER_USER = 20;

/**
 * Organisations and how people join them (P6): whoever creates an organisation owns it; its
 * owners and admins invite people by e-mail, list the invitations still pending and revoke
 * them. An invitation to an address without an account creates an inactive one, which becomes
 * a verified member only by accepting the invitation and the privacy terms through the e-mailed
 * link, and is deleted by the jobs when the link expires unused (P7). Membership starts on
 * acceptance, never before, and only while the inviter may still make the invitation (see
 * acceptanceOf).
 */
export class OrganisationsService {
  constructor(
    private readonly deps: IdentityDeps & {
      passwords: Pick<PasswordGuard, 'check'>;
      orgsPerUser?: number;
    },
  ) {}

  /**
   * Creates an organisation the user owns; CONFLICT (`org-limit`), changing nothing, when they
   * own `orgsPerUser` already. Organisations they were invited to own count too: ownership,
   * not who created it, is what can be handed on.
   */
  async create(
    userId: string,
    input: { name: string; address?: string | null; region?: string },
  ): Promise<Organisation> {
    return transaction(this.deps.pool, async (client) => {
      const organisations = new OrganisationsRepository(client, this.deps.crypto);
      const limit = this.deps.orgsPerUser ?? DEFAULT_ORGS_PER_USER;
      if ((await organisations.lockOwnedCount(userId)) >= limit) {
        throw new AppError('CONFLICT', { reason: 'org-limit', limit });
      }
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
  ): Promise<{ id: string; expiresAt: Date; role: Role }> {
    const { id, mail, expiresAt } = await transaction(this.deps.pool, async (client) => {
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
    return { id, expiresAt, role: request.role };
  }

  /** One page of the organisation's pending invitations, oldest first. */
  async invitations(
    orgId: string,
    page: { limit: number; after?: InvitationPosition },
  ): Promise<PendingInvitation[]> {
    const rows = await new InvitationsRepository(this.deps.pool).pending(orgId, page);
    const profiles = await new UsersRepository(this.deps.pool, this.deps.crypto).profiles(
      rows.flatMap((r) => (r.invitedBy ? [r.userId, r.invitedBy] : [r.userId])),
    );
    return rows.map((row) => pendingInvitation(row, profiles));
  }

  /**
   * Revokes a pending invitation: its link stops working at once. Whoever may make an invitation
   * may revoke it (mayInvite), so only owners revoke owners' invitations. Recorded in the
   * invitee's audit history, with the revoker as the actor (P11).
   */
  async revokeInvitation(actor: Actor, orgId: string, invitationId: string): Promise<void> {
    await transaction(this.deps.pool, async (client) => {
      const mine = await new OrganisationsRepository(client, this.deps.crypto).membership(
        orgId,
        actor.userId,
      );
      if (!mine) throw new AppError('NOT_FOUND');
      const revoked = await new InvitationsRepository(client).revoke(orgId, invitationId);
      if (!revoked) throw new AppError('NOT_FOUND');
      // Thrown inside the transaction: the deletion above is rolled back.
      if (!mayInvite(mine.role, revoked.role)) throw new AppError('FORBIDDEN');
      await new AuditLogRepository(client).record({
        userId: revoked.userId,
        actorUserId: actor.userId,
        action: 'invitation.revoked',
        details: { orgId, role: revoked.role },
      });
    });
  }

  /**
   * Accepts an invitation through its link. An account created for the invitation gets its
   * password and becomes verified (the link proves the address); an existing account must
   * give its current password, which is never replaced this way. See acceptanceOf for when the
   * invitation is refused and what it does to someone who is a member already.
   */
  async accept(request: AcceptInvitationRequest): Promise<AcceptedInvitation> {
    const { crypto, settings } = this.deps;
    requireCurrentTerms(settings, request.termsVersion);
    const accepted = await transaction(this.deps.pool, async (client) => {
      const invitation = await new InvitationsRepository(client).consume(request.token);
      if (!invitation) throw new AppError('TOKEN_INVALID');
      const users = new UsersRepository(client, crypto);
      const account = await users.findById(invitation.userId);
      if (!account) throw new AppError('TOKEN_INVALID');
      const { userId, orgId } = invitation;
      // Under the lock that role changes and removals take, so the inviter's role and the
      // person's membership cannot change before this transaction ends.
      const acceptance = acceptanceOf(
        await new MembersRepository(client).lockAll(orgId),
        invitation,
      );
      // Returned, not thrown, so that the consumed invitation is committed: it is spent.
      if (!acceptance) return null;
      const audit = new AuditLogRepository(client);

      if (account.verified && account.passwordHash !== null) {
        // Under the sign-in throttle: a link must not allow unlimited guesses (P10).
        await this.deps.passwords.check(account, request.password, request.client);
      } else {
        requireStrongPassword(request.password);
        await users.setPassword(userId, await hashSecret(request.password, settings.passwordCost));
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
      const organisations = new OrganisationsRepository(client, crypto);
      const joined =
        !acceptance.alreadyMember &&
        (await organisations.addMember(orgId, userId, acceptance.role));
      // Read back, not assumed: another invitation of the person, accepted at the same moment,
      // may have made them a member after the lock was taken (the lock holds existing rows only).
      const { role } = (await organisations.membership(orgId, userId))!;
      await audit.record({
        userId,
        actorUserId: userId,
        action: 'invitation.accepted',
        details: { orgId, role, ...(joined ? {} : { alreadyMember: true }) },
      });
      return { orgId, role, alreadyMember: !joined };
    });
    if (!accepted) throw new AppError('TOKEN_INVALID');
    return accepted;
  }
}

/** Owners invite anyone; admins invite anyone but owners (P6). */
export function mayInvite(inviterRole: Role, role: Role): boolean {
  return inviterRole === 'owner' || (inviterRole === 'admin' && role !== 'owner');
}

/**
 * What accepting `invitation` does, given every member's role now (P6), or null when it is
 * refused. It is refused when its inviter is no longer a member or no longer may invite at its
 * role: an invitation carries its inviter's rights, so it must not outlive them. An operator's
 * invitation (no inviter) has no such limit. Someone who is a member already keeps the role
 * they have: accepting never raises or lowers a membership, which would bypass the owner rules
 * (checkMembershipChange), e.g. the last owner accepting an old viewer invitation.
 */
export function acceptanceOf(
  roles: ReadonlyMap<string, Role>,
  invitation: Pick<Invitation, 'userId' | 'role' | 'invitedBy'>,
): { role: Role; alreadyMember: boolean } | null {
  if (invitation.invitedBy !== null) {
    const inviterRole = roles.get(invitation.invitedBy);
    if (!inviterRole || !mayInvite(inviterRole, invitation.role)) return null;
  }
  const current = roles.get(invitation.userId);
  return current
    ? { role: current, alreadyMember: true }
    : { role: invitation.role, alreadyMember: false };
}

/** A pending invitation with the invitee's address and the inviter's name opened. */
export function pendingInvitation(
  row: PendingInvitationRow,
  profiles: ReadonlyMap<string, { name: string; email: string }>,
): PendingInvitation {
  return {
    id: row.id,
    email: profiles.get(row.userId)?.email ?? null,
    role: row.role,
    inviter: row.invitedBy
      ? { userId: row.invitedBy, name: profiles.get(row.invitedBy)?.name ?? null }
      : null,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    position: row.position,
  };
}
