import { describe, expect, it } from 'vitest';
import { useApiApp, TERMS_VERSION } from '../support/api-app.js';

interface Profile {
  id: string;
  name: string;
  email: string;
  phone: string | null;
  address: string | null;
  settings: { omitNamesInEmail: boolean };
  organisations: { id: string; name: string; role: string }[];
}

describe("the user's own account, organisations and invitations", () => {
  const app = useApiApp();

  it('P15: shows the user what is stored about them, with their organisations and roles', async () => {
    const first = await app.org('Zeta Farms');
    const second = await app.org('Alpha Growers');
    const person = await app.member(first.id, 'viewer', { name: 'Ida Svensson' });
    await app.stores.organisations.addMember(second.id, person.userId, 'admin');

    const answer = await app.request('GET', '/me', { token: person.token });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      id: person.userId,
      name: 'Ida Svensson',
      email: person.email,
      phone: null,
      address: null,
      settings: { omitNamesInEmail: false },
      organisations: [
        { id: second.id, name: 'Alpha Growers', role: 'admin' },
        { id: first.id, name: 'Zeta Farms', role: 'viewer' },
      ],
    });
    // What the account is kept as, not how: no hash, no origin, no terms bookkeeping.
    expect(answer.text).not.toMatch(/sha256\$|scrypt\$|passwordHash|origin/);
  });

  it('P16, P11: corrects only the fields named; the history names the fields, never their values', async () => {
    const person = await app.outsider();
    const phone = '+46 70 123 45 67';
    const patched = await app.request('PATCH', '/me', {
      token: person.token,
      body: { phone: `  ${phone} `, settings: { omitNamesInEmail: true } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: person.name,
      phone,
      address: null,
      settings: { omitNamesInEmail: true },
    });

    const cleared = await app.request('PATCH', '/me', {
      token: person.token,
      body: { phone: null },
    });
    expect((cleared.body as Profile).phone).toBeNull();

    const audit = await app.request('GET', '/me/audit', { token: person.token });
    expect(audit.body).toEqual({
      entries: [
        {
          action: 'profile.updated',
          at: new Date(app.clock.now()).toISOString(),
          actor: { self: true, userId: person.userId },
          details: { fields: ['phone'] },
        },
        {
          action: 'profile.updated',
          at: new Date(app.clock.now()).toISOString(),
          actor: { self: true, userId: person.userId },
          details: { fields: ['phone', 'settings.omitNamesInEmail'] },
        },
      ],
    });
    expect(audit.text).not.toContain('123 45 67');
  });

  it('P16: an e-mail change needs the current password, and changes nothing until the new address confirms it', async () => {
    const person = await app.outsider();
    const newEmail = 'ida.new@example.test';
    const wrong = await app.request('POST', '/me/email', {
      token: person.token,
      body: { email: newEmail, password: 'not my password' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    const missing = await app.request('POST', '/me/email', {
      token: person.token,
      body: { email: newEmail },
    });
    expect(missing.status).toBe(401);

    const asked = await app.request('POST', '/me/email', {
      token: person.token,
      body: { email: newEmail, password: person.password },
    });
    expect(asked.status).toBe(202);
    expect(asked.body).toEqual({ status: 'email_sent' });
    const me = await app.request('GET', '/me', { token: person.token });
    expect((me.body as Profile).email).toBe(person.email);
    expect(app.services.profileService.outbox.slice(-2)).toEqual([
      { to: newEmail, purpose: 'email-change', token: expect.any(String) as string },
      { to: person.email, purpose: 'email-change-notice' },
    ]);
  });

  it('P6: creating an organisation makes the caller its owner; an invitation answers when it expires, never its link', async () => {
    const founder = await app.outsider();
    const created = await app.request('POST', '/orgs', {
      token: founder.token,
      body: { name: 'New Greenhouses', address: 'Storgatan 1\n111 22 Stockholm', region: 'se' },
    });
    expect(created.status).toBe(201);
    const org = created.body as {
      id: string;
      name: string;
      address: string;
      region: string;
      role: string;
    };
    expect(org).toMatchObject({
      name: 'New Greenhouses',
      address: 'Storgatan 1\n111 22 Stockholm',
      region: 'se',
      role: 'owner',
    });
    expect(await app.stores.organisations.membership(org.id, founder.userId)).toMatchObject({
      role: 'owner',
    });

    const invited = await app.request('POST', `/orgs/${org.id}/invitations`, {
      token: founder.token,
      body: { email: 'newcomer@example.test', name: 'New Comer' },
    });
    expect(invited.status).toBe(201);
    // Its id, to list or revoke it by; nothing that would open it.
    const { id } = (invited.body as { invitation: { id: string } }).invitation;
    expect(invited.body).toEqual({
      invitation: {
        id,
        role: 'member',
        expiresAt: new Date(app.clock.now() + 7 * 86_400_000).toISOString(),
      },
    });
    const mail = app.services.organisationsService.outbox.at(-1)!;
    expect(mail).toMatchObject({ to: 'newcomer@example.test', purpose: 'invitation' });
    expect(invited.text).not.toContain(mail.token);

    // The link's token, a password and the current terms make the invitee a member.
    const accepted = await app.request('POST', '/invitations/accept', {
      body: { token: mail.token, password: 'a-long-passphrase', termsVersion: TERMS_VERSION },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({
      organisation: { id: org.id, role: 'member' },
      alreadyMember: false,
    });
    const again = await app.request('POST', '/invitations/accept', {
      body: { token: mail.token, password: 'a-long-passphrase', termsVersion: TERMS_VERSION },
    });
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ code: 'TOKEN_INVALID' });
  });
});
