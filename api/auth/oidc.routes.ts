import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../common/errors.js';
import type { OidcLogin } from '../../directory/sessions/oidc-logins.repository.js';
import type { NewSecurityEvent } from '../../directory/security/security-events.repository.js';
import type { UserRecord } from '../../directory/accounts/users.repository.js';
import {
  clearOidcCookie,
  OIDC_COOKIE,
  readCookie,
  setOidcCookie,
  setRefreshCookie,
  type CookieSettings,
} from '../http/cookies.js';
import { clientIp, userAgentFamily } from '../http/client-info.js';
import {
  newAuthorizationSecrets,
  OidcError,
  type OidcClient,
} from '../../directory/sessions/oidc.service.js';
import { defineRoute, type Route } from '../http/route.js';
import type { SessionService } from '../../directory/sessions/session.service.js';
import { accountKeyOf } from '../../directory/sessions/sign-in-throttle.service.js';

export interface OidcRoutesDeps {
  users: { findByEmail(email: string): Promise<UserRecord | null> };
  oidc: {
    providers: ReadonlyMap<string, OidcClient>;
    logins: {
      save(stateHash: Buffer, login: OidcLogin, ttlSeconds: number): Promise<void>;
      take(stateHash: Buffer): Promise<OidcLogin | null>;
    };
  };
  sessionService: SessionService;
  securityEvents: { record(event: NewSecurityEvent): Promise<void> };
  auth: { cookies: CookieSettings; accountHashKey: string };
}

/** How long a user may spend at the provider before the sign-in attempt expires. */
const LOGIN_TTL_SECONDS = 600;
/** Where the browser goes once signed in; the page obtains its access token by refreshing. */
const SIGNED_IN_PAGE = '/';

const providerParams = z.object({ provider: z.string().max(64) });
const callbackQuery = z.looseObject({
  code: z.string().min(1).max(2048).optional(),
  state: z.string().min(1).max(256).optional(),
  error: z.string().max(256).optional(),
});

const sha256 = (value: string) => createHash('sha256').update(value).digest();

function sameString(a: string, b: string): boolean {
  const left = sha256(a);
  const right = sha256(b);
  return timingSafeEqual(left, right);
}

/**
 * `GET /auth/oidc/{provider}/start` sends the browser to the provider with state, nonce and a
 * PKCE challenge; `GET /auth/oidc/{provider}/callback` checks the state against the browser's
 * cookie, exchanges the code, verifies the ID token and signs in the existing, verified user
 * whose e-mail the provider vouches for (P8). The refresh token arrives as the usual cookie.
 */
export function oidcRoutes(deps: OidcRoutesDeps): Route[] {
  function providerOf(provider: string): OidcClient {
    const client = deps.oidc.providers.get(provider);
    if (!client) throw new AppError('NOT_FOUND');
    return client;
  }

  return [
    defineRoute(
      {
        method: 'get',
        path: '/auth/oidc/providers',
        summary: 'The identity providers users may sign in with (for "Sign in with …" buttons)',
        tag: 'auth',
        access: { kind: 'public' },
        response: z.object({
          providers: z.array(z.object({ id: z.string(), name: z.string() })),
        }),
      },
      () =>
        Promise.resolve({
          providers: [...deps.oidc.providers.values()].map(({ config }) => ({
            id: config.id,
            name: config.name ?? config.id,
          })),
        }),
    ),
    defineRoute(
      {
        method: 'get',
        path: '/auth/oidc/:provider/start',
        summary:
          "Sign in with the user's own identity provider: redirects the browser to it (OpenID Connect code flow with PKCE; P8)",
        tag: 'auth',
        access: { kind: 'public' },
        params: providerParams,
        status: 303,
        errors: ['NOT_FOUND'],
      },
      async ({ req, res, params }) => {
        const client = providerOf(params.provider);
        const secrets = newAuthorizationSecrets();
        const url = await client.authorizationUrl(secrets).catch((err: unknown) => {
          req.log.warn({ provider: client.config.id, err }, 'OIDC provider discovery failed');
          throw new AppError('SERVICE_UNAVAILABLE');
        });
        await deps.oidc.logins.save(
          sha256(secrets.state),
          { provider: client.config.id, nonce: secrets.nonce, codeVerifier: secrets.codeVerifier },
          LOGIN_TTL_SECONDS,
        );
        setOidcCookie(res, deps.auth.cookies, secrets.state, LOGIN_TTL_SECONDS);
        res.setHeader('cache-control', 'no-store');
        res.redirect(303, url.toString());
        return undefined;
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/auth/oidc/:provider/callback',
        summary:
          "The identity provider's redirect back: sets the refresh cookie and redirects to the dashboard, which then refreshes",
        tag: 'auth',
        access: { kind: 'public' },
        params: providerParams,
        query: callbackQuery,
        status: 303,
        errors: ['NOT_FOUND', 'OIDC_FAILED'],
      },
      async ({ req, res, params, query }) => {
        const client = providerOf(params.provider);
        const ip = clientIp(req);
        const cookieState = readCookie(req, OIDC_COOKIE);
        clearOidcCookie(res, deps.auth.cookies);
        let accountKey: Buffer | undefined;
        try {
          // The state must be the one this browser was given: no sign-in planted from elsewhere.
          if (!query.state || !cookieState || !sameString(query.state, cookieState)) {
            throw new OidcError('state does not match the browser cookie');
          }
          const login = await deps.oidc.logins.take(sha256(query.state));
          if (!login || login.provider !== client.config.id) {
            throw new OidcError('unknown, used or expired state');
          }
          if (query.error || !query.code) {
            throw new OidcError(`provider answered ${query.error ?? 'without a code'}`);
          }
          const claims = await client
            .exchangeCode(query.code, login.codeVerifier, login.nonce)
            .catch((err: unknown) => {
              throw err instanceof OidcError
                ? err
                : new OidcError(`code exchange failed: ${String(err)}`, { cause: err });
            });
          if (!claims.email || !claims.emailVerified) {
            throw new OidcError('the provider does not vouch for an e-mail address');
          }
          accountKey = accountKeyOf(claims.email, deps.auth.accountHashKey);
          const user = await deps.users.findByEmail(claims.email);
          if (!user || !user.verified) throw new OidcError('no verified account has this e-mail');
          const issued = await deps.sessionService.start({
            userId: user.id,
            method: 'oidc',
            userAgent: userAgentFamily(req.header('user-agent')),
            ip,
            accountKey,
          });
          setRefreshCookie(res, deps.auth.cookies, issued.refreshToken, issued.refreshExpiresIn);
          res.setHeader('cache-control', 'no-store');
          res.redirect(303, SIGNED_IN_PAGE);
          return undefined;
        } catch (err) {
          if (!(err instanceof OidcError)) throw err;
          req.log.warn({ provider: client.config.id, reason: err.message }, 'OIDC sign-in refused');
          await deps.securityEvents.record({
            type: 'oidc_failed',
            ...(accountKey ? { accountKey } : {}),
            ...(ip ? { ip } : {}),
          });
          throw new AppError('OIDC_FAILED');
        }
      },
    ),
  ];
}
