import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, CookieJar, setCookieAttributes } from '../support/http-session.js';
import { startPlatformWithProvider, type TestOpenIdProvider } from '../support/oidc-provider.js';
import type { TestPlatform } from '../support/platform.js';

const PROVIDER = 'test-idp';

describe("P8: sign-in through the user's own OpenID Connect provider", () => {
  let platform: TestPlatform;
  let idp: TestOpenIdProvider;
  let orgId: string;
  let callbackUrl: string;
  const url = (path: string) => `${platform.apiUrl}/api/v1${path}`;

  beforeAll(async () => {
    ({ platform, idp, callbackUrl } = await startPlatformWithProvider(PROVIDER, {
      sub: 'idp-user-1',
      email: 'nobody@example.test',
      emailVerified: true,
    }));
    orgId = (await platform.createOrg('OIDC AB')).id;
  });

  afterAll(async () => {
    await platform?.close();
    await idp?.close();
  });

  /**
   * A browser's trip through the provider from `location` (its login interaction signs the
   * test account in at once) back to the API's callback, whose URL is returned.
   */
  async function throughProvider(location: string): Promise<string> {
    const providerJar = new CookieJar();
    for (let hop = 0; hop < 10 && !location.startsWith(callbackUrl); hop += 1) {
      const next = new URL(location, idp.issuer);
      expect(next.origin).toBe(idp.issuer);
      const response = await fetch(next, {
        redirect: 'manual',
        headers: { cookie: providerJar.header() },
      });
      providerJar.store(response);
      expect([302, 303]).toContain(response.status);
      location = response.headers.get('location')!;
    }
    expect(location.startsWith(callbackUrl)).toBe(true);
    return location;
  }

  /** A sign-in as far as the API's callback: the start route, then the provider. */
  async function signInAtProvider(jar = new CookieJar()) {
    const start = await call(url(`/auth/oidc/${PROVIDER}/start`), { jar });
    expect(start.status).toBe(303);
    const callbackLocation = await throughProvider(start.response.headers.get('location')!);
    return { start, callbackLocation, jar };
  }

  /** A whole sign-in through the provider, with the callback's answer. */
  async function providerSignIn() {
    const { callbackLocation, jar } = await signInAtProvider();
    return { callback: await call(callbackLocation, { jar }), jar };
  }

  /** A signed-in user links the provider's current account to theirs; the callback's answer. */
  async function link(user: { token: string; password: string }) {
    const jar = new CookieJar();
    const started = await call(url(`/me/oidc-links/${PROVIDER}`), {
      method: 'POST',
      token: user.token,
      body: { password: user.password },
      jar,
    });
    expect(started.status).toBe(200);
    const { redirectTo } = started.body as { redirectTo: string };
    const callback = await call(await throughProvider(redirectTo), { jar });
    return { callback, jar };
  }

  /** A member signed in with the password, and the provider account they will use. */
  async function memberAtProvider(sub: string) {
    const user = await platform.createMember(orgId);
    const token = await platform.login(user.email, user.password);
    Object.assign(idp.account, { sub, email: user.email, emailVerified: true });
    return { ...user, token };
  }

  async function oidcFailures(): Promise<number> {
    const { rows } = await platform.adminPool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM security_events WHERE type = 'oidc_failed'",
    );
    return rows[0]!.n;
  }

  async function accessTokenOf(jar: CookieJar): Promise<string> {
    const refreshed = await call(url('/auth/refresh'), { method: 'POST', jar, csrf: true });
    expect(refreshed.status).toBe(200);
    return (refreshed.body as { accessToken: string }).accessToken;
  }

  it('P8: the start route redirects with PKCE S256, state and nonce, and binds the state to the browser', async () => {
    const start = await call(url(`/auth/oidc/${PROVIDER}/start`));
    expect(start.status).toBe(303);
    const authorize = new URL(start.response.headers.get('location')!);
    expect(authorize.origin).toBe(idp.issuer);
    const params = Object.fromEntries(authorize.searchParams);
    expect(params).toMatchObject({
      response_type: 'code',
      client_id: idp.clientId,
      redirect_uri: callbackUrl,
      code_challenge_method: 'S256',
    });
    expect(params.scope?.split(' ')).toContain('openid');
    for (const key of ['state', 'nonce', 'code_challenge'])
      expect(params[key]).toMatch(/^[\w-]{43}$/);
    const cookie = setCookieAttributes(start.response, 'telemoat_oidc');
    expect(cookie).toEqual(
      expect.arrayContaining(['httponly', 'samesite=lax', 'path=/api/v1/auth/oidc']),
    );
    // Unknown providers do not exist.
    expect((await call(url('/auth/oidc/nope/start'))).status).toBe(404);
  });

  it('P8: lists the configured providers for the sign-in page, without their secrets', async () => {
    const answer = await call(url('/auth/oidc/providers'));
    expect(answer).toMatchObject({
      status: 200,
      body: { providers: [{ id: PROVIDER, name: 'Test Identity' }] },
    });
    expect(JSON.stringify(answer.body)).not.toContain(idp.clientSecret);
  });

  it("P8: an unlinked identity asserting the victim's verified e-mail does not sign in to the victim's account", async () => {
    const victim = await platform.createMember(orgId);
    // Any configured provider can assert any address: here it asserts the victim's, verified.
    Object.assign(idp.account, {
      sub: 'attacker-at-idp',
      email: victim.email.toUpperCase(),
      emailVerified: true,
    });
    const before = await oidcFailures();

    const { callback, jar } = await providerSignIn();
    expect(callback).toMatchObject({ status: 401, body: { code: 'OIDC_FAILED' } });
    expect(jar.get('telemoat_refresh')).toBeUndefined();
    expect(await oidcFailures()).toBe(before + 1);
    // Nothing was linked on the way.
    const { rows } = await platform.adminPool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM oidc_identities WHERE user_id = $1',
      [victim.userId],
    );
    expect(rows[0]!.n).toBe(0);
  });

  it('P8: an unlinked identity gets one answer whether its e-mail is verified, unverified or unknown', async () => {
    const user = await platform.createMember(orgId);
    const answers = [];
    for (const [email, emailVerified] of [
      [user.email, true],
      [user.email, false],
      ['no-such-user@example.test', true],
    ] as const) {
      Object.assign(idp.account, { sub: 'unlinked-at-idp', email, emailVerified });
      const { callback } = await providerSignIn();
      expect(callback).toMatchObject({ status: 401, body: { code: 'OIDC_FAILED' } });
      answers.push(callback.body);
    }
    // The reason is logged, not returned.
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('P8: a signed-in user links the provider, which then signs them in with a session like a password login', async () => {
    const user = await memberAtProvider('linked-user-at-idp');
    // Being signed in is the proof of the account; the provider need not vouch for an e-mail.
    idp.account.emailVerified = false;
    const linked = await link(user);
    expect(linked.callback.status).toBe(303);
    expect(linked.callback.response.headers.get('location')).toBe('/settings');
    expect(linked.jar.get('telemoat_refresh')).toBeUndefined();
    expect(linked.jar.get('telemoat_oidc')).toBeUndefined();
    const links = await call(url('/me/oidc-links'), { token: user.token });
    expect(links).toMatchObject({
      status: 200,
      body: {
        providers: [
          { id: PROVIDER, name: 'Test Identity', linkedAt: expect.any(String) as string },
        ],
      },
    });

    // The identity decides, not the e-mail the provider now asserts.
    Object.assign(idp.account, { email: 'changed-at-the-provider@example.test' });
    const { callback, jar } = await providerSignIn();
    expect(callback.status).toBe(303);
    expect(callback.response.headers.get('location')).toBe('/');
    expect(setCookieAttributes(callback.response, 'telemoat_refresh')).toEqual(
      expect.arrayContaining(['httponly', 'samesite=strict', 'path=/api/v1/auth']),
    );
    expect(jar.get('telemoat_oidc')).toBeUndefined();

    // The page then obtains its access token through the refresh cookie.
    const accessToken = await accessTokenOf(jar);
    const me = await call(url('/me'), { token: accessToken });
    expect(me).toMatchObject({ status: 200, body: { id: user.userId } });
    const history = await call(url('/me/sign-ins'), { token: accessToken });
    expect((history.body as { signIns: { method: string }[] }).signIns[0]).toMatchObject({
      method: 'oidc',
    });
    const sessions = await call(url('/me/sessions'), { token: accessToken });
    expect((sessions.body as { sessions: { method: string }[] }).sessions).toContainEqual(
      expect.objectContaining({ method: 'oidc', current: true }),
    );

    // And it really ends at logout (P9).
    expect((await call(url('/auth/logout'), { method: 'POST', token: accessToken })).status).toBe(
      204,
    );
    expect((await call(url('/me'), { token: accessToken })).status).toBe(401);
  });

  it('P8: one identity (issuer, sub) cannot be linked to two accounts', async () => {
    const first = await memberAtProvider('contested-at-idp');
    expect((await link(first)).callback.status).toBe(303);
    const second = await memberAtProvider('contested-at-idp');
    const before = await oidcFailures();

    const refused = await link(second);
    expect(refused.callback).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
    expect(await oidcFailures()).toBe(before + 1);
    const links = await call(url('/me/oidc-links'), { token: second.token });
    expect(links.body).toEqual({
      providers: [{ id: PROVIDER, name: 'Test Identity', linkedAt: null }],
    });

    // The identity still signs in the account it was linked to first.
    const { callback, jar } = await providerSignIn();
    expect(callback.status).toBe(303);
    const me = await call(url('/me'), { token: await accessTokenOf(jar) });
    expect(me.body).toMatchObject({ id: first.userId });
  });

  it('P8: an account links one identity per provider; linking the same one again changes nothing', async () => {
    const user = await memberAtProvider('first-of-two-at-idp');
    expect((await link(user)).callback.status).toBe(303);
    expect((await link(user)).callback.status).toBe(303);
    idp.account.sub = 'second-of-two-at-idp';
    expect((await link(user)).callback).toMatchObject({
      status: 409,
      body: { code: 'CONFLICT' },
    });
    expect((await providerSignIn()).callback.status).toBe(401);
  });

  it('P8: unlinking stops sign-in through the provider', async () => {
    const user = await memberAtProvider('unlinked-later-at-idp');
    expect((await link(user)).callback.status).toBe(303);
    expect((await providerSignIn()).callback.status).toBe(303);

    const path = url(`/me/oidc-links/${PROVIDER}`);
    expect((await call(path, { method: 'DELETE', token: user.token })).status).toBe(204);
    const { callback, jar } = await providerSignIn();
    expect(callback).toMatchObject({ status: 401, body: { code: 'OIDC_FAILED' } });
    expect(jar.get('telemoat_refresh')).toBeUndefined();
    // Nothing is left to unlink; an unknown provider does not exist.
    expect(await call(path, { method: 'DELETE', token: user.token })).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    expect(
      (await call(url('/me/oidc-links/nope'), { method: 'DELETE', token: user.token })).status,
    ).toBe(404);
    expect(
      (
        await call(url('/me/oidc-links/nope'), {
          method: 'POST',
          token: user.token,
          body: { password: user.password },
        })
      ).status,
    ).toBe(404);
  });

  it('P8: a different sub with the same e-mail at the same issuer is refused', async () => {
    const user = await memberAtProvider('rightful-at-idp');
    expect((await link(user)).callback.status).toBe(303);

    // Another person at the same provider, asserting the same verified address.
    idp.account.sub = 'impostor-at-idp';
    const { callback, jar } = await providerSignIn();
    expect(callback).toMatchObject({ status: 401, body: { code: 'OIDC_FAILED' } });
    expect(jar.get('telemoat_refresh')).toBeUndefined();
  });

  it('P8, P10: linking needs the current password, not only an access token, checked under the throttle', async () => {
    const user = await memberAtProvider('careful-at-idp');
    const path = url(`/me/oidc-links/${PROVIDER}`);
    for (const body of [undefined, { password: 'not the password' }]) {
      expect(
        await call(path, { method: 'POST', token: user.token, ...(body ? { body } : {}) }),
      ).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS' } });
    }
    const failures = await platform.adminPool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM security_events WHERE type = 'signin_failed' AND user_id IS NULL",
    );
    expect(failures.rows[0]!.n).toBeGreaterThanOrEqual(2);
    expect((await link(user)).callback.status).toBe(303);
  });

  it('P8: linking needs a signed-in user', async () => {
    const path = url(`/me/oidc-links/${PROVIDER}`);
    expect(await call(path, { method: 'POST' })).toMatchObject({
      status: 401,
      body: { code: 'UNAUTHENTICATED' },
    });
    expect((await call(path, { method: 'DELETE' })).status).toBe(401);
    expect((await call(url('/me/oidc-links'))).status).toBe(401);
  });

  it("P8: the callback refuses a state that is not the browser's, and each state works once", async () => {
    const user = await memberAtProvider('state-checks-at-idp');
    expect((await link(user)).callback.status).toBe(303);
    const before = await oidcFailures();

    // An attacker's code and state, delivered to a victim's browser (login CSRF).
    const attacker = await signInAtProvider();
    const victim = new CookieJar();
    victim.set('telemoat_oidc', 'a-state-the-victim-was-given-long-enough-to-pass');
    const planted = await call(attacker.callbackLocation, { jar: victim });
    expect(planted).toMatchObject({ status: 401, body: { code: 'OIDC_FAILED' } });
    expect(victim.get('telemoat_refresh')).toBeUndefined();

    // No cookie at all.
    const bare = await call(attacker.callbackLocation);
    expect(bare.status).toBe(401);

    // The rightful browser completes once; replaying the same callback is refused.
    const honest = await signInAtProvider();
    const saved = honest.jar.get('telemoat_oidc')!;
    expect((await call(honest.callbackLocation, { jar: honest.jar })).status).toBe(303);
    const replayJar = new CookieJar();
    replayJar.set('telemoat_oidc', saved);
    const replay = await call(honest.callbackLocation, { jar: replayJar });
    expect(replay).toMatchObject({ status: 401, body: { code: 'OIDC_FAILED' } });

    expect(await oidcFailures()).toBe(before + 3);
  });

  it('P8: refuses a callback whose code was not issued for this attempt (no PKCE match)', async () => {
    const user = await memberAtProvider('pkce-checks-at-idp');
    expect((await link(user)).callback.status).toBe(303);
    // Two attempts in one browser: the code of the first with the state of the second.
    const first = await signInAtProvider();
    const second = await signInAtProvider(first.jar);
    const code = new URL(first.callbackLocation).searchParams.get('code')!;
    const mixed = new URL(second.callbackLocation);
    mixed.searchParams.set('code', code);
    const result = await call(mixed.toString(), { jar: second.jar });
    expect(result).toMatchObject({ status: 401, body: { code: 'OIDC_FAILED' } });
  });
});
