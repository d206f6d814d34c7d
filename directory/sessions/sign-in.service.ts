import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../common/errors.js';
import { hashSecret, needsRehash, type ScryptCost } from '../../common/secret-hash.js';
import type { Logger } from '../../common/logger.js';
import type { UserRecord } from '../accounts/users.repository.js';
import type { NewSecurityEvent } from '../security/security-events.repository.js';
import { newAuthorizationSecrets, OidcError, type OidcClient } from './oidc.service.js';
import type { OidcLogin } from './oidc-logins.repository.js';
import type { OidcIdentitiesRepository } from './oidc-identities.repository.js';
import type { IssuedTokens, SessionService } from './session.service.js';
import type { KnownBrowsers } from './known-browser.js';
import type { CheckClient, PasswordGuard } from './password-guard.js';
import { accountKeyOf } from './sign-in-throttle.service.js';

/** What the API tells about the client of a sign-in: no more than the records keep (P1). */
export interface SignInClient {
  ip: string | undefined;
  /** A coarse family such as "Firefox on Linux", never the whole User-Agent. */
  userAgent: string;
}

export interface SignInServiceDeps {
  users: {
    findByEmail(email: string): Promise<UserRecord | null>;
    findById(userId: string): Promise<UserRecord | null>;
    replacePasswordHash(userId: string, previous: string, next: string): Promise<void>;
  };
  verifyPassword: (password: string, hash: string) => Promise<boolean>;
  /** What password hashes cost now; an older, cheaper one is replaced at sign-in. */
  passwordCost: ScryptCost;
  /** A hash of a random password, checked when the e-mail is unknown so timing reveals nothing. */
  decoyHash: string;
  sessions: Pick<SessionService, 'start'>;
  passwords: Pick<PasswordGuard, 'attempt' | 'check'>;
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
    identities: Pick<OidcIdentitiesRepository, 'userOf' | 'link' | 'unlink' | 'listForUser'>;
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
 * A link the directory refused. Answered as `CONFLICT`, not `OIDC_FAILED`: the one told has just
 * proved at the provider that they hold the identity, so it reveals nothing to them.
 */
class LinkConflict extends OidcError {}

/** A callback either signs in or, for an attempt a signed-in user started, links the provider. */
export type OidcOutcome = { kind: 'signed-in'; tokens: IssuedTokens } | { kind: 'linked' };

/** A provider as the user's settings show it: linked to their account or not. */
export interface OidcProviderLink {
  id: string;
  name: string;
  linkedAt: Date | null;
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
    // The one moment the password is known: a hash of an older, cheaper cost is replaced.
    if (user.passwordHash && needsRehash(user.passwordHash, deps.passwordCost)) {
      const rehashed = await hashSecret(password, deps.passwordCost);
      await deps.users.replacePasswordHash(user.id, user.passwordHash, rehashed);
    }
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
    return this.beginOidc(providerId);
  }

  /**
   * Begins linking the provider to a signed-in user's account: the same flow as a sign-in, but
   * the attempt names the user, so its callback links the identity the provider vouches for.
   * Being signed in is the proof of the account that linking needs.
   */
  /**
   * Begins linking a provider to the signed-in account. The current password is required (when
   * the account has one), under the throttle: a stolen access token must not be enough to plant
   * a way in that outlives the token, a password reset and every session.
   */
  async startOidcLink(
    providerId: string,
    userId: string,
    password: string | undefined,
    client: CheckClient,
  ): Promise<{ redirectTo: URL; state: string }> {
    // An unknown provider is NOT_FOUND before any password is checked.
    this.providerOf(providerId);
    const account = await this.deps.users.findById(userId);
    if (!account) throw new AppError('UNAUTHENTICATED');
    if (account.passwordHash !== null) {
      await this.deps.passwords.check(account, password ?? '', client);
    }
    return this.beginOidc(providerId, userId);
  }

  private async beginOidc(providerId: string, linkUserId?: string) {
    const provider = this.providerOf(providerId);
    const secrets = newAuthorizationSecrets();
    const redirectTo = await provider.authorizationUrl(secrets).catch((cause: unknown) => {
      this.log.warn({ provider: provider.config.id, err: cause }, 'OIDC provider discovery failed');
      throw new AppError('SERVICE_UNAVAILABLE');
    });
    await this.deps.oidc.logins.save(
      sha256(secrets.state),
      {
        provider: provider.config.id,
        nonce: secrets.nonce,
        codeVerifier: secrets.codeVerifier,
        ...(linkUserId ? { linkUserId } : {}),
      },
      OIDC_LOGIN_TTL_SECONDS,
    );
    return { redirectTo, state: secrets.state };
  }

  /**
   * Completes an attempt: the state must be the one this browser was given, the code is
   * exchanged and the ID token verified. A sign-in then needs the identity (issuer, subject) to
   * be linked to an account; the e-mail the provider asserts decides nothing, since any
   * configured provider could assert anyone's address. A link attempt links the identity to the
   * user who started it, unless it is linked to someone else.
   */
  async finishOidc(
    providerId: string,
    callback: OidcCallback,
    client: SignInClient,
  ): Promise<OidcOutcome> {
    const provider = this.providerOf(providerId);
    const { issuer } = provider.config;
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
      if (login.linkUserId) {
        await this.link(login.linkUserId, issuer, claims.subject);
        return { kind: 'linked' };
      }
      // The asserted address only names the account under attack in the security log.
      if (claims.email) accountKey = accountKeyOf(claims.email, this.deps.accountHashKey);
      const userId = await this.deps.oidc.identities.userOf(issuer, claims.subject);
      const user = userId ? await this.deps.users.findById(userId) : null;
      if (!user?.verified) {
        throw new OidcError(
          'this identity is linked to no account; its holder signs in with the password and links the provider in Settings',
        );
      }
      accountKey = accountKeyOf(user.email, this.deps.accountHashKey);
      const tokens = await this.deps.sessions.start({
        userId: user.id,
        method: 'oidc',
        ...client,
        accountKey,
      });
      return { kind: 'signed-in', tokens };
    } catch (err) {
      if (!(err instanceof OidcError)) throw err;
      this.log.warn({ provider: provider.config.id, reason: err.message }, 'OIDC callback refused');
      await this.deps.securityEvents.record({
        type: 'oidc_failed',
        ...(accountKey ? { accountKey } : {}),
        ...(client.ip ? { ip: client.ip } : {}),
      });
      throw new AppError(err instanceof LinkConflict ? 'CONFLICT' : 'OIDC_FAILED');
    }
  }

  /** The configured providers, each with when it was linked to the user's account, if it was. */
  async linkedProviders(userId: string): Promise<OidcProviderLink[]> {
    const links = await this.deps.oidc.identities.listForUser(userId);
    return [...this.deps.oidc.providers.values()].map(({ config }) => ({
      id: config.id,
      name: config.name ?? config.id,
      linkedAt: links.find((l) => l.issuer === config.issuer)?.linkedAt ?? null,
    }));
  }

  /** Ends sign-in through the provider for this account; 404 when it was not linked. */
  async unlinkOidc(providerId: string, userId: string): Promise<void> {
    const provider = this.providerOf(providerId);
    if (!(await this.deps.oidc.identities.unlink(userId, provider.config.issuer))) {
      throw new AppError('NOT_FOUND');
    }
    this.log.info({ provider: provider.config.id, userId }, 'OIDC provider unlinked');
  }

  private async link(userId: string, issuer: string, subject: string): Promise<void> {
    const outcome = await this.deps.oidc.identities.link(userId, issuer, subject);
    if (outcome === 'linked') {
      this.log.info({ issuer, userId }, 'OIDC provider linked');
      return;
    }
    throw new LinkConflict(
      outcome === 'linked-to-another-account'
        ? 'link refused: the identity is linked to another account'
        : 'link refused: the account has another identity at this issuer',
    );
  }

  private providerOf(providerId: string): OidcClient {
    const provider = this.deps.oidc.providers.get(providerId);
    if (!provider) throw new AppError('NOT_FOUND');
    return provider;
  }
}
