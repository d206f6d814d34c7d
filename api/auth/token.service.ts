import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';

/** One asymmetric algorithm, allowlisted on verify: no `none`, no HMAC with a public key. */
const ALGORITHM = 'EdDSA';

export interface AccessClaims {
  userId: string;
  /** The session the token belongs to; the token is honoured only while it is live (P9). */
  sessionId: string;
}

/** Whether a session is still live: consulted on every verification. */
export interface SessionState {
  isActive(sessionId: string, userId: string): Promise<boolean>;
}

export interface TokenServiceOptions {
  privateKeyPem: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  sessions: SessionState;
  /**
   * How long after expiry a token still names its session for ending it (P9): the longest a
   * session can live. Signing out must work with a token that expired while the tab slept.
   */
  logoutGraceSeconds: number;
  now?: () => number;
}

export class TokenService {
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor(private readonly options: TokenServiceOptions) {
    this.privateKey = createPrivateKey(options.privateKeyPem);
    this.publicKey = createPublicKey(this.privateKey);
  }

  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  async issue(claims: AccessClaims): Promise<string> {
    const issuedAt = Math.floor(this.now() / 1000);
    return new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'at+jwt' })
      .setSubject(claims.userId)
      .setIssuer(this.options.issuer)
      .setAudience(this.options.audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + this.options.ttlSeconds)
      .sign(this.privateKey);
  }

  /**
   * Returns the claims, or null for any token that is not ours, not current, malformed, or
   * whose session has ended: after logout no token of that session is accepted (P9).
   */
  async verify(token: string): Promise<AccessClaims | null> {
    const claims = await this.verifySignature(token);
    if (!claims) return null;
    return (await this.options.sessions.isActive(claims.sessionId, claims.userId)) ? claims : null;
  }

  /**
   * The session a token of ours names, even if the token has expired (within the grace): for
   * ending that session only, never for access.
   */
  sessionNamedBy(token: string): Promise<AccessClaims | null> {
    return this.verifySignature(token, this.options.logoutGraceSeconds);
  }

  private async verifySignature(
    token: string,
    expiredForSeconds = 0,
  ): Promise<AccessClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, {
        currentDate: new Date(this.now()),
        clockTolerance: expiredForSeconds,
        algorithms: [ALGORITHM],
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: 'at+jwt',
        requiredClaims: ['exp', 'iat', 'sub', 'sid'],
      });
      const { sub, sid } = payload;
      return typeof sub === 'string' && typeof sid === 'string' && uuid.test(sub) && uuid.test(sid)
        ? { userId: sub, sessionId: sid }
        : null;
    } catch {
      return null;
    }
  }
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
