import { beforeEach, describe, expect, it } from 'vitest';
import { TERMS_VERSION, useApiApp } from '../support/api-app.js';

/**
 * Changing and resetting a password through the routes (P9, P10), over the real password guard
 * and throttle with the fake stores. The throttle's free attempts are the defaults (5 per account
 * per network), and its clock is the app's, which stands still.
 */
describe('password change and reset routes', () => {
  const app = useApiApp();
  // Past the throttle's window, so no test's failures count against another's.
  beforeEach(() => app.clock.advance(3_600_000));

  const events = (email: string) =>
    app.stores.securityEvents.list({ limit: 1000 }).then((all) =>
      all
        .filter((e) => e.accountKey === app.accountKeyOf(email).toString('hex'))
        .map((e) => e.type)
        .filter((type) => type !== 'signin_succeeded'),
    );

  it('P9: changing the password needs the current one, ends every other session and keeps this one', async () => {
    const person = await app.outsider();
    const other = await app.signInAs(person.userId);
    const wrong = await app.request('POST', '/me/password', {
      token: person.token,
      body: { currentPassword: 'not it', newPassword: 'a brand new passphrase' },
    });
    expect(wrong).toMatchObject({ status: 401, body: { code: 'INVALID_CREDENTIALS' } });
    expect(await events(person.email)).toEqual(['signin_failed']);

    const weak = await app.request('POST', '/me/password', {
      token: person.token,
      body: { currentPassword: person.password, newPassword: 'password' },
    });
    expect(weak).toMatchObject({ status: 400, body: { code: 'WEAK_PASSWORD' } });

    const changed = await app.request('POST', '/me/password', {
      token: person.token,
      body: { currentPassword: person.password, newPassword: 'a brand new passphrase' },
    });
    expect(changed.status).toBe(204);
    expect((await app.request('GET', '/me', { token: person.token })).status).toBe(200);
    expect((await app.request('GET', '/me', { token: other.accessToken })).status).toBe(401);
    expect(app.stores.sessions.revokedReason(other.sessionId)).toBe('password');
    const login = (password: string) =>
      app.request('POST', '/auth/login', { body: { email: person.email, password } });
    expect((await login(person.password)).status).toBe(401);
    expect((await login('a brand new passphrase')).status).toBe(200);
    expect(app.services.passwordService.outbox.at(-1)).toEqual({
      to: person.email,
      purpose: 'password-changed',
    });
  });

  it('P10: the current password of a password change and of an e-mail change is checked under the sign-in throttle: 30 wrong guesses, then the right one is 429', async () => {
    for (const [path, body] of [
      [
        '/me/password',
        (password: string) => ({ currentPassword: password, newPassword: 'x'.repeat(20) }),
      ],
      ['/me/email', (password: string) => ({ email: 'elsewhere@example.test', password })],
    ] as const) {
      const person = await app.outsider();
      const answers: number[] = [];
      for (let i = 0; i < 30; i += 1) {
        answers.push(
          (await app.request('POST', path, { token: person.token, body: body(`guess ${i}`) }))
            .status,
        );
      }
      expect({ path, answers }).toEqual({
        path,
        answers: [...Array<number>(5).fill(401), ...Array<number>(25).fill(429)],
      });
      const right = await app.request('POST', path, {
        token: person.token,
        body: body(person.password),
      });
      expect({ path, status: right.status }).toEqual({ path, status: 429 });
      expect(right.headers.get('retry-after')).toBe('1');
      const recorded = await events(person.email);
      expect(recorded.filter((t) => t === 'signin_failed')).toHaveLength(5);
      expect(recorded.filter((t) => t === 'signin_throttled')).toHaveLength(26);
    }
  });

  it('P10: an invitation link for an existing account allows no unlimited password guesses', async () => {
    const org = await app.org('Guessed AB');
    const owner = await app.member(org.id, 'owner');
    const person = await app.outsider();
    const invited = await app.request('POST', `/orgs/${org.id}/invitations`, {
      token: owner.token,
      body: { email: person.email, name: 'Invited Person', role: 'member' },
    });
    expect(invited.status).toBe(201);
    const token = app.services.organisationsService.outbox
      .filter((m) => m.to === person.email)
      .at(-1)!.token!;
    const accept = (password: string) =>
      app.request('POST', '/invitations/accept', {
        body: { token, password, termsVersion: TERMS_VERSION },
      });
    const answers: number[] = [];
    for (let i = 0; i < 8; i += 1) answers.push((await accept(`guess ${i}`)).status);
    expect(answers).toEqual([...Array<number>(5).fill(401), ...Array<number>(3).fill(429)]);
    expect((await accept(person.password)).status).toBe(429);
    // Once the window has passed, the owner of the account accepts with the right password.
    app.clock.advance(3_600_000);
    expect((await accept(person.password)).status).toBe(200);
  });

  it('P9: a reset link sets a new password once and ends every session; an unknown address gets the same answer and no link', async () => {
    const person = await app.outsider();
    const asked = await app.request('POST', '/auth/password-reset', {
      body: { email: person.email },
    });
    expect(asked).toEqual(expect.objectContaining({ status: 202, body: { status: 'email_sent' } }));
    const nobody = await app.request('POST', '/auth/password-reset', {
      body: { email: 'nobody-at-all@example.test' },
    });
    expect(nobody).toEqual(
      expect.objectContaining({ status: 202, body: { status: 'email_sent' } }),
    );
    const mails = app.services.passwordService.outbox.filter((m) => m.purpose === 'password-reset');
    expect(mails.map((m) => m.to)).toEqual([person.email]);
    const token = mails[0]!.token!;

    const weak = await app.request('POST', '/auth/password-reset/complete', {
      body: { token, password: 'password' },
    });
    expect(weak).toMatchObject({ status: 400, body: { code: 'WEAK_PASSWORD' } });
    const reset = await app.request('POST', '/auth/password-reset/complete', {
      body: { token, password: 'the reset passphrase' },
    });
    expect(reset.status).toBe(204);
    expect((await app.request('GET', '/me', { token: person.token })).status).toBe(401);
    const again = await app.request('POST', '/auth/password-reset/complete', {
      body: { token, password: 'another passphrase here' },
    });
    expect(again).toMatchObject({ status: 400, body: { code: 'TOKEN_INVALID' } });
    const login = await app.request('POST', '/auth/login', {
      body: { email: person.email, password: 'the reset passphrase' },
    });
    expect(login.status).toBe(200);
  });
});
