import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../servers/free-port.js';
import { call, CookieJar, setCookieAttributes } from '../support/http-session.js';
import { startTestOpenIdProvider, type TestOpenIdProvider } from '../support/oidc-provider.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const PROVIDER = 'test-idp';

describe("P8: sign-in through the user's own OpenID Connect provider", () => {
  let platform: TestPlatform;
  let idp: TestOpenIdProvider;
  let orgId: string;
  let callbackUrl: string;
  const url = (path: string) => `${platform.apiUrl}/api/v1${path}`;

  beforeAll(async () => {
    // The provider must know the API's callback before either starts, so both ports are chosen.
    const [apiPort, idpPort] = [await freePort(), await freePort()];
    callbackUrl = `http://127.0.0.1:${apiPort}/api/v1/auth/oidc/${PROVIDER}/callback`;
    idp = await startTestOpenIdProvider({
      port: idpPort,
      redirectUri: callbackUrl,
      account: { sub: 'idp-user-1', email: 'nobody@example.test', emailVerified: true },
    });
    platform = await startTestPlatform({
      API_PORT: String(apiPort),
      OIDC_PROVIDERS: JSON.stringify([
        {
          id: PROVIDER,
          name: 'Test Identity',
          issuer: idp.issuer,
          clientId: idp.clientId,
          clientSecret: idp.clientSecret,
          redirectUri: callbackUrl,
        },
      ]),
    });
    orgId = (await platform.createOrg('OIDC AB')).id;
  });

  afterAll(async () => {
    await platform?.close();
    await idp?.close();
  });

  /**
   * A browser's trip: the API's start route, the provider's redirects (its login interaction
   * signs the test account in at once), and back to the API's callback, which is returned.
   */
  async function signInAtProvider(jar = new CookieJar()) {
    const start = await call(url(`/auth/oidc/${PROVIDER}/start`), { jar });
    expect(start.status).toBe(303);
    let location = start.response.headers.get('location')!;
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
    return { start, callbackLocation: location, jar };
  }

  async function oidcFailures(): Promise<number> {
    const { rows } = await platform.adminPool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM security_events WHERE type = 'oidc_failed'",
    );
    return rows[0]!.n;
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

  it('P8: a verified e-mail at the provider signs in the existing user with a session like a password login', async () => {
    const user = await platform.createMember(orgId);
    idp.account.email = user.email.toUpperCase();
    idp.account.emailVerified = true;

    const { callbackLocation, jar } = await signInAtProvider();
    const callback = await call(callbackLocation, { jar });
    expect(callback.status).toBe(303);
    expect(callback.response.headers.get('location')).toBe('/');
    expect(setCookieAttributes(callback.response, 'telemoat_refresh')).toEqual(
      expect.arrayContaining(['httponly', 'samesite=strict', 'path=/api/v1/auth']),
    );
    expect(jar.get('telemoat_oidc')).toBeUndefined();

    // The page then obtains its access token through the refresh cookie.
    const refreshed = await call(url('/auth/refresh'), { method: 'POST', jar, csrf: true });
    expect(refreshed.status).toBe(200);
    const { accessToken } = refreshed.body as { accessToken: string };
    const me = await call(url('/me'), { token: accessToken });
    expect(me).toMatchObject({ status: 200, body: { id: user.userId } });
    const history = await call(url('/me/sign-ins'), { token: accessToken });
    expect((history.body as { signIns: { method: string }[] }).signIns).toEqual([
      expect.objectContaining({ method: 'oidc' }),
    ]);
    const sessions = await call(url('/me/sessions'), { token: accessToken });
    expect((sessions.body as { sessions: { method: string }[] }).sessions).toEqual([
      expect.objectContaining({ method: 'oidc', current: true }),
    ]);

    // And it really ends at logout (P9).
    expect((await call(url('/auth/logout'), { method: 'POST', token: accessToken })).status).toBe(
      204,
    );
    expect((await call(url('/me'), { token: accessToken })).status).toBe(401);
  });

  it("P8: the callback refuses a state that is not the browser's, and each state works once", async () => {
    const user = await platform.createMember(orgId);
    idp.account.email = user.email;
    idp.account.emailVerified = true;
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

  it('P8: refuses an e-mail the provider has not verified, and one without an account', async () => {
    const user = await platform.createMember(orgId);
    idp.account.email = user.email;
    idp.account.emailVerified = false;
    const unverified = await signInAtProvider();
    const refused = await call(unverified.callbackLocation, { jar: unverified.jar });
    expect(refused).toMatchObject({ status: 401, body: { code: 'OIDC_FAILED' } });
    expect(unverified.jar.get('telemoat_refresh')).toBeUndefined();

    idp.account.email = 'no-such-user@example.test';
    idp.account.emailVerified = true;
    const unknown = await signInAtProvider();
    const none = await call(unknown.callbackLocation, { jar: unknown.jar });
    expect(none).toMatchObject({ status: 401, body: { code: 'OIDC_FAILED' } });
    // Same answer for both: the reason is logged, not returned.
    expect(none.body).toEqual(refused.body);
  });

  it('P8: refuses a callback whose code was not issued for this attempt (no PKCE match)', async () => {
    const user = await platform.createMember(orgId);
    idp.account.email = user.email;
    idp.account.emailVerified = true;
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
