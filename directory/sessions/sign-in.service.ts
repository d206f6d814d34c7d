import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { UserRecord } from '../accounts/users.repository.js';
import type { NewSecurityEvent } from '../security/security-events.repository.js';
import { newAuthorizationSecrets, OidcError, type OidcClient } from './oidc.service.js';
import type { OidcLogin } from './oidc-logins.repository.js';
import type { IssuedTokens, SessionService } from './session.service.js';
import type { KnownBrowsers } from './known-browser.js';
import type { PasswordGuard } from './password-guard.js';
import { accountKeyOf } from './sign-in-throttle.service.js';

/** What the API tells about the client of a sign-in: no more than the records keep (P1). */
export interface SignInClient {
  ip: string | undefined;
  /** A coarse family such as "Firefox on Linux", never the whole User-Agent. */
  userAgent: string;
}

export interface SignInServiceDeps {
  users: { findByEmail(email: string): Promise<UserRecord | null> };
  verifyPassword: (password: string, hash: string) => Promise<boolean>;
  /** A hash of a random password, checked when the e-mail is unknown so timing reveals nothing. */
  decoyHash: string;
  sessions: Pick<SessionService, 'start'>;
  passwords: Pick<PasswordGuard, 'attempt'>;
  knownBrowsers: Pick<KnownBrowsers, 'issue' | 'recognises'>;
  securityEvents: { record(event: NewSecurityEvent): Promise<void> };
  /** Key of the keyed hash that names accounts in the security log. */
  accountHashKey: string;
  oidc: {
    providers: ReadonlyMap<string, OidcClient>;
    logins: {
      save(stateHash: Buffer, login: OidcLogin, ttlSeconds: number): Promise<void>;
      take(stateHash: Buffer): Promise<OidcLogin | null>;
    };
  };
  logger: Logger;
}

/** How long a user may spend at the provider before the sign-in attempt expires. */
export const OIDC_LOGIN_TTL_SECONDS = 600;

const sha256 = (value: string) => createHash('sha256').update(value).digest();

const sameString = (a: string, b: string) => timingSafeEqual(sha256(a), sha256(b));

/** What the provider's redirect back carries, and the state the browser's cookie holds. */
export interface OidcCallback {
  code?: string | undefined;
  state?: string | undefined;
  error?: string | undefined;
  cookieState: string | undefined;
}

/**
 * Signing in, with a password or through the user's own OpenID Connect provider (P8). Both
 * end in a session (P9); every failure is recorded in the security log under a keyed hash of
 * the address, never the address (P10), and answers alike whether or not the account exists.
 */
export class SignInService {
  private readonly log: Logger;

  constructor(private readonly deps: SignInServiceDeps) {
    this.log = deps.logger.child({ module: 'sign-in' });
  }

  /**
   * `knownBrowser` is the proof a browser was given at its last sign-in to this account; a
   * new one comes back with the tokens (docs/auth.md, "Slowing, not locking").
   */
  async withPassword(
    email: string,
    password: string,
    client: SignInClient,
    knownBrowser?: string,
  ): Promise<IssuedTokens & { knownBrowser: string }> {
    const { deps } = this;
    const accountKey = accountKeyOf(email, deps.accountHashKey);
    const recognised = deps.knownBrowsers.recognises(knownBrowser, accountKey);
    // The throttle is checked before the password and keyed by the address as typed, so the
    // answer is the same whether or not the account exists (P10).
    const user = await deps.passwords.attempt(
      email,
      client,
      async () => {
        const found = await deps.users.findByEmail(email);
        const matches = await deps.verifyPassword(password, found?.passwordHash ?? deps.decoyHash);
        // One answer for unknown e-mail, wrong password and unverified account alike.
        return found?.passwordHash && matches && found.verified ? found : null;
      },
      recognised,
    );
    const tokens = await deps.sessions.start({
      userId: user.id,
      method: 'password',
      ...client,
      accountKey,
    });
    return { ...tokens, knownBrowser: deps.knownBrowsers.issue(accountKey) };
  }

  /** The providers users may sign in with, for "Sign in with …" buttons. */
  providers(): { id: string; name: string }[] {
    return [...this.deps.oidc.providers.values()].map(({ config }) => ({
      id: config.id,
      name: config.name ?? config.id,
    }));
  }

  /**
   * Begins a sign-in at the provider: state, nonce and a PKCE challenge. The state goes to the
   * browser (as a cookie) and, hashed, to the directory with the nonce and verifier.
   */
  async startOidc(providerId: string): Promise<{ redirectTo: URL; state: string }> {
    const provider = this.providerOf(providerId);
    const secrets = newAuthorizationSecrets();
    const redirectTo = await provider.authorizationUrl(secrets).catch((cause: unknown) => {
      this.log.warn({ provider: provider.config.id, err: cause }, 'OIDC provider discovery failed');
      throw new AppError('SERVICE_UNAVAILABLE');
    });
    await this.deps.oidc.logins.save(
      sha256(secrets.state),
      { provider: provider.config.id, nonce: secrets.nonce, codeVerifier: secrets.codeVerifier },
      OIDC_LOGIN_TTL_SECONDS,
    );
    return { redirectTo, state: secrets.state };
  }

  /**
   * Completes a sign-in: the state must be the one this browser was given, the code is
   * exchanged, the ID token verified, and the existing, verified user whose e-mail the
   * provider vouches for is signed in.
   */
  async finishOidc(
    providerId: string,
    callback: OidcCallback,
    client: SignInClient,
  ): Promise<IssuedTokens> {
    const provider = this.providerOf(providerId);
    let accountKey: Buffer | undefined;
    try {
      const { state, cookieState } = callback;
      // No sign-in planted from elsewhere: the state must match this browser's cookie.
      if (!state || !cookieState || !sameString(state, cookieState)) {
        throw new OidcError('state does not match the browser cookie');
      }
      const login = await this.deps.oidc.logins.take(sha256(state));
      if (!login || login.provider !== provider.config.id) {
        throw new OidcError('unknown, used or expired state');
      }
      if (callback.error || !callback.code) {
        throw new OidcError(`provider answered ${callback.error ?? 'without a code'}`);
      }
      const claims = await provider
        .exchangeCode(callback.code, login.codeVerifier, login.nonce)
        .catch((err: unknown) => {
          throw err instanceof OidcError
            ? err
            : new OidcError(`code exchange failed: ${String(err)}`, { cause: err });
        });
      if (!claims.email || !claims.emailVerified) {
        throw new OidcError('the provider does not vouch for an e-mail address');
      }
      accountKey = accountKeyOf(claims.email, this.deps.accountHashKey);
      const user = await this.deps.users.findByEmail(claims.email);
      if (!user || !user.verified) throw new OidcError('no verified account has this e-mail');
      return await this.deps.sessions.start({
        userId: user.id,
        method: 'oidc',
        ...client,
        accountKey,
      });
    } catch (err) {
      if (!(err instanceof OidcError)) throw err;
      this.log.warn({ provider: provider.config.id, reason: err.message }, 'OIDC sign-in refused');
      await this.deps.securityEvents.record({
        type: 'oidc_failed',
        ...(accountKey ? { accountKey } : {}),
        ...(client.ip ? { ip: client.ip } : {}),
      });
      throw new AppError('OIDC_FAILED');
    }
  }

  private providerOf(providerId: string): OidcClient {
    const provider = this.deps.oidc.providers.get(providerId);
    if (!provider) throw new AppError('NOT_FOUND');
    return provider;
  }
}
