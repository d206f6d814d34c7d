import { createHash, randomBytes } from 'node:crypto';
import type { NewSecurityEvent } from '../security/security-events.repository.js';
import type { NewSession, RotateResult, SignInMethod } from './sessions.repository.js';

export interface SessionStore {
  create(input: NewSession): Promise<string>;
  rotate(oldHash: Buffer, newHash: Buffer, newExpiresAt: Date): Promise<RotateResult>;
  sessionOfRefreshToken(hash: Buffer): Promise<{ sessionId: string; userId: string } | null>;
  revoke(sessionId: string, userId: string, reason: 'logout' | 'logout-all'): Promise<boolean>;
  revokeAll(userId: string, reason: 'logout-all'): Promise<number>;
}

/** What names a session to end: a verified access token's claims, or a refresh token. */
export type SessionCredential =
  { session: { sessionId: string; userId: string } } | { refreshToken: string };

/**
 * Signs access tokens; the API's token service (JWT) is injected, so the directory knows
 * nothing of how tokens are encoded.
 */
export interface AccessTokenIssuer {
  issue(claims: { userId: string; sessionId: string }): Promise<string>;
  readonly ttlSeconds: number;
}

export interface SessionPolicy {
  /** How long one refresh token may wait to be exchanged: the session's idle timeout. */
  refreshTokenTtlSeconds: number;
  /** The session's absolute lifetime, however often it is refreshed. */
  sessionMaxAgeSeconds: number;
}

export interface SessionServiceDeps {
  sessions: SessionStore;
  tokens: AccessTokenIssuer;
  signIns: {
    record(input: {
      userId: string;
      method: SignInMethod;
      userAgent: string;
      ip: string | undefined;
    }): Promise<void>;
  };
  securityEvents: { record(event: NewSecurityEvent): Promise<void> };
  policy: SessionPolicy;
}

/** What a client receives at sign-in and at each refresh. */
export interface IssuedTokens {
  accessToken: string;
  /** Seconds the access token is valid. */
  expiresIn: number;
  refreshToken: string;
  /** Seconds the refresh token may wait before it must be exchanged. */
  refreshExpiresIn: number;
  sessionId: string;
}

/** 256 random bits, URL-safe: 43 characters. */
const refreshTokenPattern = /^[A-Za-z0-9_-]{43}$/;

export const hashRefreshToken = (token: string): Buffer =>
  createHash('sha256').update(token).digest();

/**
 * Sessions that really end (P9): a sign-in creates a session, a short-lived access token that
 * names it (`sid`) and the first refresh token of its family. Refresh tokens rotate on every
 * use; presenting one that was already used ends the whole family.
 */
export class SessionService {
  constructor(private readonly deps: SessionServiceDeps) {}

  async start(input: {
    userId: string;
    method: SignInMethod;
    userAgent: string;
    ip: string | undefined;
    /** Keyed hash of the e-mail signed in with: the success resets its failure count (P10). */
    accountKey: Buffer;
  }): Promise<IssuedTokens> {
    const { policy } = this.deps;
    const refreshToken = randomBytes(32).toString('base64url');
    const now = Date.now();
    const sessionId = await this.deps.sessions.create({
      userId: input.userId,
      method: input.method,
      userAgent: input.userAgent,
      expiresAt: new Date(now + policy.sessionMaxAgeSeconds * 1000),
      refreshTokenHash: hashRefreshToken(refreshToken),
      refreshExpiresAt: new Date(now + policy.refreshTokenTtlSeconds * 1000),
    });
    await Promise.all([
      this.deps.signIns.record({
        userId: input.userId,
        method: input.method,
        userAgent: input.userAgent,
        ip: input.ip,
      }),
      this.deps.securityEvents.record({
        type: 'signin_succeeded',
        accountKey: input.accountKey,
        ...(input.ip ? { ip: input.ip } : {}),
      }),
    ]);
    return this.issue(input.userId, sessionId, refreshToken);
  }

  /** The next tokens of the family, or null; reuse of a used token ends the family. */
  async refresh(refreshToken: string, ip: string | undefined): Promise<IssuedTokens | null> {
    if (!refreshTokenPattern.test(refreshToken)) return null;
    const next = randomBytes(32).toString('base64url');
    const result = await this.deps.sessions.rotate(
      hashRefreshToken(refreshToken),
      hashRefreshToken(next),
      new Date(Date.now() + this.deps.policy.refreshTokenTtlSeconds * 1000),
    );
    if (result.kind === 'reused') {
      await this.deps.securityEvents.record({
        type: 'refresh_token_reused',
        userId: result.userId,
        ...(ip ? { ip } : {}),
      });
      return null;
    }
    if (result.kind === 'invalid') return null;
    return this.issue(result.userId, result.sessionId, next);
  }

  /**
   * Ends the session a credential names at once (P9), or with `logout-all` every session of
   * its user. False when the credential names no live session: nothing was ended.
   */
  /**
   * Ends the sessions the credentials name (a browser may present an access token and a
   * refresh cookie of different sessions), or every session of their users; whether any ended.
   */
  async end(credentials: SessionCredential[], scope: 'logout' | 'logout-all'): Promise<boolean> {
    let ended = false;
    for (const credential of credentials) {
      const session =
        'session' in credential
          ? credential.session
          : await this.sessionOf(credential.refreshToken);
      if (!session) continue;
      // Only a live session speaks for its user: an ended one (a token that leaked, say, and
      // whose session the owner has since ended) may not sign the owner out everywhere.
      const live = await this.deps.sessions.revoke(session.sessionId, session.userId, scope);
      if (live && scope === 'logout-all') {
        await this.deps.sessions.revokeAll(session.userId, scope);
      }
      ended ||= live;
    }
    return ended;
  }

  /** The live session a refresh token belongs to, or null. */
  private async sessionOf(
    refreshToken: string,
  ): Promise<{ sessionId: string; userId: string } | null> {
    if (!refreshTokenPattern.test(refreshToken)) return null;
    return this.deps.sessions.sessionOfRefreshToken(hashRefreshToken(refreshToken));
  }

  private async issue(userId: string, sessionId: string, refreshToken: string) {
    const { tokens, policy } = this.deps;
    return {
      accessToken: await tokens.issue({ userId, sessionId }),
      expiresIn: tokens.ttlSeconds,
      refreshToken,
      refreshExpiresIn: policy.refreshTokenTtlSeconds,
      sessionId,
    };
  }
}
