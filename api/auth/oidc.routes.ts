import { z } from 'zod';
import {
  OIDC_LOGIN_TTL_SECONDS,
  type SignInService,
} from '../../directory/sessions/sign-in.service.js';
import {
  clearOidcCookie,
  OIDC_COOKIE,
  readCookie,
  setOidcCookie,
  setRefreshCookie,
  type CookieSettings,
} from '../http/cookies.js';
import { clientOf } from '../http/client-info.js';
import { defineRoute, type Route } from '../http/route.js';

export interface OidcRoutesDeps {
  signIn: Pick<SignInService, keyof SignInService>;
  auth: { cookies: CookieSettings };
}

/** Where the browser goes once signed in; the page obtains its access token by refreshing. */
const SIGNED_IN_PAGE = '/';

const providerParams = z.object({ provider: z.string().max(64) });
const callbackQuery = z.looseObject({
  code: z.string().min(1).max(2048).optional(),
  state: z.string().min(1).max(256).optional(),
  error: z.string().max(256).optional(),
});

/**
 * `GET /auth/oidc/{provider}/start` sends the browser to the provider with state, nonce and a
 * PKCE challenge; `GET /auth/oidc/{provider}/callback` checks the state against the browser's
 * cookie, exchanges the code, verifies the ID token and signs in the existing, verified user
 * whose e-mail the provider vouches for (P8). The refresh token arrives as the usual cookie.
 */
export function oidcRoutes(deps: OidcRoutesDeps): Route[] {
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
      () => Promise.resolve({ providers: deps.signIn.providers() }),
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
      async ({ res, params }) => {
        const { redirectTo, state } = await deps.signIn.startOidc(params.provider);
        setOidcCookie(res, deps.auth.cookies, state, OIDC_LOGIN_TTL_SECONDS);
        res.setHeader('cache-control', 'no-store');
        res.redirect(303, redirectTo.toString());
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
        const cookieState = readCookie(req, OIDC_COOKIE);
        clearOidcCookie(res, deps.auth.cookies);
        const issued = await deps.signIn.finishOidc(
          params.provider,
          { ...query, cookieState },
          clientOf(req),
        );
        setRefreshCookie(res, deps.auth.cookies, issued.refreshToken, issued.refreshExpiresIn);
        res.setHeader('cache-control', 'no-store');
        res.redirect(303, SIGNED_IN_PAGE);
        return undefined;
      },
    ),
  ];
}
