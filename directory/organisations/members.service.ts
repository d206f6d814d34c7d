import { AppError } from '../../common/errors.js';
import { AuditLogRepository } from '../accounts/audit-log.repository.js';
import type { DirectoryCrypto } from '../crypto/crypto.config.js';
import { MembersRepository, type MemberPosition } from './members.repository.js';
import { transaction, type Queryable } from '../db/transaction.js';
import { UsersRepository } from '../accounts/users.repository.js';
import { hasRole, type Role } from './roles.js';

export interface Member {
  userId: string;
  role: Role;
  joinedAt: Date;
  /** Where a page that ends with this member continues (see MembersRepository.page). */
  position: string;
  /** Null when the account's data key has been shredded. */
  name: string | null;
  email: string | null;
  /** The organisation's invitation created the account, so its admins may delete it (P6). */
  accountCreatedByOrganisation: boolean;
}

/** Who acts: the caller and the role the request was admitted with. */
export interface Actor {
  userId: string;
}

/**
 * An organisation's members (P6): its admins change roles, remove members and delete the
 * accounts the organisation created, under these rules:
 * - only owners make, change or remove owners;
 * - the last owner can be neither demoted nor removed (409), so an organisation always has one;
 * - an account may be deleted only if the organisation's invitation created it and it belongs
 *   to no other organisation (nor is invited by one, nor holds a platform role); the database
 *   function that deletes it checks this again. Everyone else can only be removed.
 * Every change is recorded in the audit history (P11).
 */
export class MembersService {
  constructor(
    private readonly pool: Queryable,
    private readonly crypto: DirectoryCrypto,
  ) {}

  async page(orgId: string, page: { limit: number; after?: MemberPosition }): Promise<Member[]> {
    const members = new MembersRepository(this.pool);
    const rows = await members.page(orgId, page);
    const ids = rows.map((r) => r.userId);
    const [profiles, created] = await Promise.all([
      new UsersRepository(this.pool, this.crypto).profiles(ids),
      members.createdBy(orgId, ids),
    ]);
    return rows.map((row) => {
      const profile = profiles.get(row.userId);
      return {
        ...row,
        name: profile?.name ?? null,
        email: profile?.email ?? null,
        accountCreatedByOrganisation: created.has(row.userId),
      };
    });
  }

  async changeRole(actor: Actor, orgId: string, userId: string, role: Role): Promise<Role> {
    return transaction(this.pool, async (client) => {
      const members = new MembersRepository(client);
      const current = await this.checked(members, actor, orgId, userId, role);
      if (current === role) return role;
      await members.setRole(orgId, userId, role);
      await new AuditLogRepository(client).record({
        userId,
        actorUserId: actor.userId,
        action: 'membership.role_changed',
        details: { orgId, from: current, to: role },
      });
      return role;
    });
  }

  async remove(actor: Actor, orgId: string, userId: string): Promise<void> {
    await transaction(this.pool, async (client) => {
      const members = new MembersRepository(client);
      const role = await this.checked(members, actor, orgId, userId, null);
      await members.remove(orgId, userId);
      await new AuditLogRepository(client).record({
        userId,
        actorUserId: actor.userId,
        action: 'membership.removed',
        details: { orgId, role },
      });
    });
  }

  /** Deletes the member's whole account (P6); see the class comment for when it may. */
  async deleteAccount(actor: Actor, orgId: string, userId: string): Promise<void> {
    // One's own account is deleted through the account's own erasure, not as an admin.
    if (userId === actor.userId) throw new AppError('FORBIDDEN');
    await transaction(this.pool, async (client) => {
      const members = new MembersRepository(client);
      const role = await this.checked(members, actor, orgId, userId, null);
      if (!(await members.eraseInvitedAccount(orgId, userId))) {
        throw new AppError('CONFLICT', { reason: 'account-not-deletable' });
      }
      // The account's own history went with it; the admin's records the deletion, without the
      // erased account's id, which would link nothing any more (P17).
      await new AuditLogRepository(client).record({
        userId: actor.userId,
        actorUserId: actor.userId,
        action: 'member_account.deleted',
        details: { orgId, role },
      });
    });
  }

  /**
   * Locks the organisation's memberships and applies the owner rules to a change of `userId`
   * to `newRole` (null: leaving). Returns the member's current role.
   */
  private async checked(
    members: MembersRepository,
    actor: Actor,
    orgId: string,
    userId: string,
    newRole: Role | null,
  ): Promise<Role> {
    // Re-read under the lock: the caller may have lost the role since the request began.
    return checkMembershipChange(await members.lockAll(orgId), actor, userId, newRole);
  }
}

/**
 * The owner rules for a change of `userId` to `newRole` (null: leaving), given every member's
 * role: only admins and owners change memberships, only owners touch owners, and the last
 * owner stays. Returns the member's current role.
 */
export function checkMembershipChange(
  roles: ReadonlyMap<string, Role>,
  actor: Actor,
  userId: string,
  newRole: Role | null,
): Role {
  const actorRole = roles.get(actor.userId);
  if (!actorRole) throw new AppError('NOT_FOUND');
  if (!hasRole(actorRole, 'admin')) throw new AppError('FORBIDDEN');
  const current = roles.get(userId);
  if (!current) throw new AppError('NOT_FOUND');
  if ((current === 'owner' || newRole === 'owner') && actorRole !== 'owner') {
    throw new AppError('FORBIDDEN');
  }
  const owners = [...roles.values()].filter((r) => r === 'owner').length;
  if (current === 'owner' && newRole !== 'owner' && owners <= 1) {
    throw new AppError('CONFLICT', { reason: 'last-owner' });
  }
  return current;
}
