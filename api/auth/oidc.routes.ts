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
import { clientIp } from '../http/client-info.js';
import { defineRoute, type Route } from '../http/route.js';

export interface OidcRoutesDeps {
  signIn: Pick<SignInService, keyof SignInService>;
  auth: { cookies: CookieSettings };
}

/** Where the browser goes once signed in; the page obtains its access token by refreshing. */
const SIGNED_IN_PAGE = '/';
/** Where it goes once a provider is linked: back to the list of linked providers. */
const LINKED_PAGE = '/settings';

const providerParams = z.object({ provider: z.string().max(64) });
const callbackQuery = z.looseObject({
  code: z.string().min(1).max(2048).optional(),
  state: z.string().min(1).max(256).optional(),
  error: z.string().max(256).optional(),
});

/**
 * `GET /auth/oidc/{provider}/start` sends the browser to the provider with state, nonce and a
 * PKCE challenge; `GET /auth/oidc/{provider}/callback` checks the state against the browser's
 * cookie, exchanges the code, verifies the ID token and signs in the user whose account the
 * identity (issuer, subject) is linked to (P8). The refresh token arrives as the usual cookie.
 * A signed-in user links a provider with `POST /me/oidc-links/{provider}`, which begins the
 * same flow for their account, and unlinks it with `DELETE`.
 */
/** The account's current password, when it has one: proof beyond the access token. */
const linkBody = z.strictObject({ password: z.string().min(1).max(1024).optional() }).optional();

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
        path: '/me/oidc-links',
        summary:
          'The identity providers, each with when it was linked to your account (null when it is not)',
        tag: 'auth',
        access: { kind: 'user' },
        response: z.object({
          providers: z.array(
            z.object({ id: z.string(), name: z.string(), linkedAt: z.iso.datetime().nullable() }),
          ),
        }),
      },
      async ({ userId }) => ({
        providers: (await deps.signIn.linkedProviders(userId)).map((p) => ({
          ...p,
          linkedAt: p.linkedAt?.toISOString() ?? null,
        })),
      }),
    ),
    defineRoute(
      {
        method: 'post',
        path: '/me/oidc-links/:provider',
        summary:
          'Begins linking an identity provider to your account (the current password required): answers the URL to send the browser to, whose redirect back links it (P8)',
        tag: 'auth',
        access: { kind: 'user' },
        params: providerParams,
        body: linkBody,
        response: z.object({ redirectTo: z.url() }),
        errors: ['NOT_FOUND', 'INVALID_CREDENTIALS', 'TOO_MANY_ATTEMPTS'],
      },
      async ({ req, res, params, body, userId }) => {
        const { redirectTo, state } = await deps.signIn.startOidcLink(
          params.provider,
          userId,
          body?.password,
          { ip: clientIp(req) },
        );
        setOidcCookie(res, deps.auth.cookies, state, OIDC_LOGIN_TTL_SECONDS);
        return { redirectTo: redirectTo.toString() };
      },
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/me/oidc-links/:provider',
        summary: 'Unlinks an identity provider: it no longer signs you in',
        tag: 'auth',
        access: { kind: 'user' },
        params: providerParams,
        status: 204,
        errors: ['NOT_FOUND'],
      },
      async ({ params, userId }) => {
        await deps.signIn.unlinkOidc(params.provider, userId);
        return undefined;
      },
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
          "The identity provider's redirect back: signs in (sets the refresh cookie and redirects to the dashboard, which then refreshes) or completes a link (redirects to the settings)",
        tag: 'auth',
        access: { kind: 'public' },
        params: providerParams,
        query: callbackQuery,
        status: 303,
        errors: ['NOT_FOUND', 'OIDC_FAILED', 'CONFLICT'],
      },
      async ({ req, res, params, query }) => {
        const cookieState = readCookie(req, OIDC_COOKIE);
        clearOidcCookie(res, deps.auth.cookies);
        const outcome = await deps.signIn.finishOidc(
          params.provider,
          { ...query, cookieState },
          clientOf(req),
        );
        if (outcome.kind === 'signed-in') {
          const { refreshToken, refreshExpiresIn } = outcome.tokens;
          setRefreshCookie(res, deps.auth.cookies, refreshToken, refreshExpiresIn);
        }
        res.setHeader('cache-control', 'no-store');
        res.redirect(303, outcome.kind === 'signed-in' ? SIGNED_IN_PAGE : LINKED_PAGE);
        return undefined;
      },
    ),
  ];
}
