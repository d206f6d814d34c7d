import { describe, expect, it } from 'vitest';
import { fakePasswordHash } from '../../directory/accounts/accounts.fake.js';
import { useApiApp } from '../support/api-app.js';

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
