import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountKeyOf } from '../../directory/sessions/sign-in-throttle.service.js';
import { call, CookieJar, setCookieAttributes } from '../support/http-session.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

interface Tokens {
  accessToken: string;
  tokenType: string;
  expiresIn: number;
  refreshToken?: string;
}

const FIREFOX_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 (build 2024-06-01; lab 7)';

describe('sessions that really end (P9), sign-in history (P11), the security log (P10)', () => {
  let platform: TestPlatform;
  let orgId: string;
  let alice: { email: string; password: string; userId: string };
  let bob: { email: string; password: string; userId: string };
  const url = (path: string) => `${platform.apiUrl}/api/v1${path}`;

  /** Signs in like a browser: the refresh token lands in the jar as a cookie. */
  async function browserLogin(user: { email: string; password: string }, jar = new CookieJar()) {
    const result = await call(url('/auth/login'), {
      body: { email: user.email, password: user.password },
      jar,
      userAgent: FIREFOX_LINUX,
    });
    expect(result.status).toBe(200);
    return { jar, tokens: result.body as Tokens, response: result.response };
  }

  /** Signs in like a program: the refresh token comes in the body. */
  async function programLogin(user: { email: string; password: string }) {
    const result = await call(url('/auth/login'), {
      body: { email: user.email, password: user.password, refreshTokenIn: 'body' },
    });
    expect(result.status).toBe(200);
    return result.body as Required<Tokens>;
  }

  const me = (token: string) => call(url('/me'), { token });
  const refreshByBody = (refreshToken: string) =>
    call(url('/auth/refresh'), { body: { refreshToken } });

  beforeAll(async () => {
    platform = await startTestPlatform();
    orgId = (await platform.createOrg('Sessions AB')).id;
    alice = await platform.createMember(orgId);
    bob = await platform.createMember(orgId);
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('P9: login returns a short-lived EdDSA access token naming its session, and the refresh token as a strict HttpOnly cookie', async () => {
    const { tokens, response } = await browserLogin(alice);
    expect(tokens).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    expect(tokens.refreshToken).toBeUndefined();
    const [header, payload] = tokens.accessToken
      .split('.')
      .slice(0, 2)
      .map(
        (part) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>,
      );
    expect(header).toMatchObject({ alg: 'EdDSA' });
    expect(payload).toMatchObject({ sub: alice.userId, iss: 'telemoat', aud: 'telemoat-api' });
    expect(payload?.sid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(payload?.exp) - Number(payload?.iat)).toBe(900);

    const attributes = setCookieAttributes(response, 'telemoat_refresh');
    expect(attributes).toEqual(
      expect.arrayContaining(['httponly', 'samesite=strict', 'path=/api/v1/auth']),
    );
    // The test platform speaks plain HTTP, so Secure is configured off (AUTH_COOKIE_SECURE).
    expect(attributes).not.toContain('secure');
    // Only the SHA-256 of the refresh token is stored.
    const cookie = /telemoat_refresh=([^;]+)/.exec(response.headers.getSetCookie().join(';'))![1]!;
    const stored = await platform.adminPool.query<{ hash: string }>(
      `SELECT encode(token_hash, 'hex') AS hash FROM refresh_tokens
       WHERE session_id = $1`,
      [payload?.sid],
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!.hash).not.toContain(Buffer.from(cookie).toString('hex'));
    expect(stored.rows[0]!.hash).toHaveLength(64);
  });

  it('P9: refreshing through the cookie needs the CSRF header', async () => {
    const { jar } = await browserLogin(alice);
    const refused = await call(url('/auth/refresh'), { method: 'POST', jar });
    expect(refused).toMatchObject({ status: 403, body: { code: 'CSRF_REJECTED' } });
    const logout = await call(url('/auth/logout'), { method: 'POST', jar });
    expect(logout).toMatchObject({ status: 403, body: { code: 'CSRF_REJECTED' } });
    const allowed = await call(url('/auth/refresh'), { method: 'POST', jar, csrf: true });
    expect(allowed.status).toBe(200);
  });

  it('P9: refresh rotates the token; reusing a used one revokes the whole family', async () => {
    const { jar, tokens: first } = await browserLogin(alice);
    const firstCookie = jar.get('telemoat_refresh')!;

    const second = await call(url('/auth/refresh'), { method: 'POST', jar, csrf: true });
    expect(second.status).toBe(200);
    const secondCookie = jar.get('telemoat_refresh')!;
    expect(secondCookie).not.toBe(firstCookie);
    const secondAccess = (second.body as Tokens).accessToken;
    expect((await me(secondAccess)).status).toBe(200);
    expect((await me(first.accessToken)).status).toBe(200);

    // Someone replays the first, already used, refresh token.
    const stolen = new CookieJar();
    stolen.set('telemoat_refresh', firstCookie);
    const replay = await call(url('/auth/refresh'), { method: 'POST', jar: stolen, csrf: true });
    expect(replay).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });

    // The family is over: the newest refresh token and every access token of it are refused.
    const legit = await call(url('/auth/refresh'), { method: 'POST', jar, csrf: true });
    expect(legit.status).toBe(401);
    expect((await me(secondAccess)).status).toBe(401);
    expect((await me(first.accessToken)).status).toBe(401);

    const events = await platform.adminPool.query(
      `SELECT user_id, host(ip) AS ip FROM security_events WHERE type = 'refresh_token_reused'`,
    );
    expect(events.rows).toContainEqual({ user_id: alice.userId, ip: '127.0.0.1' });
  });

  it('P9: after logout no token of that session is accepted anywhere', async () => {
    const session = await programLogin(alice);
    const other = await programLogin(alice);
    const devices = `/orgs/${orgId}/devices`;
    expect((await call(url(devices), { token: session.accessToken })).status).toBe(200);

    const logout = await call(url('/auth/logout'), {
      method: 'POST',
      token: session.accessToken,
    });
    expect(logout.status).toBe(204);

    for (const path of ['/me', devices, '/me/sessions', '/me/sign-ins']) {
      const after = await call(url(path), { token: session.accessToken });
      expect(after, path).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    }
    expect((await refreshByBody(session.refreshToken)).status).toBe(401);
    // Logging out again with the ended session's token is refused too.
    const again = await call(url('/auth/logout'), { method: 'POST', token: session.accessToken });
    expect(again.status).toBe(401);
    // The user's other session is untouched.
    expect((await me(other.accessToken)).status).toBe(200);
    expect((await refreshByBody(other.refreshToken)).status).toBe(200);
  });

  it('P9: logout by refresh cookie ends the session and clears the cookie', async () => {
    const { jar, tokens } = await browserLogin(alice);
    const cookie = jar.get('telemoat_refresh')!;
    const logout = await call(url('/auth/logout'), { method: 'POST', jar, csrf: true });
    expect(logout.status).toBe(204);
    expect(jar.get('telemoat_refresh')).toBeUndefined();
    expect((await me(tokens.accessToken)).status).toBe(401);
    expect((await refreshByBody(cookie)).status).toBe(401);
  });

  it('P9: logout-all ends every session of the user at once, and only theirs', async () => {
    const sessions = [await programLogin(bob), await programLogin(bob)];
    const browser = await browserLogin(bob);
    const alices = await programLogin(alice);

    const result = await call(url('/auth/logout-all'), {
      method: 'POST',
      token: sessions[0]!.accessToken,
    });
    expect(result.status).toBe(204);

    for (const session of sessions) {
      expect((await me(session.accessToken)).status).toBe(401);
      expect((await refreshByBody(session.refreshToken)).status).toBe(401);
    }
    expect((await me(browser.tokens.accessToken)).status).toBe(401);
    const cookieRefresh = await call(url('/auth/refresh'), {
      method: 'POST',
      jar: browser.jar,
      csrf: true,
    });
    expect(cookieRefresh.status).toBe(401);
    expect((await me(alices.accessToken)).status).toBe(200);
  });

  it("P9: /me/sessions lists the user's live sessions with a coarse browser family; one can be ended", async () => {
    const carol = await platform.createMember(orgId);
    const { tokens: current } = await browserLogin(carol);
    const other = await programLogin(carol);

    const list = await call(url('/me/sessions'), { token: current.accessToken });
    expect(list.status).toBe(200);
    const sessions = (list.body as { sessions: Record<string, unknown>[] }).sessions;
    expect(sessions).toHaveLength(2);
    const mine = sessions.find((s) => s.current === true)!;
    expect(mine).toMatchObject({ method: 'password', userAgent: 'Firefox on Linux' });
    for (const key of ['createdAt', 'lastUsedAt', 'expiresAt']) {
      expect(Date.parse(String(mine[key]))).not.toBeNaN();
    }
    // Neither the full User-Agent string nor even the family is stored in plaintext (P12).
    const stored = await platform.adminPool.query(
      `SELECT s.*, i.* FROM sessions s JOIN sign_ins i ON i.user_id = s.user_id
       WHERE s.user_id = $1`,
      [carol.userId],
    );
    expect(stored.rows.length).toBeGreaterThan(0);
    const raw = stored.rows
      .flatMap((row: Record<string, unknown>) => Object.values(row))
      .map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v)))
      .join(' ');
    for (const plain of ['rv:128.0', 'Firefox', 'Linux']) expect(raw).not.toContain(plain);

    const otherId = sessions.find((s) => s.current === false)!.id as string;
    // Someone else cannot end it: not found, as if it did not exist.
    const bobs = await programLogin(bob);
    const foreign = await call(url(`/me/sessions/${otherId}`), {
      method: 'DELETE',
      token: bobs.accessToken,
    });
    expect(foreign.status).toBe(404);
    expect((await me(other.accessToken)).status).toBe(200);

    const ended = await call(url(`/me/sessions/${otherId}`), {
      method: 'DELETE',
      token: current.accessToken,
    });
    expect(ended.status).toBe(204);
    expect((await me(other.accessToken)).status).toBe(401);
    expect((await refreshByBody(other.refreshToken)).status).toBe(401);
    const after = await call(url('/me/sessions'), { token: current.accessToken });
    expect((after.body as { sessions: unknown[] }).sessions).toHaveLength(1);
  });

  it("P11: /me/sign-ins lists the user's own sign-ins only, with method, browser family and network", async () => {
    const dave = await platform.createMember(orgId);
    const erin = await platform.createMember(orgId);
    await browserLogin(dave);
    await programLogin(dave);
    await programLogin(erin);
    // A failed attempt is not a sign-in.
    await call(url('/auth/login'), { body: { email: dave.email, password: 'wrong-password' } });
    const token = (await programLogin(dave)).accessToken;

    const history = await call(url('/me/sign-ins'), { token });
    expect(history.status).toBe(200);
    const signIns = (history.body as { signIns: Record<string, unknown>[] }).signIns;
    expect(signIns).toHaveLength(3);
    for (const signIn of signIns) {
      expect(signIn).toMatchObject({ method: 'password', network: '127.0.0.0/24' });
      expect(Date.parse(String(signIn.time))).not.toBeNaN();
    }
    expect(signIns.map((s) => s.userAgent)).toContain('Firefox on Linux');
    const times = signIns.map((s) => Date.parse(String(s.time)));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const erins = await call(url('/me/sign-ins'), {
      token: (await programLogin(erin)).accessToken,
    });
    expect((erins.body as { signIns: unknown[] }).signIns).toHaveLength(2);
    // The network is sealed with the user's data key; the full address is never kept.
    const stored = await platform.adminPool.query<{ network: Buffer; agent: Buffer }>(
      `SELECT network_ciphertext AS network, user_agent_ciphertext AS agent FROM sign_ins
       WHERE user_id = $1`,
      [dave.userId],
    );
    expect(stored.rows).toHaveLength(3);
    for (const row of stored.rows) {
      expect(row.network.toString('latin1')).not.toContain('127.0.0');
      expect(row.agent.toString('latin1')).not.toContain('Firefox');
    }
  });

  it('P10: security events are readable only by the security role', async () => {
    const unknown = `nobody-${Date.now()}@example.test`;
    await call(url('/auth/login'), { body: { email: unknown, password: 'guess-1' } });
    const analyst = await platform.createMember(orgId, 'owner');
    const token = (await programLogin(analyst)).accessToken;

    // An organisation owner is not the security role; neither is anyone signed out.
    const refused = await call(url('/security/events'), { token });
    expect(refused).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect((await call(url('/security/events'))).status).toBe(401);

    await platform.adminPool.query(
      `INSERT INTO platform_roles (user_id, role) VALUES ($1, 'security')`,
      [analyst.userId],
    );
    const allowed = await call(url('/security/events?type=signin_failed&limit=1000'), { token });
    expect(allowed.status).toBe(200);
    const events = (allowed.body as { events: Record<string, unknown>[] }).events;
    const key = accountKeyOf(unknown, platform.env.SECURITY_LOG_KEY!).toString('hex');
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'signin_failed', ip: '127.0.0.1', accountKey: key }),
    );
    // The address itself is nowhere in the log, for unknown and known accounts alike.
    const everything = JSON.stringify(
      (await platform.adminPool.query('SELECT * FROM security_events')).rows,
    );
    for (const email of [unknown, alice.email, bob.email]) {
      expect(everything).not.toContain(email);
    }
    // Still 403 for the others.
    expect(
      (await call(url('/security/events'), { token: (await programLogin(bob)).accessToken }))
        .status,
    ).toBe(403);
  });
});
