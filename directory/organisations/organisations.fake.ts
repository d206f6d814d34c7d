import { randomUUID } from 'node:crypto';
import { AppError } from '../../common/errors.js';
import { newPseudonym } from '../../common/ids.js';
import { verifySecret } from '../../common/secret-hash.js';
import {
  fakePasswordHash,
  newLinkToken,
  type FakeMail,
  type FakeUsers,
} from '../accounts/accounts.fake.js';
import type { AuditLogRepository } from '../accounts/audit-log.repository.js';
import type { Membership } from '../accounts/users.repository.js';
import { requireStrongPassword } from '../identity.context.js';
import type { MemberPosition, MemberRow } from './members.repository.js';
import {
  checkMembershipChange,
  type Actor,
  type Member,
  type MembersService,
} from './members.service.js';
import type { Organisation, OrganisationsRepository } from './organisations.repository.js';
import {
  mayInvite,
  type AcceptInvitationRequest,
  type InvitationRequest,
  type OrganisationsService,
} from './organisations.service.js';
import type { Role } from './roles.js';

type OrganisationStore = Pick<OrganisationsRepository, keyof OrganisationsRepository>;

interface StoredMembership extends MemberRow {
  orgId: string;
}

/**
 * Organisations and memberships in memory. `membership` is the lookup every organisation route
 * runs first: null for a non-member and for an id that is no organisation, so both answer 404.
 */
export class FakeOrganisations implements OrganisationStore {
  private readonly orgs = new Map<string, Organisation>();
  private readonly memberships: StoredMembership[] = [];
  /** Postgres stamps joins to the microsecond; this keeps joins within one millisecond apart. */
  private joins = 0;

  constructor(private readonly now: () => number = Date.now) {}

  create(
    name: string,
    options: { address?: string | null; region?: string } = {},
  ): Promise<Organisation> {
    return answer(() => {
      const org: Organisation = {
        id: randomUUID(),
        name,
        address: options.address ?? null,
        region: options.region ?? 'eu',
        tenantKey: newPseudonym(),
      };
      this.orgs.set(org.id, org);
      return { ...org };
    });
  }

  find(orgId: string): Promise<Organisation | null> {
    return answer(() => {
      const org = this.orgs.get(orgId);
      return org ? { ...org } : null;
    });
  }

  /** Adds a member, or changes the role of one, as the repository's upsert does. */
  addMember(orgId: string, userId: string, role: Role): Promise<void> {
    return answer(() => {
      if (!this.orgs.has(orgId)) throw new Error(`no organisation ${orgId}`);
      const known = this.find1(orgId, userId);
      if (known) {
        known.role = role;
        return;
      }
      const now = this.now();
      const micro = String((now % 1000) * 1000 + (this.joins++ % 1000)).padStart(6, '0');
      const printed = new Date(now).toISOString().slice(0, 19).replace('T', ' ');
      this.memberships.push({
        orgId,
        userId,
        role,
        joinedAt: new Date(now),
        position: `${printed}.${micro}+00`,
      });
    });
  }

  membership(orgId: string, userId: string): Promise<{ role: Role; tenantKey: string } | null> {
    return answer(() => {
      const org = this.orgs.get(orgId);
      const member = this.find1(orgId, userId);
      return org && member ? { role: member.role, tenantKey: org.tenantKey } : null;
    });
  }

  /** The user's organisations by name, as UsersRepository.memberships lists them. */
  membershipsOf(userId: string): Promise<Membership[]> {
    return answer(() =>
      this.memberships
        .filter((m) => m.userId === userId)
        .map((m) => ({ orgId: m.orgId, orgName: this.orgs.get(m.orgId)!.name, role: m.role }))
        .sort((a, b) => a.orgName.localeCompare(b.orgName) || a.orgId.localeCompare(b.orgId)),
    );
  }

  /** One page by join time, then user id, as MembersRepository.page reads it. */
  page(orgId: string, page: { limit: number; after?: MemberPosition }): Promise<MemberRow[]> {
    return answer(() =>
      this.memberships
        .filter((m) => m.orgId === orgId)
        .sort((a, b) => compare([a.position, a.userId], [b.position, b.userId]))
        .filter(
          (m) =>
            !page.after ||
            compare([m.position, m.userId], [page.after.joinedAt, page.after.userId]) > 0,
        )
        .slice(0, page.limit)
        .map(({ userId, role, joinedAt, position }) => ({
          userId,
          role,
          joinedAt: new Date(joinedAt),
          position,
        })),
    );
  }

  /** Every member's role: what MembersRepository.lockAll reads under its lock. */
  roles(orgId: string): Map<string, Role> {
    return new Map(
      this.memberships.filter((m) => m.orgId === orgId).map((m) => [m.userId, m.role]),
    );
  }

  removeMember(orgId: string, userId: string): void {
    const at = this.memberships.findIndex((m) => m.orgId === orgId && m.userId === userId);
    if (at >= 0) this.memberships.splice(at, 1);
  }

  /** The organisations the user belongs to. */
  orgsOf(userId: string): string[] {
    return this.memberships.filter((m) => m.userId === userId).map((m) => m.orgId);
  }

  private find1(orgId: string, userId: string): StoredMembership | undefined {
    return this.memberships.find((m) => m.orgId === orgId && m.userId === userId);
  }
}

interface FakeDirectoryDeps {
  organisations: FakeOrganisations;
  users: FakeUsers;
  audit: Pick<AuditLogRepository, 'record'>;
  now?: () => number;
}

/**
 * OrganisationsService over the fakes (P6): the creator owns the organisation; owners invite
 * anyone, admins anyone but owners; an invitation to a new address creates an inactive account
 * the organisation created, which accepting the link activates.
 */
export class FakeOrganisationsService implements Pick<
  OrganisationsService,
  keyof OrganisationsService
> {
  readonly outbox: FakeMail[] = [];
  private readonly invitations = new Map<
    string,
    { orgId: string; userId: string; role: Role; expiresAt: Date }
  >();

  constructor(
    private readonly deps: FakeDirectoryDeps & {
      termsVersion: string;
      invitationTtlDays: number;
    },
  ) {}

  async create(
    userId: string,
    input: { name: string; address?: string | null; region?: string },
  ): Promise<Organisation> {
    const { organisations, audit } = this.deps;
    const org = await organisations.create(input.name, input);
    await organisations.addMember(org.id, userId, 'owner');
    await audit.record({
      userId,
      actorUserId: userId,
      action: 'organisation.created',
      details: { orgId: org.id, role: 'owner' },
    });
    return org;
  }

  async invite(
    inviterId: string,
    orgId: string,
    request: InvitationRequest,
  ): Promise<{ expiresAt: Date; role: Role }> {
    const { organisations, users } = this.deps;
    const mine = await organisations.membership(orgId, inviterId);
    if (!mine) throw new AppError('NOT_FOUND');
    if (!mayInvite(mine.role, request.role)) throw new AppError('FORBIDDEN');
    const existing = await users.findByEmail(request.email);
    if (existing && (await organisations.membership(orgId, existing.id))) {
      throw new AppError('CONFLICT');
    }
    const userId =
      existing?.id ??
      (await users.create({
        email: request.email,
        displayName: request.name,
        passwordHash: null,
        verified: false,
        origin: 'invitation',
        createdByOrgId: orgId,
      }));
    const now = (this.deps.now ?? Date.now)();
    const expiresAt = new Date(now + this.deps.invitationTtlDays * 86_400_000);
    const token = newLinkToken();
    this.invitations.set(token, { orgId, userId, role: request.role, expiresAt });
    this.outbox.push({ to: request.email.trim(), purpose: 'invitation', token });
    return { expiresAt, role: request.role };
  }

  async accept(request: AcceptInvitationRequest): Promise<{ orgId: string; role: Role }> {
    const { organisations, users, audit } = this.deps;
    if (request.termsVersion !== this.deps.termsVersion) {
      throw new AppError('TERMS_NOT_ACCEPTED', { currentVersion: this.deps.termsVersion });
    }
    const invitation = this.invitations.get(request.token);
    const now = (this.deps.now ?? Date.now)();
    if (!invitation || invitation.expiresAt.getTime() <= now) throw new AppError('TOKEN_INVALID');
    const account = await users.findById(invitation.userId);
    if (!account) throw new AppError('TOKEN_INVALID');
    const { userId, orgId, role } = invitation;
    if (account.verified && account.passwordHash !== null) {
      if (!(await verifySecret(request.password, account.passwordHash))) {
        throw new AppError('INVALID_CREDENTIALS');
      }
    } else {
      requireStrongPassword(request.password);
      await users.setPassword(userId, fakePasswordHash(request.password));
      await users.markVerified(userId);
    }
    // Single use: consumed only once it is accepted, as the directory's transaction commits.
    this.invitations.delete(request.token);
    await users.acceptTerms(userId, request.termsVersion);
    if (request.name !== undefined) await users.update(userId, { name: request.name });
    await organisations.addMember(orgId, userId, role);
    await audit.record({
      userId,
      actorUserId: userId,
      action: 'invitation.accepted',
      details: { orgId, role },
    });
    return { orgId, role };
  }
}

/**
 * MembersService over the fakes, with its rules: only owners make, change or remove owners; the
 * last owner stays (409); only an account the organisation's invitation created, and that
 * belongs to no other organisation, may be deleted (P6). Every change is audited (P11).
 */
export class FakeMembersService implements Pick<MembersService, keyof MembersService> {
  constructor(private readonly deps: FakeDirectoryDeps) {}

  async page(orgId: string, page: { limit: number; after?: MemberPosition }): Promise<Member[]> {
    const rows = await this.deps.organisations.page(orgId, page);
    const profiles = await this.deps.users.profiles(rows.map((r) => r.userId));
    return rows.map((row) => ({
      ...row,
      name: profiles.get(row.userId)?.name ?? null,
      email: profiles.get(row.userId)?.email ?? null,
      accountCreatedByOrganisation: this.deps.users.createdBy(row.userId) === orgId,
    }));
  }

  async changeRole(actor: Actor, orgId: string, userId: string, role: Role): Promise<Role> {
    const current = this.checked(actor, orgId, userId, role);
    if (current === role) return role;
    await this.deps.organisations.addMember(orgId, userId, role);
    await this.deps.audit.record({
      userId,
      actorUserId: actor.userId,
      action: 'membership.role_changed',
      details: { orgId, from: current, to: role },
    });
    return role;
  }

  async remove(actor: Actor, orgId: string, userId: string): Promise<void> {
    const role = this.checked(actor, orgId, userId, null);
    this.deps.organisations.removeMember(orgId, userId);
    await this.deps.audit.record({
      userId,
      actorUserId: actor.userId,
      action: 'membership.removed',
      details: { orgId, role },
    });
  }

  async deleteAccount(actor: Actor, orgId: string, userId: string): Promise<void> {
    if (userId === actor.userId) throw new AppError('FORBIDDEN');
    const role = this.checked(actor, orgId, userId, null);
    const { organisations, users } = this.deps;
    const elsewhere = organisations.orgsOf(userId).some((id) => id !== orgId);
    if (users.createdBy(userId) !== orgId || elsewhere) {
      throw new AppError('CONFLICT', { reason: 'account-not-deletable' });
    }
    organisations.removeMember(orgId, userId);
    users.erase(userId);
    await this.deps.audit.record({
      userId: actor.userId,
      actorUserId: actor.userId,
      action: 'member_account.deleted',
      details: { orgId, role },
    });
  }

  private checked(actor: Actor, orgId: string, userId: string, newRole: Role | null): Role {
    return checkMembershipChange(this.deps.organisations.roles(orgId), actor, userId, newRole);
  }
}

function compare(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return 0;
}

function answer<T>(read: () => T): Promise<T> {
  return Promise.resolve().then(read);
}
