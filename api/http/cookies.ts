import type { CookieOptions, Request, Response } from 'express';
import { AppError } from '../../common/errors.js';

/** Where the auth routes live; the refresh cookie is sent to them and nowhere else. */
export const AUTH_PATH = '/api/v1/auth';
export const REFRESH_COOKIE = 'telemoat_refresh';
export const OIDC_COOKIE = 'telemoat_oidc';
/** Proof that this browser signed in to an account before (directory/sessions/known-browser). */
export const KNOWN_BROWSER_COOKIE = 'telemoat_known_browser';
/**
 * The CSRF defence of the cookie-authenticated routes (refresh, logout). A page on another
 * site can make a browser send a form or a simple request with cookies, but it cannot add a
 * custom header without a CORS preflight, which this API never approves. SameSite=Strict on
 * the cookie is the second layer.
 */
export const CSRF_HEADER = 'x-telemoat-csrf';

export interface CookieSettings {
  /** Off only for plain-HTTP local use (http://localhost): browsers drop Secure cookies there. */
  secure: boolean;
}

export function readCookie(req: Request, name: string): string | undefined {
  const header = req.header('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Refuses a cookie-authenticated request that lacks the CSRF header. */
export function requireCsrfHeader(req: Request): void {
  if (req.header(CSRF_HEADER) !== '1') throw new AppError('CSRF_REJECTED');
}

function refreshCookieOptions(settings: CookieSettings): CookieOptions {
  return { httpOnly: true, secure: settings.secure, sameSite: 'strict', path: AUTH_PATH };
}

export function setRefreshCookie(
  res: Response,
  settings: CookieSettings,
  token: string,
  maxAgeSeconds: number,
): void {
  res.cookie(REFRESH_COOKIE, token, {
    ...refreshCookieOptions(settings),
    maxAge: maxAgeSeconds * 1000,
  });
}

/** Kept across sign-outs on purpose: it recognises the browser, not a session. */
export function setKnownBrowserCookie(
  res: Response,
  settings: CookieSettings,
  proof: string,
  maxAgeSeconds: number,
): void {
  res.cookie(KNOWN_BROWSER_COOKIE, proof, {
    ...refreshCookieOptions(settings),
    maxAge: maxAgeSeconds * 1000,
  });
}

export function clearRefreshCookie(res: Response, settings: CookieSettings): void {
  res.clearCookie(REFRESH_COOKIE, refreshCookieOptions(settings));
}

/**
 * The OpenID Connect state travels in a Lax cookie: it must come back with the provider's
 * top-level redirect to the callback, which SameSite=Strict would withhold.
 */
function oidcCookieOptions(settings: CookieSettings): CookieOptions {
  return { httpOnly: true, secure: settings.secure, sameSite: 'lax', path: `${AUTH_PATH}/oidc` };
}

export function setOidcCookie(
  res: Response,
  settings: CookieSettings,
  state: string,
  maxAgeSeconds: number,
): void {
  res.cookie(OIDC_COOKIE, state, { ...oidcCookieOptions(settings), maxAge: maxAgeSeconds * 1000 });
}

export function clearOidcCookie(res: Response, settings: CookieSettings): void {
  res.clearCookie(OIDC_COOKIE, oidcCookieOptions(settings));
}
