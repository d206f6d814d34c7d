import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors.js';
import { MembersService } from '../../directory/organisations/members.service.js';
import { OrganisationsService } from '../../directory/organisations/organisations.service.js';
import type { Role } from '../../directory/organisations/roles.js';
import { useDirectoryDb } from '../support/directory-db.js';
import { lazy } from '../support/lazy.js';
import { tokenIn } from '../support/smtp-catcher.js';

/** Where acceptances come from: an address no other test file's checks count against. */
const client = { ip: '192.0.2.200' };

/**
 * MembersService against the real directory schema (P6): the owner rules, and the deletion of
 * accounts only the organisation's own invitation created, checked again by the database's
 * erase_invited_account function.
 */
const db = useDirectoryDb();
const members = lazy(() => new MembersService(db.pool, db.crypto), 'members');
const orgService = lazy(
  () => new OrganisationsService({ ...db.identity, passwords: db.passwords }),
  'orgService',
);

async function failure(promise: Promise<unknown>): Promise<{ code: string; details?: unknown }> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  return error.details === undefined
    ? { code: error.code }
    : { code: error.code, details: error.details };
}

/** An organisation whose owner created it, plus members with the given roles. */
async function organisation(roles: Role[] = []) {
  const owner = await db.createUser();
  const org = await orgService.create(owner.id, { name: 'Växthus AB' });
  const others: string[] = [];
  for (const role of roles) {
    const user = await db.createUser();
    await db.organisations.addMember(org.id, user.id, role);
    others.push(user.id);
  }
  return { orgId: org.id, ownerId: owner.id, others };
}

const roleOf = async (orgId: string, userId: string) =>
  (await db.organisations.membership(orgId, userId))?.role ?? null;

/** An account the organisation's invitation created, accepted so that it is a member. */
async function invitedMember(orgId: string, inviterId: string, role: Role = 'member') {
  const email = `invited-${randomBytes(4).toString('hex')}@example.test`;
  await orgService.invite(inviterId, orgId, { email, name: 'Invited Person', role });
  const token = tokenIn(await db.mailbox.next(email));
  await orgService.accept({
    client,
    token,
    password: 'a long enough pass phrase',
    termsVersion: '1',
  });
  const account = await db.users.findByEmail(email);
  return account!.id;
}

describe('MembersService: owner rules (P6)', () => {
  it('P6: only an owner makes, changes or removes owners; an admin gets FORBIDDEN and nothing changes', async () => {
    const { orgId, ownerId, others } = await organisation(['admin', 'member']);
    const [adminId, memberId] = others as [string, string];
    const admin = { userId: adminId };

    expect(await failure(members.changeRole(admin, orgId, memberId, 'owner'))).toEqual({
      code: 'FORBIDDEN',
    });
    expect(await failure(members.changeRole(admin, orgId, ownerId, 'admin'))).toEqual({
      code: 'FORBIDDEN',
    });
    expect(await failure(members.remove(admin, orgId, ownerId))).toEqual({ code: 'FORBIDDEN' });
    expect(await roleOf(orgId, memberId)).toBe('member');
    expect(await roleOf(orgId, ownerId)).toBe('owner');

    // An admin may still manage the roles below owner.
    expect(await members.changeRole(admin, orgId, memberId, 'viewer')).toBe('viewer');
    // The owner may make another owner, recorded on that member's history (P11).
    expect(await members.changeRole({ userId: ownerId }, orgId, adminId, 'owner')).toBe('owner');
    expect(await roleOf(orgId, adminId)).toBe('owner');
    const [latest] = await db.audit.listForUser(adminId, 1);
    expect(latest).toMatchObject({
      action: 'membership.role_changed',
      actorUserId: ownerId,
      details: { orgId, from: 'admin', to: 'owner' },
    });
  });

  it('P6: a member or viewer may not manage members, and an outsider gets NOT_FOUND', async () => {
    const { orgId, ownerId, others } = await organisation(['member', 'viewer']);
    const [memberId, viewerId] = others as [string, string];
    expect(
      await failure(members.changeRole({ userId: memberId }, orgId, viewerId, 'member')),
    ).toEqual({ code: 'FORBIDDEN' });
    expect(await failure(members.remove({ userId: viewerId }, orgId, memberId))).toEqual({
      code: 'FORBIDDEN',
    });
    const outsider = await db.createUser();
    expect(await failure(members.remove({ userId: outsider.id }, orgId, memberId))).toEqual({
      code: 'NOT_FOUND',
    });
    // The owner changing someone who is not a member: NOT_FOUND too.
    expect(
      await failure(members.changeRole({ userId: ownerId }, orgId, outsider.id, 'admin')),
    ).toEqual({ code: 'NOT_FOUND' });
    expect(await roleOf(orgId, memberId)).toBe('member');
    expect(await roleOf(orgId, viewerId)).toBe('viewer');
  });

  it('P6: the last owner can be neither demoted nor removed (CONFLICT last-owner); a second owner can', async () => {
    const { orgId, ownerId, others } = await organisation(['admin']);
    const [adminId] = others as [string];
    const owner = { userId: ownerId };
    const lastOwner = { code: 'CONFLICT', details: { reason: 'last-owner' } };

    expect(await failure(members.changeRole(owner, orgId, ownerId, 'admin'))).toEqual(lastOwner);
    expect(await failure(members.remove(owner, orgId, ownerId))).toEqual(lastOwner);
    expect(await roleOf(orgId, ownerId)).toBe('owner');
    expect((await db.audit.listForUser(ownerId, 10)).map((e) => e.action)).toEqual([
      'organisation.created',
    ]);

    // With a second owner, the first may step down; then the second is the last one.
    await members.changeRole(owner, orgId, adminId, 'owner');
    expect(await members.changeRole(owner, orgId, ownerId, 'admin')).toBe('admin');
    expect(await failure(members.remove({ userId: adminId }, orgId, adminId))).toEqual(lastOwner);
    await members.remove({ userId: adminId }, orgId, ownerId);
    expect(await roleOf(orgId, ownerId)).toBeNull();
    const [removed] = await db.audit.listForUser(ownerId, 1);
    expect(removed).toMatchObject({
      action: 'membership.removed',
      actorUserId: adminId,
      details: { orgId, role: 'admin' },
    });
  });
});

describe('MembersService.deleteAccount: only accounts the organisation created (P6)', () => {
  it('P6, P17: deletes an account the organisation’s invitation created, with its data key and memberships', async () => {
    const { orgId, ownerId } = await organisation();
    const invitedId = await invitedMember(orgId, ownerId);
    const { rows: keyRows } = await db.admin.query<{ data_key_id: string }>(
      'SELECT data_key_id FROM users WHERE id = $1',
      [invitedId],
    );
    const dataKeyId = keyRows[0]!.data_key_id;
    // The member list says which accounts the organisation may delete.
    const listed = await members.page(orgId, { limit: 10 });
    expect(listed.find((m) => m.userId === invitedId)?.accountCreatedByOrganisation).toBe(true);
    expect(listed.find((m) => m.userId === ownerId)?.accountCreatedByOrganisation).toBe(false);

    await members.deleteAccount({ userId: ownerId }, orgId, invitedId);

    expect(await db.users.findById(invitedId)).toBeNull();
    expect(await roleOf(orgId, invitedId)).toBeNull();
    const { rows: left } = await db.admin.query(
      `SELECT (SELECT count(*) FROM users WHERE id = $1)::int AS users,
              (SELECT count(*) FROM data_keys WHERE id = $2)::int AS keys,
              (SELECT count(*) FROM audit_log WHERE user_id = $1)::int AS audit`,
      [invitedId, dataKeyId],
    );
    expect(left).toEqual([{ users: 0, keys: 0, audit: 0 }]);
    // Recorded on the admin's own history, without the erased account's id (P17).
    const [entry] = await db.audit.listForUser(ownerId, 1);
    expect(entry).toMatchObject({ action: 'member_account.deleted', actorUserId: ownerId });
    expect(JSON.stringify(entry!.details)).not.toContain(invitedId);
  });

  it('P6: an account the organisation did not create can only be removed: CONFLICT, nothing deleted', async () => {
    const { orgId, ownerId, others } = await organisation(['member']);
    const [memberId] = others as [string];
    expect(await failure(members.deleteAccount({ userId: ownerId }, orgId, memberId))).toEqual({
      code: 'CONFLICT',
      details: { reason: 'account-not-deletable' },
    });
    expect(await db.users.findById(memberId)).not.toBeNull();
    expect(await roleOf(orgId, memberId)).toBe('member');
  });

  it('P6: an invited account that also belongs to another organisation is not deletable', async () => {
    const first = await organisation();
    const second = await organisation();
    const invitedId = await invitedMember(first.orgId, first.ownerId);
    await db.organisations.addMember(second.orgId, invitedId, 'viewer');
    expect(
      await failure(members.deleteAccount({ userId: first.ownerId }, first.orgId, invitedId)),
    ).toEqual({ code: 'CONFLICT', details: { reason: 'account-not-deletable' } });
    // Nor may the other organisation delete it: its invitation did not create the account.
    expect(
      await failure(members.deleteAccount({ userId: second.ownerId }, second.orgId, invitedId)),
    ).toEqual({ code: 'CONFLICT', details: { reason: 'account-not-deletable' } });
    expect(await db.users.findById(invitedId)).not.toBeNull();
  });

  it('P6: an admin cannot delete their own account this way, nor a member, nor an owner as admin', async () => {
    const { orgId, ownerId, others } = await organisation(['admin', 'member']);
    const [adminId, memberId] = others as [string, string];
    const invitedOwner = await invitedMember(orgId, ownerId, 'owner');
    const invitedAdmin = await invitedMember(orgId, ownerId, 'admin');
    expect(await failure(members.deleteAccount({ userId: adminId }, orgId, adminId))).toEqual({
      code: 'FORBIDDEN',
    });
    expect(await failure(members.deleteAccount({ userId: memberId }, orgId, invitedAdmin))).toEqual(
      { code: 'FORBIDDEN' },
    );
    // Deleting an owner's account is an owner change: an admin may not.
    expect(await failure(members.deleteAccount({ userId: adminId }, orgId, invitedOwner))).toEqual({
      code: 'FORBIDDEN',
    });
    expect(await db.users.findById(invitedOwner)).not.toBeNull();
    expect(await db.users.findById(invitedAdmin)).not.toBeNull();
  });
});
