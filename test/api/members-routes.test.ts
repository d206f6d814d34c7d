import { describe, expect, it } from 'vitest';
import { fakePasswordHash } from '../../directory/accounts/accounts.fake.js';
import type { Role } from '../../directory/organisations/roles.js';
import { TERMS_VERSION, useApiApp, type SeededMember } from '../support/api-app.js';

interface MembersPage {
  members: {
    userId: string;
    name: string | null;
    role: string;
    joinedAt: string;
    email?: string | null;
    accountCreatedByOrganisation?: boolean;
  }[];
  nextCursor: string | null;
}

interface InvitationsPage {
  invitations: {
    id: string;
    email: string | null;
    role: string;
    inviter: { userId: string; name: string | null } | null;
    createdAt: string;
    expiresAt: string;
  }[];
  nextCursor: string | null;
}

describe('members routes (P6)', () => {
  const app = useApiApp();

  it('P6: every member sees who is in the organisation by name and role; e-mail addresses only its owners and admins', async () => {
    const org = await app.org();
    const owner = await app.member(org.id, 'owner', { name: 'Olga Owner' });
    const admin = await app.member(org.id, 'admin', { name: 'Adam Admin' });
    const member = await app.member(org.id, 'member', { name: 'Maja Member' });
    const viewer = await app.member(org.id, 'viewer', { name: 'Vera Viewer' });

    for (const who of [member, viewer]) {
      const answer = await app.request('GET', `/orgs/${org.id}/members`, { token: who.token });
      const { members } = answer.body as MembersPage;
      expect(members.map((m) => [m.name, m.role])).toEqual([
        ['Olga Owner', 'owner'],
        ['Adam Admin', 'admin'],
        ['Maja Member', 'member'],
        ['Vera Viewer', 'viewer'],
      ]);
      for (const m of members) {
        expect(Object.keys(m).sort()).toEqual(['joinedAt', 'name', 'role', 'userId']);
      }
      for (const person of [owner, admin, member, viewer]) {
        expect(answer.text).not.toContain(person.email);
      }
    }
    for (const who of [owner, admin]) {
      const answer = await app.request('GET', `/orgs/${org.id}/members`, { token: who.token });
      const { members } = answer.body as MembersPage;
      expect(members.map((m) => m.email)).toEqual([
        owner.email,
        admin.email,
        member.email,
        viewer.email,
      ]);
      expect(members.every((m) => m.accountCreatedByOrganisation === false)).toBe(true);
    }
  });

  it('pages by join time with an opaque cursor', async () => {
    const org = await app.org();
    const owner = await app.member(org.id, 'owner');
    const joined = [owner.userId];
    for (let i = 0; i < 4; i++) joined.push((await app.member(org.id, 'viewer')).userId);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const answer = await app.request('GET', `/orgs/${org.id}/members`, {
        token: owner.token,
        query: { limit: '2', ...(cursor ? { cursor } : {}) },
      });
      const page = answer.body as MembersPage;
      expect(page.members.length).toBeLessThanOrEqual(2);
      seen.push(...page.members.map((m) => m.userId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(joined);
  });

  it('P6: admins change roles, remove members and delete the accounts the organisation created', async () => {
    const org = await app.org();
    await app.member(org.id, 'owner');
    const admin = await app.member(org.id, 'admin');
    const member = await app.member(org.id, 'member');
    const leaving = await app.member(org.id, 'member');
    const invitedId = await app.stores.users.create({
      email: 'invited@example.test',
      displayName: 'Invited',
      passwordHash: fakePasswordHash('a-long-passphrase'),
      verified: true,
      origin: 'invitation',
      createdByOrgId: org.id,
    });
    await app.stores.organisations.addMember(org.id, invitedId, 'viewer');
    const base = `/orgs/${org.id}/members`;

    const changed = await app.request('PATCH', `${base}/${member.userId}`, {
      token: admin.token,
      body: { role: 'viewer' },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({ userId: member.userId, role: 'viewer' });
    expect(await app.stores.organisations.membership(org.id, member.userId)).toMatchObject({
      role: 'viewer',
    });
    // Recorded on the member's own history, with the admin as the actor (P11).
    expect((await app.stores.audit.listForUser(member.userId, 1))[0]).toMatchObject({
      action: 'membership.role_changed',
      actorUserId: admin.userId,
      details: { orgId: org.id, from: 'member', to: 'viewer' },
    });

    const removed = await app.request('DELETE', `${base}/${leaving.userId}`, {
      token: admin.token,
    });
    expect(removed.status).toBe(204);
    expect(await app.stores.organisations.membership(org.id, leaving.userId)).toBeNull();
    // The account stays; only the membership ended.
    expect(await app.stores.users.findById(leaving.userId)).not.toBeNull();

    const list = await app.request('GET', base, { token: admin.token });
    expect((list.body as MembersPage).members.find((m) => m.userId === invitedId)).toMatchObject({
      accountCreatedByOrganisation: true,
    });
    const erased = await app.request('DELETE', `${base}/${invitedId}/account`, {
      token: admin.token,
    });
    expect(erased.status).toBe(204);
    expect(await app.stores.users.findById(invitedId)).toBeNull();

    // An account the person made themself is only ever removed from the organisation.
    const refused = await app.request('DELETE', `${base}/${member.userId}/account`, {
      token: admin.token,
    });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      code: 'CONFLICT',
      details: { reason: 'account-not-deletable' },
    });
    expect(await app.stores.users.findById(member.userId)).not.toBeNull();
  });
});

describe('invitations: listing, revoking and accepting (P6, P7)', () => {
  const app = useApiApp();
  let invited = 0;
  const newEmail = () => `invitee-${++invited}@example.test`;

  /** Invites `email` through the API as `inviter`; the invitation's id and its e-mailed token. */
  async function invite(inviter: SeededMember, email: string, role: Role) {
    const answer = await app.request('POST', `/orgs/${inviter.orgId}/invitations`, {
      token: inviter.token,
      body: { email, name: 'Invited Person', role },
    });
    expect(answer.status, answer.text).toBe(201);
    const mail = app.services.organisationsService.outbox.filter((m) => m.to === email).at(-1);
    return {
      id: (answer.body as { invitation: { id: string } }).invitation.id,
      token: mail!.token!,
    };
  }

  const accept = (token: string, password = 'a-long-passphrase') =>
    app.request('POST', '/invitations/accept', {
      body: { token, password, termsVersion: TERMS_VERSION },
    });
  const list = (orgId: string, token: string, query: Record<string, string> = {}) =>
    app.request('GET', `/orgs/${orgId}/invitations`, { token, query });
  const revoke = (orgId: string, invitationId: string, token: string) =>
    app.request('DELETE', `/orgs/${orgId}/invitations/${invitationId}`, { token });
  const roleOf = async (orgId: string, userId: string) =>
    (await app.stores.organisations.membership(orgId, userId))?.role ?? null;

  it('P6: owners and admins list pending invitations, oldest first and paged: id, address, role, inviter, sent and expiry', async () => {
    const org = await app.org();
    const owner = await app.member(org.id, 'owner', { name: 'Olga Owner' });
    const admin = await app.member(org.id, 'admin', { name: 'Adam Admin' });
    // Sent a second before the others, it has expired by the time they are listed.
    const expired = await invite(owner, 'expired@example.test', 'viewer');
    app.clock.advance(1000);
    const sent = [
      await invite(owner, 'first@example.test', 'owner'),
      await invite(admin, 'second@example.test', 'member'),
      await invite(owner, 'third@example.test', 'viewer'),
    ];
    app.clock.advance(7 * 86_400_000 - 500);

    for (const who of [owner, admin]) {
      // Signed in again: a week later the seeded access tokens have long expired.
      const { accessToken } = await app.signInAs(who.userId);
      const seen: InvitationsPage['invitations'] = [];
      let cursor: string | null = null;
      do {
        const answer = await list(org.id, accessToken, {
          limit: '2',
          ...(cursor ? { cursor } : {}),
        });
        expect(answer.status).toBe(200);
        const page = answer.body as InvitationsPage;
        expect(page.invitations.length).toBeLessThanOrEqual(2);
        seen.push(...page.invitations);
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen.map((i) => i.id)).toEqual(sent.map((i) => i.id));
      expect(seen.map((i) => i.id)).not.toContain(expired.id);
      expect(seen[1]).toEqual({
        id: sent[1]!.id,
        email: 'second@example.test',
        role: 'member',
        inviter: { userId: admin.userId, name: 'Adam Admin' },
        createdAt: new Date(app.clock.now() - 7 * 86_400_000 + 500).toISOString(),
        expiresAt: new Date(app.clock.now() + 500).toISOString(),
      });
      // The invitee's name is not shown: for an existing account it is the person's own.
      expect(Object.keys(seen[0]!).sort()).toEqual(
        ['createdAt', 'email', 'expiresAt', 'id', 'inviter', 'role'].sort(),
      );
    }
  });

  it('P6: listing and revoking are forbidden to members and viewers, and 404 to another organisation', async () => {
    const org = await app.org();
    const owner = await app.member(org.id, 'owner');
    const { id } = await invite(owner, newEmail(), 'member');
    const neighbour = await app.org('Neighbour AB');
    const theirOwner = await app.member(neighbour.id, 'owner');

    for (const role of ['member', 'viewer'] as const) {
      const who = await app.member(org.id, role);
      expect(await list(org.id, who.token)).toMatchObject({
        status: 403,
        body: { code: 'FORBIDDEN' },
      });
      expect(await revoke(org.id, id, who.token)).toMatchObject({
        status: 403,
        body: { code: 'FORBIDDEN' },
      });
    }
    expect(await list(org.id, theirOwner.token)).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    expect(await revoke(org.id, id, theirOwner.token)).toMatchObject({ status: 404 });
    // Nor through their own organisation: an invitation belongs to one organisation only.
    expect(await revoke(neighbour.id, id, theirOwner.token)).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    expect((await list(neighbour.id, theirOwner.token)).body).toEqual({
      invitations: [],
      nextCursor: null,
    });
    expect((await list(org.id, owner.token)).body).toMatchObject({ invitations: [{ id }] });
  });

  it("P6: a revoked invitation's link gives TOKEN_INVALID; the revocation is in the invitee's history", async () => {
    const org = await app.org();
    const owner = await app.member(org.id, 'owner');
    const admin = await app.member(org.id, 'admin');
    const email = newEmail();
    const { id, token } = await invite(owner, email, 'member');

    expect(await revoke(org.id, id, admin.token)).toMatchObject({ status: 204 });
    expect(await accept(token)).toMatchObject({ status: 400, body: { code: 'TOKEN_INVALID' } });
    expect((await list(org.id, owner.token)).body).toEqual({ invitations: [], nextCursor: null });
    expect(await revoke(org.id, id, admin.token)).toMatchObject({ status: 404 });

    const invitee = (await app.stores.users.findByEmail(email))!;
    expect(await roleOf(org.id, invitee.id)).toBeNull();
    expect((await app.stores.audit.listForUser(invitee.id, 1))[0]).toMatchObject({
      action: 'invitation.revoked',
      actorUserId: admin.userId,
      details: { orgId: org.id, role: 'member' },
    });
  });

  it('P6: only owners revoke invitations of owners, as only owners invite them', async () => {
    const org = await app.org();
    const owner = await app.member(org.id, 'owner');
    const admin = await app.member(org.id, 'admin');
    const { id } = await invite(owner, newEmail(), 'owner');

    expect(await revoke(org.id, id, admin.token)).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    expect((await list(org.id, admin.token)).body).toMatchObject({
      invitations: [{ id, role: 'owner' }],
    });
    expect(await revoke(org.id, id, owner.token)).toMatchObject({ status: 204 });
  });

  it('P6: the last owner accepting an old viewer invitation stays owner; the invitation is spent', async () => {
    const org = await app.org();
    const founder = await app.member(org.id, 'owner');
    const admin = await app.member(org.id, 'admin');
    const person = await app.user();
    // Invited twice: as a viewer by the admin, then as an owner by the founder.
    const asViewer = await invite(admin, person.email, 'viewer');
    const asOwner = await invite(founder, person.email, 'owner');
    expect(await accept(asOwner.token, person.password)).toMatchObject({
      status: 200,
      body: { organisation: { id: org.id, role: 'owner' }, alreadyMember: false },
    });
    const { accessToken } = await app.signInAs(person.userId);
    expect(
      await app.request('DELETE', `/orgs/${org.id}/members/${founder.userId}`, {
        token: accessToken,
      }),
    ).toMatchObject({ status: 204 });

    // The admin who sent the viewer invitation still may; the person is the only owner left.
    expect(await accept(asViewer.token, person.password)).toEqual(
      expect.objectContaining({
        status: 200,
        body: { organisation: { id: org.id, role: 'owner' }, alreadyMember: true },
      }),
    );
    expect(await roleOf(org.id, person.userId)).toBe('owner');
    expect((await app.stores.audit.listForUser(person.userId, 1))[0]).toMatchObject({
      action: 'invitation.accepted',
      details: { orgId: org.id, role: 'owner', alreadyMember: true },
    });
    expect(await accept(asViewer.token, person.password)).toMatchObject({
      body: { code: 'TOKEN_INVALID' },
    });
    expect((await list(org.id, accessToken)).body).toEqual({ invitations: [], nextCursor: null });
  });

  it('P6: accepting never raises a membership either: a viewer with an old admin invitation stays viewer', async () => {
    const org = await app.org();
    const owner = await app.member(org.id, 'owner');
    const person = await app.user();
    const asAdmin = await invite(owner, person.email, 'admin');
    const asViewer = await invite(owner, person.email, 'viewer');
    expect(await accept(asViewer.token, person.password)).toMatchObject({ status: 200 });

    expect(await accept(asAdmin.token, person.password)).toMatchObject({
      status: 200,
      body: { organisation: { role: 'viewer' }, alreadyMember: true },
    });
    expect(await roleOf(org.id, person.userId)).toBe('viewer');
  });

  it('P6: the invitation of a since-removed admin is refused with TOKEN_INVALID and spent', async () => {
    const org = await app.org();
    const owner = await app.member(org.id, 'owner');
    const admin = await app.member(org.id, 'admin');
    const email = newEmail();
    const { token } = await invite(admin, email, 'member');
    expect(
      await app.request('DELETE', `/orgs/${org.id}/members/${admin.userId}`, {
        token: owner.token,
      }),
    ).toMatchObject({ status: 204 });

    expect(await accept(token)).toMatchObject({ status: 400, body: { code: 'TOKEN_INVALID' } });
    const invitee = (await app.stores.users.findByEmail(email))!;
    expect(await roleOf(org.id, invitee.id)).toBeNull();
    // Spent, not merely refused: the account stays inactive, for the jobs to delete (P7).
    expect(invitee).toMatchObject({ verified: false, passwordHash: null });
    expect((await list(org.id, owner.token)).body).toEqual({ invitations: [], nextCursor: null });
    expect(await accept(token)).toMatchObject({ body: { code: 'TOKEN_INVALID' } });
  });

  it('P6: a since-demoted inviter cannot have their invitation accepted: admin → member, owner → admin for an owner invitation', async () => {
    const org = await app.org();
    const owner = await app.member(org.id, 'owner');
    const admin = await app.member(org.id, 'admin');
    const second = await app.member(org.id, 'owner');
    const fromAdmin = await invite(admin, newEmail(), 'viewer');
    const ownerFromSecond = await invite(second, newEmail(), 'owner');
    const memberFromSecond = await invite(second, newEmail(), 'member');
    const demote = (who: SeededMember, role: Role) =>
      app.request('PATCH', `/orgs/${org.id}/members/${who.userId}`, {
        token: owner.token,
        body: { role },
      });
    expect(await demote(admin, 'member')).toMatchObject({ status: 200 });
    expect(await demote(second, 'admin')).toMatchObject({ status: 200 });

    expect(await accept(fromAdmin.token)).toMatchObject({
      status: 400,
      body: { code: 'TOKEN_INVALID' },
    });
    // The rule of inviting, applied now: an admin may not invite owners, but may members.
    expect(await accept(ownerFromSecond.token)).toMatchObject({
      status: 400,
      body: { code: 'TOKEN_INVALID' },
    });
    expect(await accept(memberFromSecond.token)).toMatchObject({
      status: 200,
      body: { organisation: { role: 'member' }, alreadyMember: false },
    });
  });
});
