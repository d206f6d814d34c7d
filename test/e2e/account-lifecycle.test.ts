import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, completeSignUp, signUp } from '../support/accounts.js';
import { call, CookieJar } from '../support/http-session.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, tokenIn, type TestMailbox } from '../support/smtp-catcher.js';

/** The whole life of a browser session, over real HTTP, SMTP and Postgres. */
describe('account lifecycle', () => {
  let mailbox: TestMailbox;
  let platform: TestPlatform;
  const url = (path: string) => `${platform.apiUrl}/api/v1${path}`;

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({ SMTP_URL: mailbox.url });
  });

  afterAll(async () => {
    await platform?.close();
    await mailbox?.stop();
  });

  it('P5/P9: sign-up → complete → log in → refresh → log out, after which neither token works', async () => {
    const account = newAccount('Maja Lindqvist');
    expect((await signUp(platform, account)).status).toBe(202);
    const token = tokenIn(await mailbox.next(account.email));
    expect((await completeSignUp(platform, token, account)).status).toBe(200);

    const jar = new CookieJar();
    const login = await call(url('/auth/login'), {
      body: { email: account.email, password: account.password },
      jar,
    });
    expect(login.status).toBe(200);
    const firstAccess = (login.body as { accessToken: string }).accessToken;
    expect((await call(url('/me'), { token: firstAccess })).body).toMatchObject({
      name: 'Maja Lindqvist',
      email: account.email,
    });

    const refreshed = await call(url('/auth/refresh'), { method: 'POST', jar, csrf: true });
    expect(refreshed.status).toBe(200);
    const access = (refreshed.body as { accessToken: string }).accessToken;
    const refreshCookie = jar.get('telemoat_refresh')!;
    expect((await call(url('/me'), { token: access })).status).toBe(200);

    const logout = await call(url('/auth/logout'), { method: 'POST', token: access });
    expect(logout.status).toBe(204);

    for (const accessToken of [firstAccess, access]) {
      expect(await call(url('/me'), { token: accessToken })).toMatchObject({
        status: 401,
        body: { code: 'UNAUTHENTICATED' },
      });
    }
    const replayJar = new CookieJar();
    replayJar.set('telemoat_refresh', refreshCookie);
    const replay = await call(url('/auth/refresh'), { method: 'POST', jar: replayJar, csrf: true });
    expect(replay.status).toBe(401);
  });
});
