import type pg from 'pg';
import { newDeviceSecret } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import { hashSecret, verifySecret } from '../common/secret-hash.js';
import type { ApiConfig } from '../api/api.config.js';
import { passwordCostOf } from './identity-deps.js';
import { OidcClient, parseOidcProviders } from '../directory/sessions/oidc.service.js';
import { SessionService } from '../directory/sessions/session.service.js';
import { SignInService } from '../directory/sessions/sign-in.service.js';
import { PasswordGuard } from '../directory/sessions/password-guard.js';
import { UsersRepository } from '../directory/accounts/users.repository.js';
import { KnownBrowsers } from '../directory/sessions/known-browser.js';
import { SignInThrottle } from '../directory/sessions/sign-in-throttle.service.js';
import { TokenService } from '../api/auth/token.service.js';
import { directoryCryptoFrom, masterKeyringFrom } from '../directory/crypto/crypto.config.js';
import { DataKeysRepository } from '../directory/crypto/data-keys.repository.js';
import { OidcLoginsRepository } from '../directory/sessions/oidc-logins.repository.js';
import { OidcIdentitiesRepository } from '../directory/sessions/oidc-identities.repository.js';
import { PlatformRolesRepository } from '../directory/security/platform-roles.repository.js';
import { SecurityEventsRepository } from '../directory/security/security-events.repository.js';
import { SessionsRepository } from '../directory/sessions/sessions.repository.js';
import { SignInsRepository } from '../directory/sessions/sign-ins.repository.js';
import { UserDataKeys } from '../directory/crypto/user-data-keys.repository.js';

/**
 * The API's sign-in machinery: sessions and their tokens (P9), the security log and sign-in
 * throttling (P10), sign-in history (P11) and OpenID Connect providers (P8), all on the API's
 * own Postgres pool (role `telemoat_api`). What sessions and sign-ins record about a person is
 * sealed with that person's data key (P12).
 */
/**
 * The security log and the throttle that every check of a password goes through (P10): built
 * first, because the identity services check passwords too (e-mail change, password change).
 */
export function passwordChecks(pool: pg.Pool, config: ApiConfig, now: () => number = Date.now) {
  const securityEvents = new SecurityEventsRepository(pool, now);
  const throttle = new SignInThrottle(securityEvents, {
    windowMs: config.SIGNIN_THROTTLE_WINDOW_MS,
    freeAttemptsPerAccount: config.SIGNIN_THROTTLE_FREE_ATTEMPTS,
    freeAttemptsPerNetwork: config.SIGNIN_THROTTLE_FREE_ATTEMPTS_PER_IP,
    accountCeiling: config.SIGNIN_THROTTLE_ACCOUNT_CEILING,
    baseDelayMs: config.SIGNIN_THROTTLE_BASE_DELAY_MS,
    maxDelayMs: config.SIGNIN_THROTTLE_MAX_DELAY_MS,
  });
  const passwords = new PasswordGuard({
    throttle,
    securityEvents,
    accountHashKey: config.SECURITY_LOG_KEY,
  });
  return { securityEvents, passwords };
}

export async function authDeps(
  pool: pg.Pool,
  config: ApiConfig,
  checks: ReturnType<typeof passwordChecks>,
  logger: Logger,
  now: () => number = Date.now,
) {
  const userKeys = new UserDataKeys(pool, new DataKeysRepository(pool, masterKeyringFrom(config)));
  const sessions = new SessionsRepository(pool, userKeys);
  const { securityEvents, passwords } = checks;
  const signIns = new SignInsRepository(pool, userKeys);
  const tokens = new TokenService({
    privateKeyPem: config.JWT_PRIVATE_KEY,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    sessions,
    logoutGraceSeconds: config.SESSION_MAX_AGE_SECONDS,
    now,
  });
  const sessionService = new SessionService({
    sessions,
    tokens,
    signIns,
    securityEvents,
    policy: {
      refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
      sessionMaxAgeSeconds: config.SESSION_MAX_AGE_SECONDS,
    },
  });
  const signIn = new SignInService({
    users: new UsersRepository(pool, directoryCryptoFrom(config)),
    verifyPassword: verifySecret,
    // Of the same cost as real hashes, so an unknown address takes as long as a known one.
    decoyHash: await hashSecret(newDeviceSecret(), passwordCostOf(config)),
    passwordCost: passwordCostOf(config),
    sessions: sessionService,
    passwords,
    knownBrowsers: new KnownBrowsers(config.SECURITY_LOG_KEY, now),
    securityEvents,
    accountHashKey: config.SECURITY_LOG_KEY,
    oidc: {
      providers: new Map(
        parseOidcProviders(config.OIDC_PROVIDERS).map((p) => [p.id, new OidcClient(p)]),
      ),
      logins: new OidcLoginsRepository(pool),
      identities: new OidcIdentitiesRepository(pool, config.EMAIL_INDEX_KEY),
    },
    logger,
  });
  return {
    tokens,
    sessions,
    securityEvents,
    signIns,
    platformRoles: new PlatformRolesRepository(pool),
    sessionService,
    signIn,
    auth: { cookies: { secure: config.AUTH_COOKIE_SECURE === 'true' } },
  };
}
