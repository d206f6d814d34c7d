import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount, signUpVerified, type TestAccount } from '../support/accounts.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, tokenIn, type TestMailbox } from '../support/smtp-catcher.js';

interface AuditBody {
  entries: {
    action: string;
    at: string;
    actor: { self: boolean; userId: string | null };
    details: Record<string, unknown>;
  }[];
}

describe("the user's own settings, corrections and history", () => {
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

  const patchMe = (token: string, body: unknown) =>
    platform.send('PATCH', '/api/v1/me', body, { token });
  const changeEmail = (token: string, body: unknown) =>
    platform.send('POST', '/api/v1/me/email', body, { token });
  const audit = async (token: string) =>
    ((await platform.get('/api/v1/me/audit', token)).body as AuditBody).entries;
  const loginStatus = async (email: string, password: string) =>
    (await platform.send('POST', '/api/v1/auth/login', { email, password })).status;

  it('P16, P11: a settings change is audited by field name and listed in /me/audit', async () => {
    const { accessToken } = await signUpVerified(platform, mailbox, newAccount('Anna Berg'));
    const changed = await patchMe(accessToken, {
      name: 'Anna Berg-Lund',
      phone: '+46 70 123 45 67',
      address: 'Storgatan 1\n111 22 Stockholm',
    });
    expect(changed).toMatchObject({
      status: 200,
      body: {
        name: 'Anna Berg-Lund',
        phone: '+46 70 123 45 67',
        address: 'Storgatan 1\n111 22 Stockholm',
        settings: { omitNamesInEmail: false },
      },
    });
    expect((await platform.get('/api/v1/me', accessToken)).body).toEqual(changed.body);

    const entries = await audit(accessToken);
    expect(entries[0]).toMatchObject({
      action: 'profile.updated',
      actor: { self: true },
      details: { fields: ['name', 'phone', 'address'] },
    });
    // The history names fields, never their values.
    const history = JSON.stringify(entries);
    for (const value of ['Berg-Lund', '123 45 67', 'Storgatan']) {
      expect(history).not.toContain(value);
    }

    // Clearing a field is a change; repeating a value is not.
    await patchMe(accessToken, { phone: null, address: 'Storgatan 1\n111 22 Stockholm' });
    const after = await audit(accessToken);
    expect(after).toHaveLength(entries.length + 1);
    expect(after[0]).toMatchObject({ details: { fields: ['phone'] } });
    expect((await platform.get('/api/v1/me', accessToken)).body).toMatchObject({ phone: null });

    expect(await patchMe(accessToken, {})).toMatchObject({ body: { code: 'VALIDATION_FAILED' } });
    expect(await patchMe(accessToken, { email: 'x@example.test' })).toMatchObject({
      body: { code: 'VALIDATION_FAILED' },
    });
    expect(await patchMe(accessToken, { phone: 'call me' })).toMatchObject({
      body: { code: 'VALIDATION_FAILED' },
    });
  });

  it('P16: an e-mail change takes effect only once verified, and the old address is told', async () => {
    const { account, accessToken } = await signUpVerified(platform, mailbox);
    const newEmail = newAccount().email;
    expect(await changeEmail(accessToken, { email: newEmail })).toMatchObject({
      status: 401,
      body: { code: 'INVALID_CREDENTIALS' },
    });
    expect(await changeEmail(accessToken, { email: newEmail, password: account.password })).toEqual(
      { status: 202, body: { status: 'email_sent' } },
    );

    const confirmation = await mailbox.next(newEmail);
    expect(confirmation.subject).toBe('Confirm your new e-mail address for Telemoat');
    const notice = await mailbox.next(account.email);
    expect(notice.subject).toBe('Your Telemoat e-mail address is about to change');
    expect(notice.text).not.toMatch(/#token=/);
    expect(notice.text).not.toContain(newEmail);

    // Nothing has changed yet.
    expect((await platform.get('/api/v1/me', accessToken)).body).toMatchObject({
      email: account.email,
    });
    expect(await loginStatus(newEmail, account.password)).toBe(401);

    const token = tokenIn(confirmation);
    expect(await platform.send('POST', '/api/v1/auth/verify-email', { token })).toEqual({
      status: 200,
      body: { status: 'email_changed' },
    });
    expect((await platform.get('/api/v1/me', accessToken)).body).toMatchObject({
      email: newEmail,
    });
    expect(await loginStatus(newEmail, account.password)).toBe(200);
    expect(await loginStatus(account.email, account.password)).toBe(401);
    expect((await audit(accessToken)).slice(0, 2).map((e) => e.action)).toEqual([
      'email.changed',
      'email.change_requested',
    ]);
    expect(await platform.send('POST', '/api/v1/auth/verify-email', { token })).toMatchObject({
      body: { code: 'TOKEN_INVALID' },
    });
  });

  it('P16: moving to an address that has an account changes nothing and reveals nothing', async () => {
    const mover = await signUpVerified(platform, mailbox);
    const holder = await signUpVerified(platform, mailbox);
    const answer = await changeEmail(mover.accessToken, {
      email: holder.account.email.toUpperCase(),
      password: mover.account.password,
    });
    expect(answer).toEqual({ status: 202, body: { status: 'email_sent' } });
    const toHolder = await mailbox.next(holder.account.email);
    expect(toHolder.subject).toBe('Your e-mail address was entered on Telemoat');
    expect(toHolder.text).not.toMatch(/#token=/);
    await mailbox.next(mover.account.email); // the notice to the mover's own address
    expect((await platform.get('/api/v1/me', mover.accessToken)).body).toMatchObject({
      email: mover.account.email,
    });
  });

  it('P14: with the setting on, e-mails to the user leave titles and names out', async () => {
    const person: TestAccount = newAccount('Dr. Sigrid Holm');
    const { accessToken } = await signUpVerified(platform, mailbox, person);
    const inviter = await signUpVerified(platform, mailbox, newAccount('Per Inviter'));
    const org = await platform.send(
      'POST',
      '/api/v1/orgs',
      { name: 'Lantbruket Norra' },
      { token: inviter.accessToken },
    );
    const orgId = (org.body as { id: string }).id;
    const names = ['Sigrid', 'Holm', 'Dr.', 'Per Inviter', 'Lantbruket'];
    const namesIn = (mail: { subject: string; text: string }) =>
      names.filter((name) => `${mail.subject}\n${mail.text}`.includes(name));

    expect(
      (await patchMe(accessToken, { settings: { omitNamesInEmail: true } })).body,
    ).toMatchObject({ settings: { omitNamesInEmail: true } });
    expect((await audit(accessToken))[0]).toMatchObject({
      details: { fields: ['settings.omitNamesInEmail'] },
    });

    const newEmail = newAccount().email;
    await changeEmail(accessToken, { email: newEmail, password: person.password });
    const confirmation = await mailbox.next(newEmail);
    const notice = await mailbox.next(person.email);
    await platform.send('POST', '/api/v1/auth/verify-email', { token: tokenIn(confirmation) });
    await platform.send(
      'POST',
      `/api/v1/orgs/${orgId}/invitations`,
      { email: newEmail, name: 'Dr. Sigrid Holm', role: 'viewer' },
      { token: inviter.accessToken },
    );
    const invitation = await mailbox.next(newEmail);
    for (const mail of [confirmation, notice, invitation]) {
      expect(namesIn(mail), mail.subject).toEqual([]);
      expect(mail.text).toContain('Hello,');
    }
    expect(invitation.subject).toBe('You are invited to Telemoat');

    // The same invitation to someone without the setting names the organisation and inviter.
    const other = newAccount('Sigrid Holm');
    await platform.send(
      'POST',
      `/api/v1/orgs/${orgId}/invitations`,
      { email: other.email, name: other.name, role: 'viewer' },
      { token: inviter.accessToken },
    );
    expect(namesIn(await mailbox.next(other.email))).toEqual([
      'Sigrid',
      'Holm',
      'Per Inviter',
      'Lantbruket',
    ]);
  });
});
