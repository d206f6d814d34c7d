import { randomUUID } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { ipBytes } from '../security/security.fake.js';
import type { OidcLogin, OidcLoginsRepository } from './oidc-logins.repository.js';
import type {
  NewSession,
  RevokeReason,
  RotateResult,
  SessionRecord,
  SessionsRepository,
} from './sessions.repository.js';
import type { SignIn, SignInsRepository } from './sign-ins.repository.js';

interface StoredSession extends SessionRecord {
  revokedAt: Date | null;
  revokedReason: RevokeReason | null;
}

interface StoredToken {
  sessionId: string;
  expiresAt: Date;
  usedAt: Date | null;
}

/** `last_used_at` is written at most this often, as the repository does. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Sessions and their refresh-token families (P9) in memory, with the repository's rules: only
 * hashes of refresh tokens are kept, each may be exchanged once, exchanging a used one revokes
 * the whole session, and a session is live until revoked or past its absolute lifetime. It is
 * also the access tokens' session check (`isActive`), so a logout ends its tokens at once.
 */
export class FakeSessions implements Pick<SessionsRepository, keyof SessionsRepository> {
  private readonly sessions = new Map<string, StoredSession>();
  private readonly tokens = new Map<string, StoredToken>();

  constructor(private readonly now: () => number = Date.now) {}

  create(input: NewSession): Promise<string> {
    return answer(() => {
      const id = randomUUID();
      const at = new Date(this.now());
      this.sessions.set(id, {
        id,
        userId: input.userId,
        method: input.method,
        userAgent: input.userAgent,
        createdAt: at,
        lastUsedAt: at,
        expiresAt: input.expiresAt,
        revokedAt: null,
        revokedReason: null,
      });
      this.tokens.set(input.refreshTokenHash.toString('hex'), {
        sessionId: id,
        expiresAt: earliest(input.refreshExpiresAt, input.expiresAt),
        usedAt: null,
      });
      return id;
    });
  }

  rotate(oldHash: Buffer, newHash: Buffer, newExpiresAt: Date): Promise<RotateResult> {
    return answer((): RotateResult => {
      const token = this.tokens.get(oldHash.toString('hex'));
      const session = token && this.sessions.get(token.sessionId);
      if (!token || !session) return { kind: 'invalid' };
      if (token.usedAt) {
        // Someone holds a token that was already exchanged: the whole family ends.
        if (!session.revokedAt) this.end(session, 'reuse');
        return { kind: 'reused', sessionId: session.id, userId: session.userId };
      }
      if (!this.live(session) || token.expiresAt.getTime() <= this.now()) {
        return { kind: 'invalid' };
      }
      token.usedAt = new Date(this.now());
      this.tokens.set(newHash.toString('hex'), {
        sessionId: session.id,
        expiresAt: earliest(newExpiresAt, session.expiresAt),
        usedAt: null,
      });
      session.lastUsedAt = new Date(this.now());
      return { kind: 'rotated', sessionId: session.id, userId: session.userId };
    });
  }

  isActive(sessionId: string, userId: string): Promise<boolean> {
    return answer(() => {
      const session = this.sessions.get(sessionId);
      if (!session || session.userId !== userId || !this.live(session)) return false;
      if (session.lastUsedAt.getTime() < this.now() - TOUCH_EVERY_MS) {
        session.lastUsedAt = new Date(this.now());
      }
      return true;
    });
  }

  sessionOfRefreshToken(hash: Buffer): Promise<{ sessionId: string; userId: string } | null> {
    return answer(() => {
      const token = this.tokens.get(hash.toString('hex'));
      const session = token && this.sessions.get(token.sessionId);
      return session && this.live(session)
        ? { sessionId: session.id, userId: session.userId }
        : null;
    });
  }

  revoke(sessionId: string, userId: string, reason: RevokeReason): Promise<boolean> {
    return answer(() => {
      const session = this.sessions.get(sessionId);
      if (!session || session.userId !== userId || !this.live(session)) return false;
      this.end(session, reason);
      return true;
    });
  }

  revokeAll(userId: string, reason: RevokeReason, except?: string): Promise<number> {
    return answer(() => {
      const mine = [...this.sessions.values()].filter(
        (s) => s.userId === userId && !s.revokedAt && s.id !== except,
      );
      for (const session of mine) this.end(session, reason);
      return mine.length;
    });
  }

  listActive(userId: string): Promise<SessionRecord[]> {
    return answer(() =>
      [...this.sessions.values()]
        .filter((s) => s.userId === userId && this.live(s))
        .sort((a, b) => b.lastUsedAt.getTime() - a.lastUsedAt.getTime() || (a.id < b.id ? -1 : 1))
        .map(({ revokedAt: _r, revokedReason: _why, ...record }) => ({ ...record })),
    );
  }

  /** Why a session ended, or null while it is live: what the directory records. */
  revokedReason(sessionId: string): RevokeReason | null {
    return this.sessions.get(sessionId)?.revokedReason ?? null;
  }

  private live(session: StoredSession): boolean {
    return session.revokedAt === null && session.expiresAt.getTime() > this.now();
  }

  private end(session: StoredSession, reason: RevokeReason): void {
    session.revokedAt = new Date(this.now());
    session.revokedReason = reason;
  }
}

/**
 * The sign-in history (P11) in memory: only the network of the address is kept (/24 for IPv4,
 * /48 for IPv6), never the address itself.
 */
export class FakeSignIns implements Pick<SignInsRepository, keyof SignInsRepository> {
  private readonly rows: (SignIn & { userId: string; seq: number })[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  record(input: Parameters<SignInsRepository['record']>[0]): Promise<void> {
    this.rows.push({
      userId: input.userId,
      method: input.method,
      userAgent: input.userAgent,
      network: input.ip === undefined ? null : networkOf(input.ip),
      createdAt: new Date(this.now()),
      seq: this.rows.length,
    });
    return Promise.resolve();
  }

  listForUser(userId: string, limit: number): Promise<SignIn[]> {
    return Promise.resolve(
      this.rows
        .filter((r) => r.userId === userId)
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.seq - a.seq)
        .slice(0, limit)
        .map(({ method, userAgent, network, createdAt }) => ({
          method,
          userAgent,
          network,
          createdAt,
        })),
    );
  }
}

/** OpenID Connect sign-ins in progress (P8): each state completes at most one, in time. */
export class FakeOidcLogins implements Pick<OidcLoginsRepository, keyof OidcLoginsRepository> {
  private readonly logins = new Map<string, { login: OidcLogin; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  save(stateHash: Buffer, login: OidcLogin, ttlSeconds: number): Promise<void> {
    this.logins.set(stateHash.toString('hex'), {
      login: { ...login },
      expiresAt: this.now() + ttlSeconds * 1000,
    });
    return Promise.resolve();
  }

  take(stateHash: Buffer): Promise<OidcLogin | null> {
    const key = stateHash.toString('hex');
    const found = this.logins.get(key);
    this.logins.delete(key);
    return Promise.resolve(found && found.expiresAt > this.now() ? found.login : null);
  }
}

/** 192.0.2.77 → 192.0.2.0/24, 2001:db8:1:2::5 → 2001:db8:1::/48, as Postgres prints them. */
function networkOf(ip: string): string | null {
  const bytes = ipBytes(ip);
  if (!bytes) return null;
  if (isIPv4(ip)) return `${bytes.slice(0, 3).join('.')}.0/24`;
  const groups = [0, 2, 4].map((i) => ((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  while (groups.length > 1 && groups.at(-1) === '0') groups.pop();
  return `${groups.join(':')}::/48`;
}

function earliest(a: Date, b: Date): Date {
  return a.getTime() <= b.getTime() ? a : b;
}

function answer<T>(read: () => T): Promise<T> {
  return Promise.resolve().then(read);
}
