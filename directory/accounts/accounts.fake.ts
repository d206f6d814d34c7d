import { randomUUID } from 'node:crypto';
import { AppError } from '../../common/errors.js';
import { hashDeviceSecret } from '../../common/secret-hash.js';
import { normaliseEmail } from '../crypto/blind-index.js';
import { newOneTimeToken } from '../crypto/one-time-token.js';
import { requireStrongPassword } from '../identity.context.js';
import type { AuditEntry, AuditLogRepository } from './audit-log.repository.js';
import { checkEmailChange, type ProfileService } from './profile.service.js';
import type { CheckClient, PasswordGuard } from '../sessions/password-guard.js';
import type { SessionsRepository } from '../sessions/sessions.repository.js';
import type { PasswordService } from './password.service.js';
import type { SignupInput, SignupService, CompleteSignupInput } from './signup.service.js';
import {
  EmailInUseError,
  type Membership,
  type NewUser,
  type ProfilePatch,
  type UserProfile,
  type UserRecord,
  type UsersRepository,
} from './users.repository.js';

/**
 * A password hash that the real `verifySecret` accepts, made in microseconds: the SHA-256
 * scheme of device secrets instead of scrypt, so sign-in tests cost no CPU. For fakes only.
 */
export const fakePasswordHash = (password: string): string => hashDeviceSecret(password);

/** The audit history (P11) in memory: appended to, read newest first, never rewritten. */
export class FakeAuditLog implements Pick<AuditLogRepository, keyof AuditLogRepository> {
  private readonly entries: (AuditEntry & { userId: string; seq: number })[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  record(entry: Parameters<AuditLogRepository['record']>[0]): Promise<void> {
    this.entries.push({
      userId: entry.userId,
      action: entry.action,
      at: new Date(this.now()),
      actorUserId: entry.actorUserId,
      details: { ...(entry.details ?? {}) },
      seq: this.entries.length,
    });
    return Promise.resolve();
  }

  listForUser(userId: string, limit: number): Promise<AuditEntry[]> {
    return Promise.resolve(
      this.entries
        .filter((e) => e.userId === userId)
        .sort((a, b) => b.at.getTime() - a.at.getTime() || b.seq - a.seq)
        .slice(0, limit)
        .map(({ action, at, actorUserId, details }) => ({ action, at, actorUserId, details })),
    );
  }
}

interface StoredUser {
  profile: UserProfile;
  passwordHash: string | null;
  createdByOrgId: string | null;
  termsVersion: string | null;
}

/** The parts of UsersRepository the API's services use, over a map. */
type UserStore = Pick<
  UsersRepository,
  | 'create'
  | 'findByEmail'
  | 'findById'
  | 'profile'
  | 'profiles'
  | 'update'
  | 'markVerified'
  | 'setPassword'
  | 'replacePasswordHash'
  | 'acceptTerms'
>;

/**
 * Users in memory. E-mail addresses are unique after the directory's normalisation (trim, NFC,
 * lower case); a second account with one is EmailInUseError, as the blind index makes it.
 */
export class FakeUsers implements UserStore {
  private readonly users = new Map<string, StoredUser>();

  create(input: NewUser): Promise<string> {
    return answer(() => {
      if (this.byEmail(input.email)) throw new EmailInUseError();
      const id = randomUUID();
      this.users.set(id, {
        profile: {
          id,
          email: input.email.trim(),
          name: input.displayName,
          phone: input.phone ?? null,
          address: input.address ?? null,
          verified: input.verified,
          origin: input.origin ?? 'signup',
          settings: { omitNamesInEmail: input.omitNamesInEmail ?? false },
        },
        passwordHash: input.passwordHash,
        createdByOrgId: input.createdByOrgId ?? null,
        termsVersion: input.termsVersion ?? null,
      });
      return id;
    });
  }

  findByEmail(email: string): Promise<UserRecord | null> {
    return answer(() => recordOf(this.byEmail(email)));
  }

  findById(userId: string): Promise<UserRecord | null> {
    return answer(() => recordOf(this.users.get(userId)));
  }

  profile(userId: string): Promise<UserProfile | null> {
    return answer(() => profileOf(this.users.get(userId)));
  }

  profiles(userIds: readonly string[]): Promise<Map<string, UserProfile>> {
    return answer(
      () =>
        new Map(
          userIds.flatMap((id) => {
            const profile = profileOf(this.users.get(id));
            return profile ? [[id, profile] as const] : [];
          }),
        ),
    );
  }

  /** The names of the fields that really changed, as the repository reports them. */
  update(userId: string, patch: ProfilePatch): Promise<string[]> {
    return answer(() => {
      const user = this.users.get(userId);
      if (!user) return [];
      const p = user.profile;
      const changed: string[] = [];
      if (patch.name !== undefined && patch.name !== p.name) {
        p.name = patch.name;
        changed.push('name');
      }
      if (patch.phone !== undefined && patch.phone !== p.phone) {
        p.phone = patch.phone;
        changed.push('phone');
      }
      if (patch.address !== undefined && patch.address !== p.address) {
        p.address = patch.address;
        changed.push('address');
      }
      if (
        patch.omitNamesInEmail !== undefined &&
        patch.omitNamesInEmail !== p.settings.omitNamesInEmail
      ) {
        p.settings.omitNamesInEmail = patch.omitNamesInEmail;
        changed.push('settings.omitNamesInEmail');
      }
      return changed;
    });
  }

  markVerified(userId: string): Promise<boolean> {
    return answer(() => {
      const user = this.users.get(userId);
      if (!user || user.profile.verified) return false;
      user.profile.verified = true;
      return true;
    });
  }

  setPassword(userId: string, passwordHash: string): Promise<void> {
    return answer(() => {
      const user = this.users.get(userId);
      if (user) user.passwordHash = passwordHash;
    });
  }

  replacePasswordHash(userId: string, previous: string, next: string): Promise<void> {
    return answer(() => {
      const user = this.users.get(userId);
      if (user?.passwordHash === previous) user.passwordHash = next;
    });
  }

  acceptTerms(userId: string, version: string): Promise<void> {
    return answer(() => {
      const user = this.users.get(userId);
      if (user) user.termsVersion = version;
    });
  }

  /** The organisation whose invitation created the account (P6), or null. */
  createdBy(userId: string): string | null {
    return this.users.get(userId)?.createdByOrgId ?? null;
  }

  /** Deletes the account, as the directory's erasure does. */
  erase(userId: string): boolean {
    return this.users.delete(userId);
  }

  private byEmail(email: string): StoredUser | undefined {
    const wanted = normaliseEmail(email);
    return [...this.users.values()].find((u) => normaliseEmail(u.profile.email) === wanted);
  }
}

/** What a fake service would have e-mailed: to whom, why, and the link's token if any. */
export interface FakeMail {
  to: string;
  purpose: string;
  token?: string;
}

/**
 * ProfileService over FakeUsers: the user's own view (P15), corrections audited by field name
 * (P16, P11), an e-mail change that needs the current password and a link to the new address.
 */
export class FakeProfileService implements Pick<ProfileService, keyof ProfileService> {
  readonly outbox: FakeMail[] = [];

  constructor(
    private readonly deps: {
      users: FakeUsers;
      memberships: (userId: string) => Promise<Membership[]>;
      audit: Pick<AuditLogRepository, 'record' | 'listForUser'>;
      passwords: Pick<PasswordGuard, 'check'>;
    },
  ) {}

  async profile(userId: string): Promise<UserProfile & { memberships: Membership[] }> {
    const profile = await this.deps.users.profile(userId);
    if (!profile) throw new AppError('UNAUTHENTICATED');
    return { ...profile, memberships: await this.deps.memberships(userId) };
  }

  async update(userId: string, patch: ProfilePatch): Promise<UserProfile> {
    const changed = await this.deps.users.update(userId, patch);
    if (changed.length > 0) {
      await this.deps.audit.record({
        userId,
        actorUserId: userId,
        action: 'profile.updated',
        details: { fields: changed },
      });
    }
    const profile = await this.deps.users.profile(userId);
    if (!profile) throw new AppError('UNAUTHENTICATED');
    return profile;
  }

  async requestEmailChange(
    userId: string,
    request: { newEmail: string; password: string | undefined },
    client: CheckClient,
  ): Promise<void> {
    const account = await checkEmailChange(
      await this.deps.users.findById(userId),
      request,
      this.deps.passwords,
      client,
    );
    const holder = await this.deps.users.findByEmail(request.newEmail);
    this.outbox.push(
      holder
        ? { to: holder.email, purpose: 'email-in-use' }
        : { to: request.newEmail.trim(), purpose: 'email-change', token: newLinkToken() },
      { to: account.email, purpose: 'email-change-notice' },
    );
    await this.deps.audit.record({ userId, actorUserId: userId, action: 'email.change_requested' });
  }

  auditHistory(userId: string, limit: number): Promise<AuditEntry[]> {
    return this.deps.audit.listForUser(userId, limit);
  }
}

/**
 * SignupService over FakeUsers (P5): sign-up takes only the address and sends a link (or an
 * "already registered" note); the link's holder chooses name and password, with the same
 * refusals (weak password, old terms). A second sign-up changes nothing of a pending account.
 */
export class FakeSignupService implements Pick<SignupService, keyof SignupService> {
  readonly outbox: FakeMail[] = [];
  private readonly links = new Map<string, { userId: string; purpose: 'signup' }>();

  constructor(private readonly deps: { users: FakeUsers; termsVersion: string }) {}

  async signup(input: SignupInput): Promise<void> {
    const existing = await this.deps.users.findByEmail(input.email);
    if (existing?.verified) {
      this.outbox.push({ to: existing.email, purpose: 'already-registered' });
      return;
    }
    const userId =
      existing?.id ??
      (await this.deps.users.create({
        email: input.email,
        displayName: '',
        passwordHash: null,
        verified: false,
        origin: 'signup',
      }));
    const token = newLinkToken();
    this.links.set(token, { userId, purpose: 'signup' });
    this.outbox.push({ to: input.email.trim(), purpose: 'complete-signup', token });
  }

  async completeSignup(input: CompleteSignupInput): Promise<void> {
    requireStrongPassword(input.password);
    if (input.termsVersion !== this.deps.termsVersion) {
      throw new AppError('TERMS_NOT_ACCEPTED', { currentVersion: this.deps.termsVersion });
    }
    const link = this.links.get(input.token);
    if (!link) throw new AppError('TOKEN_INVALID');
    for (const [token, other] of this.links) {
      if (other.userId === link.userId) this.links.delete(token);
    }
    const { users } = this.deps;
    await users.update(link.userId, {
      name: input.name,
      omitNamesInEmail: input.omitNamesInEmail ?? false,
    });
    await users.setPassword(link.userId, fakePasswordHash(input.password));
    await users.acceptTerms(link.userId, input.termsVersion);
    if (!(await users.markVerified(link.userId))) throw new AppError('TOKEN_INVALID');
  }

  /** E-mail changes are the profile's (FakeProfileService): no link of theirs is known here. */
  verifyEmail(): Promise<void> {
    return Promise.reject(new AppError('TOKEN_INVALID'));
  }
}

/**
 * PasswordService over FakeUsers, with the real password guard: the current password checked
 * under the throttle, the same refusals, sessions ended, single-use reset links. The per-address
 * mail quota is SQL and lives in the real service only.
 */
export class FakePasswordService implements Pick<PasswordService, keyof PasswordService> {
  readonly outbox: FakeMail[] = [];
  private readonly resets = new Map<string, string>();

  constructor(
    private readonly deps: {
      users: FakeUsers;
      passwords: Pick<PasswordGuard, 'check'>;
      sessions: Pick<SessionsRepository, 'revokeAll'>;
      audit: Pick<AuditLogRepository, 'record'>;
    },
  ) {}

  async change(
    userId: string,
    request: { currentPassword: string; newPassword: string },
    client: CheckClient & { sessionId: string },
  ): Promise<void> {
    const account = await this.deps.users.findById(userId);
    if (!account) throw new AppError('UNAUTHENTICATED');
    await this.deps.passwords.check(account, request.currentPassword, client);
    requireStrongPassword(request.newPassword);
    await this.setPassword(userId, request.newPassword, 'password.changed');
    await this.deps.sessions.revokeAll(userId, 'password', client.sessionId);
  }

  async requestReset(email: string): Promise<void> {
    const account = await this.deps.users.findByEmail(email);
    if (!account?.verified) return;
    const token = newLinkToken();
    this.resets.set(token, account.id);
    this.outbox.push({ to: account.email, purpose: 'password-reset', token });
  }

  async completeReset(token: string, newPassword: string): Promise<void> {
    requireStrongPassword(newPassword);
    const userId = this.resets.get(token);
    if (userId === undefined) throw new AppError('TOKEN_INVALID');
    for (const [other, owner] of this.resets) if (owner === userId) this.resets.delete(other);
    await this.setPassword(userId, newPassword, 'password.reset');
    await this.deps.sessions.revokeAll(userId, 'password');
  }

  private async setPassword(
    userId: string,
    password: string,
    action: 'password.changed' | 'password.reset',
  ): Promise<void> {
    await this.deps.users.setPassword(userId, fakePasswordHash(password));
    await this.deps.audit.record({ userId, actorUserId: userId, action });
    const account = (await this.deps.users.findById(userId))!;
    this.outbox.push({ to: account.email, purpose: 'password-changed' });
  }
}

/** A token as the directory's one-time links carry them. */
export const newLinkToken = (): string => newOneTimeToken().token;

function recordOf(user: StoredUser | undefined): UserRecord | null {
  if (!user) return null;
  const { id, email, name, verified } = user.profile;
  return { id, email, displayName: name, passwordHash: user.passwordHash, verified };
}

function profileOf(user: StoredUser | undefined): UserProfile | null {
  return user ? { ...user.profile, settings: { ...user.profile.settings } } : null;
}

function answer<T>(read: () => T): Promise<T> {
  return Promise.resolve().then(read);
}
