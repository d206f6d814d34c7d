import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsersRepository } from '../../directory/accounts/users.repository.js';
import { currentTerms, newAccount, signUpVerified } from '../support/accounts.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, tokenIn, type TestMailbox } from '../support/smtp-catcher.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

describe('organisations invite their users', () => {
  let mailbox: TestMailbox;
  let platform: TestPlatform;
  let users: UsersRepository;
  let owner: { accessToken: string; userId: string };
  let orgId: string;
  let terms: string;

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({ SMTP_URL: mailbox.url });
    users = new UsersRepository(platform.adminPool, platform.crypto);
    terms = await currentTerms(platform);
    const signedUp = await signUpVerified(platform, mailbox, newAccount('Karin Lund'));
    owner = {
      accessToken: signedUp.accessToken,
      userId: (await users.findByEmail(signedUp.account.email))!.id,
    };
    const created = await platform.send(
      'POST',
      '/api/v1/orgs',
      { name: 'Hemliga Växthus AB', address: 'Odlarvägen 3\n123 45 Odlingby' },
      { token: owner.accessToken },
    );
    expect(created).toMatchObject({
      status: 201,
      body: { name: 'Hemliga Växthus AB', region: 'eu', role: 'owner' },
    });
    orgId = (created.body as { id: string }).id;
  });

  afterAll(async () => {
    await platform?.close();
    await mailbox?.stop();
  });

  const invite = (body: Record<string, unknown>, token = owner.accessToken, org = orgId) =>
    platform.send('POST', `/api/v1/orgs/${org}/invitations`, body, { token });
  const accept = (body: Record<string, unknown>) =>
    platform.send('POST', '/api/v1/invitations/accept', { termsVersion: terms, ...body });
  const loginStatus = async (email: string, password: string) =>
    (await platform.send('POST', '/api/v1/auth/login', { email, password })).status;
  const count = async (sql: string, params: unknown[]) =>
    Number((await platform.adminPool.query<{ n: string }>(sql, params)).rows[0]!.n);

  it('P6: the creator owns the organisation and sees it in GET /me', async () => {
    const me = await platform.get('/api/v1/me', owner.accessToken);
    expect(me.body).toMatchObject({
      name: 'Karin Lund',
      organisations: [{ id: orgId, name: 'Hemliga Växthus AB', role: 'owner' }],
    });
  });

  it('P6: an owner invites a new person by e-mail, who accepts and becomes a verified member', async () => {
    const invitee = newAccount('Olle Nilsson');
    const invited = await invite({ email: invitee.email, name: invitee.name, role: 'member' });
    expect(invited).toMatchObject({ status: 201, body: { invitation: { role: 'member' } } });
    const expiresAt = new Date(
      (invited.body as { invitation: { expiresAt: string } }).invitation.expiresAt,
    );
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);

    const mail = await mailbox.next(invitee.email);
    expect(mail.subject).toBe('Invitation to Hemliga Växthus AB on Telemoat');
    expect(mail.text).toContain('Karin Lund invited you to join Hemliga Växthus AB');
    expect(mail.text).toContain('Hello Olle Nilsson,');
    const token = tokenIn(mail);

    // An inactive account exists for the invitation: no password, not verified.
    const account = (await users.findByEmail(invitee.email))!;
    expect(account).toMatchObject({ verified: false, passwordHash: null });
    expect(await loginStatus(invitee.email, invitee.password)).toBe(401);

    // Refusals leave the link usable.
    expect(await accept({ token, password: 'password' })).toMatchObject({
      body: { code: 'WEAK_PASSWORD' },
    });
    expect(await accept({ token, password: invitee.password, termsVersion: 'old' })).toMatchObject({
      body: { code: 'TERMS_NOT_ACCEPTED' },
    });
    expect(await accept({ token, password: invitee.password, name: 'Olle N.' })).toEqual({
      status: 200,
      body: { organisation: { id: orgId, role: 'member' }, alreadyMember: false },
    });
    expect(await accept({ token, password: invitee.password })).toMatchObject({
      status: 400,
      body: { code: 'TOKEN_INVALID' },
    });

    const accessToken = await platform.login(invitee.email, invitee.password);
    expect((await platform.get('/api/v1/me', accessToken)).body).toMatchObject({
      name: 'Olle N.',
      email: invitee.email,
      organisations: [{ id: orgId, name: 'Hemliga Växthus AB', role: 'member' }],
    });
    // P11: the invitee sees what the organisation did on their behalf, and who did it.
    const audit = (await platform.get('/api/v1/me/audit', accessToken)).body as {
      entries: { action: string; actor: { self: boolean; userId: string | null } }[];
    };
    expect(audit.entries.map((e) => e.action).reverse()).toEqual([
      'account.created',
      'invitation.created',
      'email.verified',
      'profile.updated',
      'invitation.accepted',
    ]);
    expect(audit.entries.at(-1)!.actor).toEqual({ self: false, userId: owner.userId });
  });

  it('P6: only owners and admins invite, admins not owners, and a non-member gets 404', async () => {
    const member = await signUpVerified(platform, mailbox);
    const admin = await signUpVerified(platform, mailbox);
    for (const [who, role] of [
      [member, 'member'],
      [admin, 'admin'],
    ] as const) {
      await invite({ email: who.account.email, name: who.account.name, role });
      await accept({
        token: tokenIn(await mailbox.next(who.account.email)),
        password: who.account.password,
      });
    }
    const someone = { email: newAccount().email, name: 'Someone' };
    expect(await invite(someone, member.accessToken)).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect(await invite({ ...someone, role: 'owner' }, admin.accessToken)).toMatchObject({
      status: 403,
    });
    expect(await invite({ ...someone, role: 'viewer' }, admin.accessToken)).toMatchObject({
      status: 201,
    });
    const outsider = await signUpVerified(platform, mailbox);
    expect(await invite(someone, outsider.accessToken)).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    // Inviting someone who is already a member changes nothing.
    expect(await invite({ email: member.account.email, name: 'x' })).toMatchObject({
      status: 409,
      body: { code: 'CONFLICT' },
    });
  });

  it('P6: a person who already has an account accepts with their own password, unchanged', async () => {
    const existing = await signUpVerified(platform, mailbox);
    await invite({ email: existing.account.email, name: 'Whatever They Call Me', role: 'viewer' });
    const token = tokenIn(await mailbox.next(existing.account.email));
    expect(await accept({ token, password: 'a-different-password' })).toMatchObject({
      status: 401,
      body: { code: 'INVALID_CREDENTIALS' },
    });
    expect(await accept({ token, password: existing.account.password })).toMatchObject({
      status: 200,
      body: { organisation: { role: 'viewer' } },
    });
    expect(await loginStatus(existing.account.email, existing.account.password)).toBe(200);
    expect((await platform.get('/api/v1/me', existing.accessToken)).body).toMatchObject({
      name: existing.account.name,
    });
  });

  /** A new member with `role`, invited by the owner and accepted: their id and token. */
  async function joined(role: string) {
    const person = await signUpVerified(platform, mailbox);
    await invite({ email: person.account.email, name: person.account.name, role });
    await accept({
      token: tokenIn(await mailbox.next(person.account.email)),
      password: person.account.password,
    });
    const me = (await platform.get('/api/v1/me', person.accessToken)).body as { id: string };
    return { ...person, userId: me.id };
  }
  const invitationsPath = (org = orgId) => `/api/v1/orgs/${org}/invitations`;
  /** The ids of the organisation's pending invitations. */
  const pending = async () =>
    (
      (await platform.get(`${invitationsPath()}?limit=500`, owner.accessToken)).body as {
        invitations: { id: string }[];
      }
    ).invitations.map((i) => i.id);

  it('P6: owners and admins list and revoke pending invitations; members get 403, another organisation 404; a revoked link gives TOKEN_INVALID', async () => {
    const admin = await joined('admin');
    const member = await joined('member');
    const invitee = newAccount('Rut Återkallad');
    const invited = await invite(
      { email: invitee.email, name: invitee.name, role: 'viewer' },
      admin.accessToken,
    );
    const { id, expiresAt } = (invited.body as { invitation: { id: string; expiresAt: string } })
      .invitation;
    const token = tokenIn(await mailbox.next(invitee.email));

    for (const who of [owner.accessToken, admin.accessToken]) {
      const listed = await platform.get(`${invitationsPath()}?limit=500`, who);
      expect(listed.status).toBe(200);
      const { invitations } = listed.body as { invitations: { id: string; createdAt: string }[] };
      const shown = invitations.find((i) => i.id === id);
      expect(shown).toEqual({
        id,
        email: invitee.email,
        role: 'viewer',
        inviter: { userId: admin.userId, name: admin.account.name },
        createdAt: shown?.createdAt,
        expiresAt,
      });
      expect(Date.parse(expiresAt) - Date.parse(shown!.createdAt)).toBe(7 * 86_400_000);
    }
    expect(await platform.get(invitationsPath(), member.accessToken)).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect(
      await platform.send('DELETE', `${invitationsPath()}/${id}`, undefined, {
        token: member.accessToken,
      }),
    ).toMatchObject({ status: 403 });
    const outsider = await signUpVerified(platform, mailbox);
    const created = await platform.send(
      'POST',
      '/api/v1/orgs',
      { name: 'Grannen AB' },
      { token: outsider.accessToken },
    );
    const theirOrg = (created.body as { id: string }).id;
    expect(await platform.get(invitationsPath(), outsider.accessToken)).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    for (const org of [orgId, theirOrg]) {
      expect(
        await platform.send('DELETE', `${invitationsPath(org)}/${id}`, undefined, {
          token: outsider.accessToken,
        }),
      ).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    }

    expect(
      await platform.send('DELETE', `${invitationsPath()}/${id}`, undefined, {
        token: owner.accessToken,
      }),
    ).toEqual({ status: 204, body: undefined });
    expect(await pending()).not.toContain(id);
    expect(await accept({ token, password: invitee.password })).toMatchObject({
      status: 400,
      body: { code: 'TOKEN_INVALID' },
    });
  });

  it("P6: acceptance checks the inviter's rights now, and never changes a membership", async () => {
    const admin = await joined('admin');
    const demoted = await joined('admin');
    const removedInvitee = newAccount('Från Borttagen');
    const demotedInvitee = newAccount('Från Degraderad');
    await invite(
      { email: removedInvitee.email, name: removedInvitee.name, role: 'member' },
      admin.accessToken,
    );
    await invite(
      { email: demotedInvitee.email, name: demotedInvitee.name, role: 'member' },
      demoted.accessToken,
    );
    const removedLink = tokenIn(await mailbox.next(removedInvitee.email));
    const demotedLink = tokenIn(await mailbox.next(demotedInvitee.email));
    // A member already, invited again with a stronger role before they joined.
    const viewer = await signUpVerified(platform, mailbox);
    await invite({ email: viewer.account.email, name: 'x', role: 'admin' });
    const adminLink = tokenIn(await mailbox.next(viewer.account.email));
    await invite({ email: viewer.account.email, name: 'x', role: 'viewer' });
    const viewerLink = tokenIn(await mailbox.next(viewer.account.email));
    expect(await accept({ token: viewerLink, password: viewer.account.password })).toMatchObject({
      status: 200,
      body: { organisation: { role: 'viewer' }, alreadyMember: false },
    });

    const members = `/api/v1/orgs/${orgId}/members`;
    expect(
      await platform.send('DELETE', `${members}/${admin.userId}`, undefined, {
        token: owner.accessToken,
      }),
    ).toMatchObject({ status: 204 });
    expect(
      await platform.send(
        'PATCH',
        `${members}/${demoted.userId}`,
        { role: 'member' },
        { token: owner.accessToken },
      ),
    ).toMatchObject({ status: 200 });

    for (const [token, account] of [
      [removedLink, removedInvitee],
      [demotedLink, demotedInvitee],
    ] as const) {
      expect(await accept({ token, password: account.password })).toMatchObject({
        status: 400,
        body: { code: 'TOKEN_INVALID' },
      });
      expect(await loginStatus(account.email, account.password)).toBe(401);
    }
    expect(await accept({ token: adminLink, password: viewer.account.password })).toEqual({
      status: 200,
      body: { organisation: { id: orgId, role: 'viewer' }, alreadyMember: true },
    });
    expect((await platform.get('/api/v1/me', viewer.accessToken)).body).toMatchObject({
      organisations: [{ id: orgId, role: 'viewer' }],
    });
    // Each link was spent.
    for (const email of [removedInvitee.email, demotedInvitee.email, viewer.account.email]) {
      const userId = (await users.findByEmail(email))!.id;
      expect(
        await count('SELECT count(*) AS n FROM invitations WHERE user_id = $1', [userId]),
      ).toBe(0);
    }
  });

  it('P7: an invited account nobody accepts is deleted after its TTL, with everything attached', async () => {
    const invitee = newAccount('Never Accepts');
    await invite({ email: invitee.email, name: invitee.name, role: 'admin' });
    const token = tokenIn(await mailbox.next(invitee.email));
    const existing = await signUpVerified(platform, mailbox);
    await invite({ email: existing.account.email, name: 'x', role: 'member' });
    await mailbox.next(existing.account.email);

    const userId = (await users.findByEmail(invitee.email))!.id;
    const dataKeyId = (
      await platform.adminPool.query<{ data_key_id: string }>(
        'SELECT data_key_id FROM users WHERE id = $1',
        [userId],
      )
    ).rows[0]!.data_key_id;
    const attached = async () => ({
      users: await count('SELECT count(*) AS n FROM users WHERE id = $1', [userId]),
      dataKeys: await count('SELECT count(*) AS n FROM data_keys WHERE id = $1', [dataKeyId]),
      invitations: await count('SELECT count(*) AS n FROM invitations WHERE user_id = $1', [
        userId,
      ]),
      audit: await count('SELECT count(*) AS n FROM audit_log WHERE user_id = $1', [userId]),
      memberships: await count('SELECT count(*) AS n FROM memberships WHERE user_id = $1', [
        userId,
      ]),
    });
    const runJobs = async () => {
      const { stdout } = await run(
        process.execPath,
        ['--import', 'tsx', 'bin/telemoat.ts', 'run-jobs'],
        {
          cwd: root,
          env: { PATH: process.env.PATH ?? '', JOBS_DATABASE_URL: platform.env.JOBS_DATABASE_URL },
        },
      );
      return stdout;
    };

    expect(await attached()).toEqual({
      users: 1,
      dataKeys: 1,
      invitations: 1,
      audit: 2,
      memberships: 0,
    });
    // Within the TTL the jobs leave it alone.
    await runJobs();
    expect((await attached()).users).toBe(1);

    // Eight days later (moved in the database, not slept through).
    for (const table of ['users', 'invitations']) {
      const column = table === 'users' ? 'id' : 'user_id';
      await platform.adminPool.query(
        `UPDATE ${table} SET created_at = created_at - interval '8 days' WHERE ${column} = ANY($1)`,
        [[userId, (await users.findByEmail(existing.account.email))!.id]],
      );
    }
    await platform.adminPool.query(
      "UPDATE invitations SET expires_at = created_at + interval '7 days'",
    );
    const output = await runJobs();
    expect(output).toMatch(/^run-jobs: \{.*"accounts":1.*\}$/m);
    expect(await attached()).toEqual({
      users: 0,
      dataKeys: 0,
      invitations: 0,
      audit: 0,
      memberships: 0,
    });
    expect(await accept({ token, password: invitee.password })).toMatchObject({
      body: { code: 'TOKEN_INVALID' },
    });
    // An account that existed before its invitation keeps everything; only the invitation goes.
    expect(await loginStatus(existing.account.email, existing.account.password)).toBe(200);
    const { rowCount } = await platform.adminPool.query(
      'SELECT 1 FROM invitations i JOIN users u ON u.id = i.user_id WHERE u.id = $1',
      [(await users.findByEmail(existing.account.email))!.id],
    );
    expect(rowCount).toBe(0);
    // The organisation and its owner are untouched.
    expect((await platform.get('/api/v1/me', owner.accessToken)).body).toMatchObject({
      organisations: [{ id: orgId, role: 'owner' }],
    });
  });
});
