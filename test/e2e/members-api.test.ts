import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTerms, newAccount, type TestAccount } from '../support/accounts.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, tokenIn, type TestMailbox } from '../support/smtp-catcher.js';

interface MemberAnswer {
  userId: string;
  name: string | null;
  role: string;
  email?: string | null;
  accountCreatedByOrganisation?: boolean;
}

describe('P6: an organisation manages its members', () => {
  let mailbox: TestMailbox;
  let platform: TestPlatform;
  let terms: string;
  let orgId: string;
  let otherOrgId: string;
  let owner: { userId: string; token: string };
  let admin: { userId: string; token: string };
  let otherOwner: { userId: string; token: string };

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({ SMTP_URL: mailbox.url });
    terms = await currentTerms(platform);
    orgId = (await platform.createOrg('Medlemmar AB')).id;
    otherOrgId = (await platform.createOrg('Grannen AB')).id;
    const signIn = async (org: string, role: 'owner' | 'admin') => {
      const m = await platform.createMember(org, role);
      return { userId: m.userId, token: await platform.login(m.email, m.password) };
    };
    owner = await signIn(orgId, 'owner');
    admin = await signIn(orgId, 'admin');
    otherOwner = await signIn(otherOrgId, 'owner');
  });

  afterAll(async () => {
    await platform?.close();
    await mailbox?.stop();
  });

  const membersPath = (org = orgId) => `/api/v1/orgs/${org}/members`;

  /** Invites `account` into `org` and accepts through the e-mailed link; returns the member. */
  async function join(
    org: string,
    account: TestAccount,
    role: string,
    inviter = owner.token,
  ): Promise<{ userId: string; token: string }> {
    const invited = await platform.send(
      'POST',
      `/api/v1/orgs/${org}/invitations`,
      { email: account.email, name: account.name, role },
      { token: inviter },
    );
    expect(invited.status).toBe(201);
    const accepted = await platform.send('POST', '/api/v1/invitations/accept', {
      token: tokenIn(await mailbox.next(account.email)),
      password: account.password,
      termsVersion: terms,
    });
    expect(accepted.status).toBe(200);
    const token = await platform.login(account.email, account.password);
    const me = (await platform.get('/api/v1/me', token)).body as { id: string };
    return { userId: me.id, token };
  }

  const list = async (token: string, query = '') =>
    (await platform.get(`${membersPath()}${query}`, token)).body as {
      members: MemberAnswer[];
      nextCursor: string | null;
    };
  const patch = (userId: string, role: string, token: string) =>
    platform.send('PATCH', `${membersPath()}/${userId}`, { role }, { token });
  const remove = (userId: string, token: string, org = orgId) =>
    platform.send('DELETE', `${membersPath(org)}/${userId}`, undefined, { token });
  const deleteAccount = (userId: string, token: string, org = orgId) =>
    platform.send('DELETE', `${membersPath(org)}/${userId}/account`, undefined, { token });
  const auditOf = async (token: string) =>
    (
      (await platform.get('/api/v1/me/audit?limit=100', token)).body as {
        entries: { action: string; details: Record<string, unknown> }[];
      }
    ).entries;
  const count = async (sql: string, params: unknown[]) =>
    Number((await platform.adminPool.query<{ n: string }>(sql, params)).rows[0]!.n);

  it('lists members: names and roles for everyone, e-mail addresses for admins only', async () => {
    const viewer = await join(orgId, newAccount('Vera Visare'), 'viewer');
    const asViewer = await list(viewer.token);
    const vera = asViewer.members.find((m) => m.userId === viewer.userId)!;
    expect(Object.keys(vera).sort()).toEqual(['joinedAt', 'name', 'role', 'userId']);
    expect(vera).toMatchObject({ userId: viewer.userId, name: 'Vera Visare', role: 'viewer' });
    expect(JSON.stringify(asViewer)).not.toContain('@');

    const asAdmin = await list(admin.token);
    const veraForAdmin = asAdmin.members.find((m) => m.userId === viewer.userId)!;
    expect(veraForAdmin.email).toMatch(/@example\.test$/);
    expect(veraForAdmin.accountCreatedByOrganisation).toBe(true);
    expect(asAdmin.members.find((m) => m.userId === owner.userId)).toMatchObject({
      role: 'owner',
      accountCreatedByOrganisation: false,
    });

    // Pages of two cover everyone exactly once.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(admin.token, cursor ? `?limit=2&cursor=${cursor}` : '?limit=2');
      seen.push(...page.members.map((m) => m.userId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(asAdmin.members.map((m) => m.userId).sort());
    expect(seen.length).toBe(3);

    expect((await platform.get(membersPath(), otherOwner.token)).status).toBe(404);
  });

  it('P6: admins change roles, but only owners make or change owners; audited for the member', async () => {
    const member = await join(orgId, newAccount('Mats Medlem'), 'member');
    expect(await patch(member.userId, 'viewer', admin.token)).toEqual({
      status: 200,
      body: { userId: member.userId, role: 'viewer' },
    });
    expect(await patch(member.userId, 'owner', admin.token)).toMatchObject({ status: 403 });
    expect(await patch(owner.userId, 'admin', admin.token)).toMatchObject({ status: 403 });
    expect(await patch(admin.userId, 'owner', member.token)).toMatchObject({ status: 403 });
    expect(await patch(member.userId, 'superuser', admin.token)).toMatchObject({ status: 400 });
    expect(await patch(otherOwner.userId, 'viewer', admin.token)).toMatchObject({ status: 404 });

    const history = await auditOf(member.token);
    expect(history[0]).toMatchObject({
      action: 'membership.role_changed',
      details: { orgId, from: 'member', to: 'viewer' },
    });
  });

  it('P6: the last owner can be neither demoted nor removed', async () => {
    expect(await patch(owner.userId, 'admin', owner.token)).toMatchObject({
      status: 409,
      body: { code: 'CONFLICT', details: { reason: 'last-owner' } },
    });
    expect(await remove(owner.userId, owner.token)).toMatchObject({ status: 409 });

    const second = await join(orgId, newAccount('Olga Ägare'), 'owner');
    expect(await patch(owner.userId, 'admin', second.token)).toMatchObject({ status: 200 });
    expect(await patch(second.userId, 'member', second.token)).toMatchObject({ status: 409 });
    expect(await patch(owner.userId, 'owner', second.token)).toMatchObject({ status: 200 });
    expect(await remove(second.userId, owner.token)).toMatchObject({ status: 204 });
  });

  it('P6: removing a member ends their access at once and keeps their account', async () => {
    const account = newAccount('Rut Rörlig');
    const member = await join(orgId, account, 'member');
    expect((await platform.get(membersPath(), member.token)).status).toBe(200);
    expect(await remove(member.userId, member.token)).toMatchObject({ status: 403 });
    expect(await remove(member.userId, admin.token)).toMatchObject({ status: 204 });
    expect((await platform.get(membersPath(), member.token)).status).toBe(404);
    expect(await remove(member.userId, admin.token)).toMatchObject({ status: 404 });
    // Still an account: it can sign in and sees its own history of the removal.
    const token = await platform.login(account.email, account.password);
    expect((await auditOf(token))[0]).toMatchObject({
      action: 'membership.removed',
      details: { orgId, role: 'member' },
    });
  });

  it("P6: an admin deletes the account the organisation's invitation created, with its data key", async () => {
    const account = newAccount('Dora Raderad');
    const member = await join(orgId, account, 'member');
    const dataKeyId = (
      await platform.adminPool.query<{ data_key_id: string }>(
        'SELECT data_key_id FROM users WHERE id = $1',
        [member.userId],
      )
    ).rows[0]!.data_key_id;

    expect(await deleteAccount(member.userId, member.token)).toMatchObject({ status: 403 });
    expect(await deleteAccount(member.userId, otherOwner.token)).toMatchObject({ status: 404 });
    expect(await deleteAccount(member.userId, admin.token)).toEqual({
      status: 204,
      body: undefined,
    });

    expect(await count('SELECT count(*) AS n FROM users WHERE id = $1', [member.userId])).toBe(0);
    expect(await count('SELECT count(*) AS n FROM data_keys WHERE id = $1', [dataKeyId])).toBe(0);
    expect(
      await count('SELECT count(*) AS n FROM audit_log WHERE user_id = $1', [member.userId]),
    ).toBe(0);
    const login = { email: account.email, password: account.password };
    expect(await platform.send('POST', '/api/v1/auth/login', login)).toMatchObject({
      status: 401,
    });
    // Its sessions went with it: its access token no longer works anywhere.
    expect((await platform.get('/api/v1/me', member.token)).status).toBe(401);
    // The admin's own history records it, without the erased account's id (P17).
    const entry = (await auditOf(admin.token)).find((e) => e.action === 'member_account.deleted');
    expect(entry?.details).toEqual({ orgId, role: 'member' });
    expect(JSON.stringify(await auditOf(admin.token))).not.toContain(member.userId);
  });

  it('P6: accounts the organisation did not create, or shared with another, are only removable', async () => {
    const before = await count('SELECT count(*) AS n FROM users', []);
    // Created by an operator (not by an invitation).
    expect(await deleteAccount(owner.userId, admin.token)).toMatchObject({ status: 403 });
    const operatorMade = await platform.createMember(orgId, 'member');
    expect(await deleteAccount(operatorMade.userId, admin.token)).toMatchObject({
      status: 409,
      body: { details: { reason: 'account-not-deletable' } },
    });
    // Created by this organisation's invitation, but also a member elsewhere.
    const shared = newAccount('Siri Delad');
    const member = await join(orgId, shared, 'member');
    await join(otherOrgId, shared, 'viewer', otherOwner.token);
    expect(await deleteAccount(member.userId, admin.token)).toMatchObject({ status: 409 });
    // Created by the other organisation's invitation, then joined this one.
    const theirs = newAccount('Tove Grannens');
    const theirMember = await join(otherOrgId, theirs, 'member', otherOwner.token);
    await join(orgId, theirs, 'member');
    expect(await deleteAccount(theirMember.userId, admin.token)).toMatchObject({ status: 409 });
    // An admin cannot delete an owner's account, even one the organisation created.
    const ownerAccount = await join(orgId, newAccount('Ove Ägare'), 'owner');
    expect(await deleteAccount(ownerAccount.userId, admin.token)).toMatchObject({ status: 403 });
    // Nothing was deleted; each of them can still be removed.
    expect(await count('SELECT count(*) AS n FROM users', [])).toBe(before + 4);
    expect(await remove(member.userId, admin.token)).toMatchObject({ status: 204 });
    expect(await platform.login(shared.email, shared.password)).toEqual(expect.any(String));
  });
});
