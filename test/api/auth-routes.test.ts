import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_NOW, startApiApp, type Answer, useApiApp } from '../support/api-app.js';

interface Tokens {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken?: string;
  refreshExpiresIn?: number;
}

/** The refresh token a Set-Cookie header carries, with the cookie's attributes. */
function refreshCookieOf(answer: Answer): { value: string; attributes: string[] } {
  const header = answer.cookies.find((c) => c.startsWith('telemoat_refresh='));
  if (!header) throw new Error(`no refresh cookie in ${JSON.stringify(answer.cookies)}`);
  const [pair, ...attributes] = header.split(';').map((part) => part.trim());
  return { value: decodeURIComponent(pair!.slice('telemoat_refresh='.length)), attributes };
}

const withCookie = (refreshToken: string, csrf = true) => ({
  cookie: `telemoat_refresh=${encodeURIComponent(refreshToken)}`,
  ...(csrf ? { 'x-telemoat-csrf': '1' } : {}),
});

describe('auth routes', () => {
  const app = useApiApp();
  afterEach(() => app.clock.set(DEFAULT_NOW));

  async function login(email: string, password: string, refreshTokenIn?: 'cookie' | 'body') {
    return app.request('POST', '/auth/login', {
      body: { email, password, ...(refreshTokenIn ? { refreshTokenIn } : {}) },
      headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko Firefox/128.0' },
    });
  }

  describe('login', () => {
    it('P9: signs in: an access token, and the refresh token in an HttpOnly, SameSite=Strict cookie for /api/v1/auth only', async () => {
      const person = await app.user();
      const answer = await login(person.email.toUpperCase(), person.password);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('cache-control')).toBe('no-store');
      const tokens = answer.body as Tokens;
      expect(tokens).toEqual({
        accessToken: expect.any(String) as string,
        tokenType: 'Bearer',
        expiresIn: 900,
      });
      const cookie = refreshCookieOf(answer);
      expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(cookie.attributes).toEqual(
        expect.arrayContaining([
          'Path=/api/v1/auth',
          'HttpOnly',
          'SameSite=Strict',
          'Max-Age=1209600',
        ]),
      );
      // Plain-HTTP local use (AUTH_COOKIE_SECURE off): no Secure attribute.
      expect(cookie.attributes).not.toContain('Secure');

      const me = await app.request('GET', '/me', { token: tokens.accessToken });
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ id: person.userId, email: person.email });
    });

    it('P11: records the sign-in in the history with the browser family and the network, not the address', async () => {
      const person = await app.user();
      const { accessToken } = (await login(person.email, person.password)).body as Tokens;
      const history = await app.request('GET', '/me/sign-ins', { token: accessToken });
      expect(history.body).toEqual({
        signIns: [
          {
            time: new Date(app.clock.now()).toISOString(),
            method: 'password',
            userAgent: 'Firefox on Linux',
            network: '127.0.0.0/24',
          },
        ],
      });
    });

    it('with refreshTokenIn "body" answers the refresh token in the body and sets no cookie', async () => {
      const person = await app.user();
      const answer = await login(person.email, person.password, 'body');
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        refreshToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as string,
        refreshExpiresIn: 1_209_600,
      });
      expect(answer.cookies).toEqual([]);
    });

    it('P10: a wrong password, an unknown address and an unverified account get one answer; the log keeps a keyed hash of the address', async () => {
      const person = await app.user();
      const unverified = await app.user({ verified: false });
      const unknown = 'nobody-here@example.test';
      const answers = await Promise.all([
        login(person.email, 'not the password'),
        login(unknown, 'whatever it is'),
        login(unverified.email, unverified.password),
      ]);
      for (const answer of answers) {
        expect(answer.status).toBe(401);
        expect(answer.body).toEqual({
          code: 'INVALID_CREDENTIALS',
          message: 'E-mail or password is wrong.',
        });
        expect(answer.cookies).toEqual([]);
      }
      const failed = await app.stores.securityEvents.list({ limit: 100, type: 'signin_failed' });
      for (const email of [person.email, unknown, unverified.email]) {
        expect(failed).toContainEqual(
          expect.objectContaining({
            accountKey: app.accountKeyOf(email).toString('hex'),
            ip: '127.0.0.1',
          }),
        );
      }
      const log = JSON.stringify(failed);
      for (const email of [person.email, unknown, unverified.email]) {
        expect(log).not.toContain(email);
      }
    });

    it('P10: after the free failures sign-in waits, even with the right password; Retry-After says how long', async () => {
      const own = await startApiApp();
      try {
        const person = await own.user();
        const attempt = () =>
          own.request('POST', '/auth/login', {
            body: { email: person.email, password: person.password },
          });
        for (let i = 0; i < 5; i++) {
          const failed = await own.request('POST', '/auth/login', {
            body: { email: person.email, password: `wrong ${i}` },
          });
          expect(failed.status).toBe(401);
        }
        const throttled = await attempt();
        expect(throttled.status).toBe(429);
        expect(throttled.headers.get('retry-after')).toBe('1');
        expect(throttled.body).toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
        expect(
          await own.stores.securityEvents.list({ limit: 10, type: 'signin_throttled' }),
        ).toHaveLength(1);

        own.clock.advance(1000);
        expect((await attempt()).status).toBe(200);
      } finally {
        await own.close();
      }
    });
  });

  describe('refresh', () => {
    it('answers 204 when no refresh token is presented: a signed-out page load', async () => {
      const answer = await app.request('POST', '/auth/refresh');
      expect(answer.status).toBe(204);
      expect(answer.text).toBe('');
    });

    it('refuses the cookie without the x-telemoat-csrf header, and leaves the token usable', async () => {
      const person = await app.user();
      const { value } = refreshCookieOf(await login(person.email, person.password));
      const refused = await app.request('POST', '/auth/refresh', {
        headers: withCookie(value, false),
      });
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ code: 'CSRF_REJECTED' });
      const wrongHeader = await app.request('POST', '/auth/refresh', {
        headers: { ...withCookie(value, false), 'x-telemoat-csrf': 'yes' },
      });
      expect(wrongHeader.status).toBe(403);
      expect(
        (await app.request('POST', '/auth/refresh', { headers: withCookie(value) })).status,
      ).toBe(200);
    });

    it('P9: rotates the refresh token; presenting a used one ends the whole session', async () => {
      const person = await app.user();
      const first = await login(person.email, person.password);
      const firstAccess = (first.body as Tokens).accessToken;
      const used = refreshCookieOf(first).value;

      const refreshed = await app.request('POST', '/auth/refresh', { headers: withCookie(used) });
      expect(refreshed.status).toBe(200);
      const next = refreshCookieOf(refreshed).value;
      expect(next).not.toBe(used);
      const secondAccess = (refreshed.body as Tokens).accessToken;
      expect((await app.request('GET', '/me', { token: secondAccess })).status).toBe(200);

      // The used token again: a thief or the owner; the family ends either way.
      const reused = await app.request('POST', '/auth/refresh', { headers: withCookie(used) });
      expect(reused.status).toBe(401);
      expect(reused.body).toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(refreshCookieOf(reused)).toMatchObject({ value: '' });
      expect(refreshCookieOf(reused).attributes).toContain('Expires=Thu, 01 Jan 1970 00:00:00 GMT');

      for (const token of [firstAccess, secondAccess]) {
        expect((await app.request('GET', '/me', { token })).status).toBe(401);
      }
      expect(
        (await app.request('POST', '/auth/refresh', { headers: withCookie(next) })).status,
      ).toBe(401);
      expect(
        await app.stores.securityEvents.list({ limit: 100, type: 'refresh_token_reused' }),
      ).toContainEqual(expect.objectContaining({ userId: person.userId }));
    });

    it('exchanges a refresh token given in the body for new tokens in the body', async () => {
      const person = await app.user();
      const { refreshToken } = (await login(person.email, person.password, 'body')).body as Tokens;
      const answer = await app.request('POST', '/auth/refresh', { body: { refreshToken } });
      expect(answer.status).toBe(200);
      const tokens = answer.body as Tokens;
      expect(tokens.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(tokens.refreshToken).not.toBe(refreshToken);
      expect(answer.cookies).toEqual([]);
      for (const bad of ['', 'short', 'x'.repeat(43)]) {
        const refused = await app.request('POST', '/auth/refresh', { body: { refreshToken: bad } });
        expect(refused.status).toBe(401);
      }
    });
  });

  describe('logout', () => {
    it('P9: ends the session of the bearer token at once: its access and refresh tokens are refused', async () => {
      const person = await app.user();
      const answer = await login(person.email, person.password);
      const { accessToken } = answer.body as Tokens;
      const refresh = refreshCookieOf(answer).value;
      const other = await app.signInAs(person.userId);

      const out = await app.request('POST', '/auth/logout', { token: accessToken });
      expect(out.status).toBe(204);
      expect(refreshCookieOf(out).value).toBe('');
      expect((await app.request('GET', '/me', { token: accessToken })).status).toBe(401);
      expect(
        (await app.request('POST', '/auth/refresh', { headers: withCookie(refresh) })).status,
      ).toBe(401);
      // Only that session: the user's other session goes on.
      expect((await app.request('GET', '/me', { token: other.accessToken })).status).toBe(200);
      // Logging out with a token whose session ended is refused.
      expect((await app.request('POST', '/auth/logout', { token: accessToken })).status).toBe(401);
    });

    it('P9: with an expired access token, ends the session through the refresh cookie, or through the expired token alone', async () => {
      for (const withRefreshCookie of [true, false]) {
        const person = await app.user();
        const answer = await login(person.email, person.password);
        const { accessToken, expiresIn } = answer.body as Tokens;
        const refresh = refreshCookieOf(answer).value;
        app.clock.advance((expiresIn + 60) * 1000);
        expect((await app.request('GET', '/me', { token: accessToken })).status).toBe(401);

        const out = await app.request('POST', '/auth/logout', {
          token: accessToken,
          headers: withRefreshCookie ? withCookie(refresh) : {},
        });
        expect({ withRefreshCookie, status: out.status }).toEqual({
          withRefreshCookie,
          status: 204,
        });
        expect(refreshCookieOf(out).value).toBe('');
        // A reload cannot sign the browser in again: the session is over.
        const reload = await app.request('POST', '/auth/refresh', { headers: withCookie(refresh) });
        expect(reload.status).toBe(401);
        app.clock.set(DEFAULT_NOW);
      }
    });

    it('P9: a bearer token and a refresh cookie of different sessions end both', async () => {
      const person = await app.user();
      const first = await login(person.email, person.password);
      const second = await app.signInAs(person.userId);
      const out = await app.request('POST', '/auth/logout', {
        token: second.accessToken,
        headers: withCookie(refreshCookieOf(first).value),
      });
      expect(out.status).toBe(204);
      expect(await app.stores.sessions.listActive(person.userId)).toEqual([]);
    });

    it('by cookie needs the CSRF header; without any credential it is 401', async () => {
      const person = await app.user();
      const answer = await login(person.email, person.password);
      const { accessToken } = answer.body as Tokens;
      const refresh = refreshCookieOf(answer).value;
      const noHeader = await app.request('POST', '/auth/logout', {
        headers: withCookie(refresh, false),
      });
      expect(noHeader.status).toBe(403);
      expect((await app.request('GET', '/me', { token: accessToken })).status).toBe(200);
      expect(
        (await app.request('POST', '/auth/logout', { headers: withCookie(refresh) })).status,
      ).toBe(204);
      expect((await app.request('GET', '/me', { token: accessToken })).status).toBe(401);

      const nothing = await app.request('POST', '/auth/logout');
      expect(nothing.status).toBe(401);
      expect(nothing.body).toMatchObject({ code: 'UNAUTHENTICATED' });
    });

    it("P9: logout-all ends every session of the user and nobody else's", async () => {
      const person = await app.user();
      const bystander = await app.user();
      const sessions = await Promise.all([1, 2, 3].map(() => app.signInAs(person.userId)));
      const theirs = await app.signInAs(bystander.userId);

      const out = await app.request('POST', '/auth/logout-all', {
        token: sessions[0]!.accessToken,
      });
      expect(out.status).toBe(204);
      for (const session of sessions) {
        expect((await app.request('GET', '/me', { token: session.accessToken })).status).toBe(401);
        expect(app.stores.sessions.revokedReason(session.sessionId)).toBe('logout-all');
      }
      expect((await app.request('GET', '/me', { token: theirs.accessToken })).status).toBe(200);
      // A refresh token that names no live session ends nothing: 401.
      const stale = await app.request('POST', '/auth/logout-all', {
        body: { refreshToken: sessions[1]!.refreshToken },
      });
      expect(stale.status).toBe(401);
    });

    it('P9: an access token of an ended session cannot sign its user out everywhere', async () => {
      const person = await app.user();
      const leaked = await app.signInAs(person.userId);
      const owner = await app.signInAs(person.userId);
      await app.stores.sessions.revoke(leaked.sessionId, person.userId, 'logout');
      const out = await app.request('POST', '/auth/logout-all', { token: leaked.accessToken });
      expect(out).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
      expect((await app.request('GET', '/me', { token: owner.accessToken })).status).toBe(200);
    });
  });

  describe('sessions of the user', () => {
    it('P9: lists the live sessions with the current one marked, and ends another at once', async () => {
      const person = await app.user();
      const current = await app.signInAs(person.userId);
      const laptop = await app.signInAs(person.userId);
      const stranger = await app.signInAs((await app.user()).userId);

      const listed = await app.request('GET', '/me/sessions', { token: current.accessToken });
      const sessions = (
        listed.body as { sessions: { id: string; current: boolean; method: string }[] }
      ).sessions;
      expect(sessions.map((s) => [s.id, s.current]).sort()).toEqual(
        [
          [current.sessionId, true],
          [laptop.sessionId, false],
        ].sort(),
      );

      // Someone else's session is not found, and goes on.
      const foreign = await app.request('DELETE', `/me/sessions/${stranger.sessionId}`, {
        token: current.accessToken,
      });
      expect(foreign.status).toBe(404);
      expect((await app.request('GET', '/me', { token: stranger.accessToken })).status).toBe(200);

      const ended = await app.request('DELETE', `/me/sessions/${laptop.sessionId}`, {
        token: current.accessToken,
      });
      expect(ended.status).toBe(204);
      expect((await app.request('GET', '/me', { token: laptop.accessToken })).status).toBe(401);
      expect(app.stores.sessions.revokedReason(laptop.sessionId)).toBe('user');
      const again = await app.request('DELETE', `/me/sessions/${laptop.sessionId}`, {
        token: current.accessToken,
      });
      expect(again.status).toBe(404);
    });

    it('P9: a token stays valid only while its session lives: past its absolute lifetime it is refused', async () => {
      const person = await app.user();
      const { accessToken } = await app.signInAs(person.userId);
      expect((await app.request('GET', '/me', { token: accessToken })).status).toBe(200);
      const session = (await app.stores.sessions.listActive(person.userId))[0]!;
      app.clock.set(session.expiresAt.getTime());
      expect((await app.request('GET', '/me', { token: accessToken })).status).toBe(401);
    });
  });
});
