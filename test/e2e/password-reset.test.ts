import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOneTimeToken } from '../../directory/crypto/one-time-token.js';
import { signUpVerified } from '../support/accounts.js';
import { testClock } from '../support/clock.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, tokenIn, type TestMailbox } from '../support/smtp-catcher.js';

/** The platform's default MAILS_PER_ADDRESS_PER_HOUR. */
const QUOTA = 3;

/** Password reset by e-mailed link, over real SMTP and Postgres (P9, P10). */
describe('P9: password reset by e-mail', () => {
  const clock = testClock(Date.now());
  let mailbox: TestMailbox;
  let platform: TestPlatform;

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({ SMTP_URL: mailbox.url }, { now: clock.now });
  });

  afterAll(async () => {
    await platform?.close();
    await mailbox?.stop();
  });

  const ask = (email: string) => platform.send('POST', '/api/v1/auth/password-reset', { email });
  const reset = (token: string, password: string) =>
    platform.send('POST', '/api/v1/auth/password-reset/complete', { token, password });
  const loginStatus = async (email: string, password: string) =>
    (await platform.send('POST', '/api/v1/auth/login', { email, password })).status;
  const liveSessions = async (email: string) =>
    (
      await platform.adminPool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE u.email_index = $1 AND s.revoked_at IS NULL`,
        [platform.crypto.blindIndex.email(email)],
      )
    ).rows[0]!.n;

  it('P9: the e-mailed link sets a new password once, ends every session, and tells the owner', async () => {
    const { account, accessToken } = await signUpVerified(platform, mailbox);
    expect(await ask(account.email)).toEqual({ status: 202, body: { status: 'email_sent' } });
    const mail = await mailbox.next(account.email);
    expect(mail.subject).toBe('Reset your Telemoat password');
    expect(mail.text).toMatch(/\/reset-password#token=[\w-]{43}/);
    const token = tokenIn(mail);
    // Asking for a reset changes nothing yet.
    expect(await loginStatus(account.email, account.password)).toBe(200);
    expect(await liveSessions(account.email)).toBe(2);

    expect(await reset(token, 'password')).toMatchObject({
      status: 400,
      body: { code: 'WEAK_PASSWORD' },
    });
    expect(await reset(token, 'a new long passphrase')).toEqual({ status: 204, body: undefined });
    expect(await liveSessions(account.email)).toBe(0);
    expect((await platform.get('/api/v1/me', accessToken)).status).toBe(401);
    expect(await loginStatus(account.email, account.password)).toBe(401);
    expect(await loginStatus(account.email, 'a new long passphrase')).toBe(200);
    expect((await mailbox.next(account.email)).subject).toBe('Your Telemoat password was changed');
    // Single use.
    expect(await reset(token, 'yet another passphrase')).toMatchObject({
      status: 400,
      body: { code: 'TOKEN_INVALID' },
    });
    const stored = await platform.adminPool.query(
      'SELECT 1 FROM password_resets WHERE token_hash = $1',
      [hashOneTimeToken(token)],
    );
    expect(stored.rowCount).toBe(0);
  });

  it('P10: an unknown address gets the same answer and no e-mail; an expired link is refused', async () => {
    const nobody = `nobody-${Date.now()}@example.test`;
    expect(await ask(nobody)).toEqual({ status: 202, body: { status: 'email_sent' } });
    const { account } = await signUpVerified(platform, mailbox);
    await ask(account.email);
    const token = tokenIn(await mailbox.next(account.email));
    await platform.adminPool.query(
      "UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
      [hashOneTimeToken(token)],
    );
    expect(await reset(token, 'a new long passphrase')).toMatchObject({
      body: { code: 'TOKEN_INVALID' },
    });
    expect(await loginStatus(account.email, account.password)).toBe(200);
    expect(mailbox.to(nobody)).toEqual([]);
  });

  it('P10: one address gets at most MAILS_PER_ADDRESS_PER_HOUR reset e-mails an hour', async () => {
    const { account } = await signUpVerified(platform, mailbox);
    for (let i = 0; i < 5; i += 1) {
      expect(await ask(account.email)).toEqual({ status: 202, body: { status: 'email_sent' } });
    }
    const { rows } = await platform.adminPool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM password_resets r JOIN users u ON u.id = r.user_id
       WHERE u.email_index = $1`,
      [platform.crypto.blindIndex.email(account.email)],
    );
    expect(rows[0]!.n).toBe(QUOTA);
    for (let i = 0; i < QUOTA; i += 1) await mailbox.next(account.email);
    clock.advance(3_600_001);
    await ask(account.email);
    await mailbox.next(account.email);
    // The sign-up link, the three resets and the one an hour later.
    expect(mailbox.to(account.email)).toHaveLength(1 + QUOTA + 1);
  });
});
