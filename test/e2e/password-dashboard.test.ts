import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUpVerified } from '../support/accounts.js';
import { useBrowser, type TestSession } from '../support/browser.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, type TestMailbox } from '../support/smtp-catcher.js';

/** Changing and resetting a password in the dashboard, in a real browser (P9, P10). */
describe('P9: passwords in the dashboard', () => {
  let mailbox: TestMailbox;
  let platform: TestPlatform;

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({ SMTP_URL: mailbox.url });
  });

  afterAll(async () => {
    await platform?.close();
    await mailbox?.stop();
  });

  const { open } = useBrowser(() => platform.apiUrl);

  const heading = (session: TestSession, name: string) =>
    session.page.getByRole('heading', { level: 1, name }).waitFor();

  async function signIn(session: TestSession, email: string, password: string) {
    await session.page.goto('/sign-in');
    await heading(session, 'Sign in');
    await session.page.getByLabel('E-mail', { exact: true }).fill(email);
    await session.page.getByLabel('Password', { exact: true }).fill(password);
    await session.page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('P9: "Forgot your password?" e-mails a link whose page sets a new one', async () => {
    const { account } = await signUpVerified(platform, mailbox);
    const session = await open();
    const { page } = session;
    await page.goto('/sign-in');
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await heading(session, 'Reset your password');
    await page.getByLabel('E-mail', { exact: true }).fill(account.email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByRole('status').filter({ hasText: 'a link is on its way' }).waitFor();

    const mail = await mailbox.next(account.email);
    const token = /#token=([\w-]{43})/.exec(mail.text)?.[1];
    expect(token, mail.text).toBeDefined();
    await page.goto(`/reset-password#token=${token}`);
    await heading(session, 'Choose a new password');
    await page.getByLabel('New password', { exact: true }).fill('a fresh long passphrase');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByRole('status').filter({ hasText: 'Your password is changed' }).waitFor();

    await signIn(session, account.email, 'a fresh long passphrase');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(session.problems).toEqual([]);
  });

  it('P9: Settings changes the password with the current one, and says what a wrong one is', async () => {
    const { account } = await signUpVerified(platform, mailbox);
    const session = await open();
    const { page } = session;
    await signIn(session, account.email, account.password);
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.goto('/settings');
    const panel = page.getByRole('region', { name: 'Password' });
    await panel.getByLabel('Current password', { exact: true }).fill('not my password');
    await panel.getByLabel('New password', { exact: true }).fill('a changed long passphrase');
    await panel.getByRole('button', { name: 'Change password' }).click();
    await panel.getByRole('alert').waitFor();
    // One wrong password is one failure: the page did not send it again after a refresh.
    const failures = await platform.adminPool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM security_events WHERE type = 'signin_failed'",
    );
    expect(failures.rows[0]!.n).toBe(1);
    await panel.getByLabel('Current password', { exact: true }).fill(account.password);
    await panel.getByRole('button', { name: 'Change password' }).click();
    await panel.getByRole('status').filter({ hasText: 'Your password is changed' }).waitFor();
    const login = await platform.send('POST', '/api/v1/auth/login', {
      email: account.email,
      password: 'a changed long passphrase',
    });
    expect(login.status).toBe(200);
  });
});
