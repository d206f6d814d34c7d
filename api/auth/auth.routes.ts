import type { Request, Response } from 'express';
import { z } from 'zod';
import { AppError } from '../../common/errors.js';
import {
  clearRefreshCookie,
  CSRF_HEADER,
  KNOWN_BROWSER_COOKIE,
  readCookie,
  REFRESH_COOKIE,
  requireCsrfHeader,
  setKnownBrowserCookie,
  setRefreshCookie,
  type CookieSettings,
} from '../http/cookies.js';
import { clientIp, clientOf } from '../http/client-info.js';
import { oidcRoutes, type OidcRoutesDeps } from './oidc.routes.js';
import { defineRoute, type Route } from '../http/route.js';
import type {
  IssuedTokens,
  SessionCredential,
  SessionService,
} from '../../directory/sessions/session.service.js';
import type { TokenService } from './token.service.js';
import { KNOWN_BROWSER_TTL_SECONDS } from '../../directory/sessions/known-browser.js';

export interface AuthSettings {
  cookies: CookieSettings;
}

export interface AuthRoutesDeps extends OidcRoutesDeps {
  tokens: TokenService;
  sessionService: Pick<SessionService, 'refresh' | 'end'>;
  auth: AuthSettings;
}

/**
 * Where the refresh token goes. Browsers get it as an HttpOnly cookie that scripts cannot
 * read; programs without a cookie jar (scripts, command-line tools) ask for it in the body.
 */
const delivery = z.enum(['cookie', 'body']).default('cookie');

const loginBody = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(1).max(1024),
  refreshTokenIn: delivery,
});

/** Absent, or `{}`, when the refresh token comes in the cookie. */
const refreshBody = z.strictObject({ refreshToken: z.string().max(128).optional() }).optional();

const tokensAnswer = z.object({
  accessToken: z.string(),
  tokenType: z.literal('Bearer'),
  /** Seconds until the access token expires. */
  expiresIn: z.number().int(),
  /** Only with `refreshTokenIn: "body"` (and when refreshing with a body token). */
  refreshToken: z.string().optional(),
  refreshExpiresIn: z.number().int().optional(),
});

type RefreshBody = z.output<typeof refreshBody>;

/** The refresh token of a request: from the body as given, or from the cookie with CSRF proof. */
function refreshTokenOf(
  req: Request,
  body: RefreshBody,
): { token: string; from: 'cookie' | 'body' } | null {
  if (body?.refreshToken !== undefined) return { token: body.refreshToken, from: 'body' };
  const cookie = readCookie(req, REFRESH_COOKIE);
  if (cookie === undefined) return null;
  requireCsrfHeader(req);
  return { token: cookie, from: 'cookie' };
}

/** Sets the refresh cookie when it goes there, and returns the JSON answer. */
function tokensFor(
  res: Response,
  settings: AuthSettings,
  issued: IssuedTokens,
  to: 'cookie' | 'body',
): z.input<typeof tokensAnswer> {
  if (to === 'cookie') {
    setRefreshCookie(res, settings.cookies, issued.refreshToken, issued.refreshExpiresIn);
  }
  res.setHeader('cache-control', 'no-store');
  return {
    accessToken: issued.accessToken,
    tokenType: 'Bearer',
    expiresIn: issued.expiresIn,
    ...(to === 'body'
      ? { refreshToken: issued.refreshToken, refreshExpiresIn: issued.refreshExpiresIn }
      : {}),
  };
}

/** Sign-in with a password, refresh, logout (P9, P10); OpenID Connect routes beside them (P8). */
export function authRoutes(deps: AuthRoutesDeps): Route[] {
  /**
   * What a logout names: the session of the bearer access token, even an expired one, and the
   * session of the refresh token (body, or cookie with the CSRF header), so signing out works
   * whatever state the access token is in (P9). With a bearer token, a cookie without the CSRF
   * header is left out rather than refused: a cross-site page cannot send the bearer.
   */
  async function credentialsOf(req: Request, body: RefreshBody): Promise<SessionCredential[]> {
    const credentials: SessionCredential[] = [];
    const bearer = /^Bearer (\S+)$/.exec(req.header('authorization') ?? '')?.[1];
    if (bearer) {
      const session = await deps.tokens.sessionNamedBy(bearer);
      if (session) credentials.push({ session });
    }
    const withCsrf = req.header(CSRF_HEADER) === '1';
    const presented = bearer && !withCsrf && !body?.refreshToken ? null : refreshTokenOf(req, body);
    if (presented) credentials.push({ refreshToken: presented.token });
    if (credentials.length === 0) throw new AppError('UNAUTHENTICATED');
    return credentials;
  }

  /** Ends what the credentials name; a cookie of no live session is worthless, so it goes. */
  function logoutRoute(path: string, summary: string, scope: 'logout' | 'logout-all'): Route {
    return defineRoute(
      {
        method: 'post',
        path,
        summary,
        tag: 'auth',
        access: { kind: 'public' },
        body: refreshBody,
        status: 204,
        errors: ['UNAUTHENTICATED', 'CSRF_REJECTED'],
      },
      async ({ req, res, body }) => {
        const ended = await deps.sessionService.end(await credentialsOf(req, body), scope);
        clearRefreshCookie(res, deps.auth.cookies);
        if (!ended) throw new AppError('UNAUTHENTICATED');
        return undefined;
      },
    );
  }

  return [
    defineRoute(
      {
        method: 'post',
        path: '/auth/login',
        summary:
          'Sign in with e-mail and password: an access token, and a refresh token in an HttpOnly cookie (or in the body)',
        tag: 'auth',
        access: { kind: 'public' },
        body: loginBody,
        response: tokensAnswer,
        errors: ['INVALID_CREDENTIALS', 'TOO_MANY_ATTEMPTS'],
      },
      async ({ req, res, body }) => {
        const issued = await deps.signIn.withPassword(
          body.email,
          body.password,
          clientOf(req),
          readCookie(req, KNOWN_BROWSER_COOKIE),
        );
        // Browsers only: a program without a cookie jar gets no cookies at all.
        if (body.refreshTokenIn === 'cookie') {
          const { cookies } = deps.auth;
          setKnownBrowserCookie(res, cookies, issued.knownBrowser, KNOWN_BROWSER_TTL_SECONDS);
        }
        return tokensFor(res, deps.auth, issued, body.refreshTokenIn);
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/auth/refresh',
        summary:
          'Exchange the refresh token (cookie with the x-telemoat-csrf: 1 header, or { refreshToken }) for new tokens; rotates it. 204 when no refresh token is presented',
        tag: 'auth',
        access: { kind: 'public' },
        body: refreshBody,
        response: tokensAnswer,
        errors: ['UNAUTHENTICATED', 'CSRF_REJECTED'],
      },
      async ({ req, res, body }) => {
        const presented = refreshTokenOf(req, body);
        if (!presented) {
          // Nobody is signed in here: a plain answer, so a signed-out page load logs no error.
          res.status(204).end();
          return undefined;
        }
        const issued = await deps.sessionService.refresh(presented.token, clientIp(req));
        if (!issued) {
          clearRefreshCookie(res, deps.auth.cookies);
          throw new AppError('UNAUTHENTICATED');
        }
        return tokensFor(res, deps.auth, issued, presented.from);
      },
    ),
    logoutRoute(
      '/auth/logout',
      'End the session of the bearer access token, even an expired one, and of the refresh token, at once (P9); 401 when they name no live session',
      'logout',
    ),
    logoutRoute('/auth/logout-all', 'End every session of the user at once (P9)', 'logout-all'),
    ...oidcRoutes(deps),
  ];
}
