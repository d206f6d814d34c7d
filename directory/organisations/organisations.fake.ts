import { randomUUID } from 'node:crypto';
import { AppError } from '../../common/errors.js';
import { newPseudonym } from '../../common/ids.js';
import {
  fakePasswordHash,
  newLinkToken,
  type FakeMail,
  type FakeUsers,
} from '../accounts/accounts.fake.js';
import type { AuditLogRepository } from '../accounts/audit-log.repository.js';
import type { Membership } from '../accounts/users.repository.js';
import { requireStrongPassword } from '../identity.context.js';
import type { InvitationPosition, PendingInvitationRow } from './invitations.repository.js';
import type { MemberPosition, MemberRow } from './members.repository.js';
import {
  checkMembershipChange,
  type Actor,
  type Member,
  type MembersService,
} from './members.service.js';
import type { Organisation, OrganisationsRepository } from './organisations.repository.js';
import {
  acceptanceOf,
  DEFAULT_ORGS_PER_USER,
  mayInvite,
  pendingInvitation,
  type AcceptedInvitation,
  type AcceptInvitationRequest,
  type InvitationRequest,
  type OrganisationsService,
  type PendingInvitation,
} from './organisations.service.js';
import type { Role } from './roles.js';
import type { PasswordGuard } from '../sessions/password-guard.js';

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
  private readonly stamp = new PrintedTimes();

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

  /** How many organisations the user owns, as the repository counts them under its lock. */
  lockOwnedCount(userId: string): Promise<number> {
    return answer(
      () => this.memberships.filter((m) => m.userId === userId && m.role === 'owner').length,
    );
  }

  /** Adds a member; false, changing nothing, when they are one already (as the repository). */
  addMember(orgId: string, userId: string, role: Role): Promise<boolean> {
    return answer(() => {
      if (!this.orgs.has(orgId)) throw new Error(`no organisation ${orgId}`);
      if (this.find1(orgId, userId)) return false;
      const now = this.now();
      this.memberships.push({
        orgId,
        userId,
        role,
        joinedAt: new Date(now),
        position: this.stamp.print(now),
      });
      return true;
    });
  }

  /** Changes a member's role, as MembersRepository.setRole. */
  setRole(orgId: string, userId: string, role: Role): void {
    const member = this.find1(orgId, userId);
    if (member) member.role = role;
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

interface StoredInvitation extends PendingInvitationRow {
  orgId: string;
}

/**
 * OrganisationsService over the fakes (P6): the creator owns the organisation; owners invite
 * anyone, admins anyone but owners, and revoke what they may invite; an invitation to a new
 * address creates an inactive account the organisation created, which accepting the link
 * activates. Acceptance follows the service's rule (acceptanceOf): refused once the inviter may
 * no longer invite, and never a change of an existing member's role.
 */
export class FakeOrganisationsService implements Pick<
  OrganisationsService,
  keyof OrganisationsService
> {
  readonly outbox: FakeMail[] = [];
  /** By token. */
  private readonly pending = new Map<string, StoredInvitation>();
  private readonly stamp = new PrintedTimes();
  /** Each user's latest creation: the next one waits for it, as for the repository's lock. */
  private readonly creating = new Map<string, Promise<unknown>>();

  constructor(
    private readonly deps: FakeDirectoryDeps & {
      termsVersion: string;
      invitationTtlDays: number;
      passwords: Pick<PasswordGuard, 'check'>;
      orgsPerUser?: number;
    },
  ) {}

  create(
    userId: string,
    input: { name: string; address?: string | null; region?: string },
  ): Promise<Organisation> {
    const created = (this.creating.get(userId) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        const { organisations, audit } = this.deps;
        const limit = this.deps.orgsPerUser ?? DEFAULT_ORGS_PER_USER;
        if ((await organisations.lockOwnedCount(userId)) >= limit) {
          throw new AppError('CONFLICT', { reason: 'org-limit', limit });
        }
        const org = await organisations.create(input.name, input);
        await organisations.addMember(org.id, userId, 'owner');
        await audit.record({
          userId,
          actorUserId: userId,
          action: 'organisation.created',
          details: { orgId: org.id, role: 'owner' },
        });
        return org;
      });
    this.creating.set(userId, created);
    return created;
  }

  async invite(
    inviterId: string,
    orgId: string,
    request: InvitationRequest,
  ): Promise<{ id: string; expiresAt: Date; role: Role }> {
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
    const now = this.now();
    const invitation: StoredInvitation = {
      id: randomUUID(),
      orgId,
      userId,
      role: request.role,
      invitedBy: inviterId,
      createdAt: new Date(now),
      expiresAt: new Date(now + this.deps.invitationTtlDays * 86_400_000),
      position: this.stamp.print(now),
    };
    const token = newLinkToken();
    this.pending.set(token, invitation);
    this.outbox.push({ to: request.email.trim(), purpose: 'invitation', token });
    return { id: invitation.id, expiresAt: invitation.expiresAt, role: request.role };
  }

  /** One page of the organisation's pending invitations, oldest first, as the service reads it. */
  async invitations(
    orgId: string,
    page: { limit: number; after?: InvitationPosition },
  ): Promise<PendingInvitation[]> {
    const rows = [...this.pending.values()]
      .filter((i) => i.orgId === orgId && this.live(i))
      .sort((a, b) => compare([a.position, a.id], [b.position, b.id]))
      .filter(
        (i) =>
          !page.after || compare([i.position, i.id], [page.after.createdAt, page.after.id]) > 0,
      )
      .slice(0, page.limit);
    const profiles = await this.deps.users.profiles(
      rows.flatMap((r) => (r.invitedBy ? [r.userId, r.invitedBy] : [r.userId])),
    );
    return rows.map((row) => pendingInvitation(row, profiles));
  }

  async revokeInvitation(actor: Actor, orgId: string, invitationId: string): Promise<void> {
    const mine = await this.deps.organisations.membership(orgId, actor.userId);
    if (!mine) throw new AppError('NOT_FOUND');
    const found = [...this.pending].find(
      ([, i]) => i.id === invitationId && i.orgId === orgId && this.live(i),
    );
    if (!found) throw new AppError('NOT_FOUND');
    const [token, invitation] = found;
    if (!mayInvite(mine.role, invitation.role)) throw new AppError('FORBIDDEN');
    this.pending.delete(token);
    await this.deps.audit.record({
      userId: invitation.userId,
      actorUserId: actor.userId,
      action: 'invitation.revoked',
      details: { orgId, role: invitation.role },
    });
  }

  async accept(request: AcceptInvitationRequest): Promise<AcceptedInvitation> {
    const { organisations, users, audit } = this.deps;
    if (request.termsVersion !== this.deps.termsVersion) {
      throw new AppError('TERMS_NOT_ACCEPTED', { currentVersion: this.deps.termsVersion });
    }
    const invitation = this.pending.get(request.token);
    if (!invitation || !this.live(invitation)) throw new AppError('TOKEN_INVALID');
    const account = await users.findById(invitation.userId);
    if (!account) throw new AppError('TOKEN_INVALID');
    const { userId, orgId } = invitation;
    const acceptance = acceptanceOf(organisations.roles(orgId), invitation);
    if (!acceptance) {
      // Spent, as the directory commits the consumed invitation before it refuses.
      this.pending.delete(request.token);
      throw new AppError('TOKEN_INVALID');
    }
    if (account.verified && account.passwordHash !== null) {
      await this.deps.passwords.check(account, request.password, request.client);
    } else {
      requireStrongPassword(request.password);
      await users.setPassword(userId, fakePasswordHash(request.password));
      await users.markVerified(userId);
    }
    // Single use: consumed only once it is accepted, as the directory's transaction commits.
    this.pending.delete(request.token);
    await users.acceptTerms(userId, request.termsVersion);
    if (request.name !== undefined) await users.update(userId, { name: request.name });
    const joined =
      !acceptance.alreadyMember && (await organisations.addMember(orgId, userId, acceptance.role));
    const { role } = acceptance;
    await audit.record({
      userId,
      actorUserId: userId,
      action: 'invitation.accepted',
      details: { orgId, role, ...(joined ? {} : { alreadyMember: true }) },
    });
    return { orgId, role, alreadyMember: !joined };
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private live(invitation: StoredInvitation): boolean {
    return invitation.expiresAt.getTime() > this.now();
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
    this.deps.organisations.setRole(orgId, userId, role);
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

/**
 * Times printed as Postgres prints a timestamptz, to the microsecond: positions of keyset pages.
 * Postgres stamps rows to the microsecond; this keeps rows made within one millisecond apart.
 */
class PrintedTimes {
  private count = 0;

  print(ms: number): string {
    const micro = String((ms % 1000) * 1000 + (this.count++ % 1000)).padStart(6, '0');
    return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}.${micro}+00`;
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
