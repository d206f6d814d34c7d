import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError } from '../common/errors.js';
import type { NewSecurityEvent } from '../directory/security-events.repository.js';
import type { UserRecord } from '../directory/users.repository.js';
import {
  clearRefreshCookie,
  readCookie,
  REFRESH_COOKIE,
  requireCsrfHeader,
  setRefreshCookie,
  type CookieSettings,
} from './auth-cookies.js';
import { clientIp, userAgentFamily } from './client-info.js';
import { parse, route } from './http.js';
import { oidcRoutes, type OidcRoutesDeps } from './oidc.routes.js';
import type { IssuedTokens, SessionService } from './session.service.js';
import { accountKeyOf, type SignInThrottle } from './sign-in-throttle.service.js';
import type { TokenService } from './token.service.js';

export interface AuthSettings {
  cookies: CookieSettings;
  /** Key of the keyed hash that names accounts in the security log. */
  accountHashKey: string;
}

export interface AuthRoutesDeps extends OidcRoutesDeps {
  users: { findByEmail(email: string): Promise<UserRecord | null> };
  verifyPassword: (password: string, hash: string) => Promise<boolean>;
  tokens: TokenService;
  /** A hash of a random password, checked when the e-mail is unknown so timing reveals nothing. */
  decoyHash: string;
  sessionService: SessionService;
  sessions: {
    revoke(sessionId: string, userId: string, reason: 'logout'): Promise<boolean>;
    revokeAll(userId: string, reason: 'logout-all'): Promise<number>;
  };
  signInThrottle: SignInThrottle;
  securityEvents: { record(event: NewSecurityEvent): Promise<void> };
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

const refreshBody = z.strictObject({ refreshToken: z.string().max(128).optional() });

/** The refresh token of a request: from the body as given, or from the cookie with CSRF proof. */
function refreshTokenOf(req: Request): { token: string; from: 'cookie' | 'body' } | null {
  const body = parse(refreshBody, req.body ?? {});
  if (body.refreshToken !== undefined) return { token: body.refreshToken, from: 'body' };
  const cookie = readCookie(req, REFRESH_COOKIE);
  if (cookie === undefined) return null;
  requireCsrfHeader(req);
  return { token: cookie, from: 'cookie' };
}

export function sendTokens(
  res: Response,
  settings: AuthSettings,
  issued: IssuedTokens,
  to: 'cookie' | 'body',
): void {
  if (to === 'cookie') {
    setRefreshCookie(res, settings.cookies, issued.refreshToken, issued.refreshExpiresIn);
  }
  res.setHeader('cache-control', 'no-store');
  res.json({
    accessToken: issued.accessToken,
    tokenType: 'Bearer',
    expiresIn: issued.expiresIn,
    ...(to === 'body'
      ? { refreshToken: issued.refreshToken, refreshExpiresIn: issued.refreshExpiresIn }
      : {}),
  });
}

export function authRoutes(deps: AuthRoutesDeps): Router {
  const router = Router();

  router.post(
    '/login',
    route(async (req, res) => {
      const { email, password, refreshTokenIn } = parse(loginBody, req.body);
      const accountKey = accountKeyOf(email, deps.auth.accountHashKey);
      const ip = clientIp(req);
      const event = { accountKey, ...(ip ? { ip } : {}) };
      const issued = await deps.signInThrottle.serialised(accountKey, async () => {
        // Checked before the password, and keyed by the address as typed, so the answer is
        // the same whether or not the account exists (P10).
        const waitMs = await deps.signInThrottle.retryAfterMs(accountKey, ip);
        if (waitMs > 0) {
          await deps.securityEvents.record({ type: 'signin_throttled', ...event });
          const seconds = Math.max(1, Math.ceil(waitMs / 1000));
          res.setHeader('retry-after', String(seconds));
          throw new AppError('TOO_MANY_ATTEMPTS', { retryAfterSeconds: seconds });
        }
        const user = await deps.users.findByEmail(email);
        const matches = await deps.verifyPassword(password, user?.passwordHash ?? deps.decoyHash);
        // One answer for unknown e-mail, wrong password and unverified account alike.
        if (!user || !user.passwordHash || !matches || !user.verified) {
          await deps.securityEvents.record({ type: 'signin_failed', ...event });
          throw new AppError('INVALID_CREDENTIALS');
        }
        return deps.sessionService.start({
          userId: user.id,
          method: 'password',
          userAgent: userAgentFamily(req.header('user-agent')),
          ip,
          accountKey,
        });
      });
      sendTokens(res, deps.auth, issued, refreshTokenIn);
    }),
  );

  router.post(
    '/refresh',
    route(async (req, res) => {
      const presented = refreshTokenOf(req);
      const issued = presented
        ? await deps.sessionService.refresh(presented.token, clientIp(req))
        : null;
      if (!presented || !issued) {
        clearRefreshCookie(res, deps.auth.cookies);
        throw new AppError('UNAUTHENTICATED');
      }
      sendTokens(res, deps.auth, issued, presented.from);
    }),
  );

  /**
   * The session a logout names: the bearer access token's, or the refresh token's (body, or
   * cookie with the CSRF header). Null when a credential was given but its session is over.
   */
  async function sessionOf(req: Request): Promise<{ sessionId: string; userId: string } | null> {
    const bearer = /^Bearer (\S+)$/.exec(req.header('authorization') ?? '')?.[1];
    if (bearer) {
      const claims = await deps.tokens.verify(bearer);
      if (!claims) throw new AppError('UNAUTHENTICATED');
      return claims;
    }
    const presented = refreshTokenOf(req);
    if (!presented) throw new AppError('UNAUTHENTICATED');
    return deps.sessionService.sessionOf(presented.token);
  }

  router.post(
    '/logout',
    route(async (req, res) => {
      const session = await sessionOf(req);
      if (session) await deps.sessions.revoke(session.sessionId, session.userId, 'logout');
      clearRefreshCookie(res, deps.auth.cookies);
      res.status(204).end();
    }),
  );

  router.post(
    '/logout-all',
    route(async (req, res) => {
      const session = await sessionOf(req);
      if (!session) throw new AppError('UNAUTHENTICATED');
      await deps.sessions.revokeAll(session.userId, 'logout-all');
      clearRefreshCookie(res, deps.auth.cookies);
      res.status(204).end();
    }),
  );

  router.use('/oidc', oidcRoutes(deps));

  return router;
}
