import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AppError } from '../../common/errors.js';
import { verifySecret } from '../../common/secret-hash.js';
import { DirectoryError } from '../../directory/directory.errors.js';
import { MembersRepository } from '../../directory/organisations/members.repository.js';
import { MembersService } from '../../directory/organisations/members.service.js';
import { OrganisationBootstrapService } from '../../directory/organisations/organisation-bootstrap.service.js';
import { OrganisationsService } from '../../directory/organisations/organisations.service.js';
import type { Role } from '../../directory/organisations/roles.js';
import { useDirectoryDb } from '../support/directory-db.js';
import { lazy } from '../support/lazy.js';
import { tokenIn, type CaughtMail } from '../support/smtp-catcher.js';

/** Where acceptances come from: an address no other test file's checks count against. */
const client = { ip: '192.0.2.200' };

/**
 * How people join organisations, against the real directory schema and a real SMTP server:
 * an admin's invitation (OrganisationsService) and an operator's `create-org`
 * (OrganisationBootstrapService) both go through createInvitation, so both mark an account
 * they create as the organisation's (P6), which the jobs delete if nobody accepts (P7).
 */
const db = useDirectoryDb();
const orgService = lazy(
  () => new OrganisationsService({ ...db.identity, passwords: db.passwords }),
  'orgService',
);
const bootstrap = lazy(() => new OrganisationBootstrapService(db.identity), 'bootstrap');
const memberships = lazy(() => new MembersRepository(db.pool), 'memberships');
const members = lazy(() => new MembersService(db.pool, db.crypto), 'members');

const newEmail = () => `invitee-${randomBytes(4).toString('hex')}@example.test`;

/** What the database says made the account: origin and the creating organisation. */
async function originOf(userId: string) {
  const { rows } = await db.admin.query<{ origin: string; created_by_org_id: string | null }>(
    'SELECT origin, created_by_org_id FROM users WHERE id = $1',
    [userId],
  );
  return rows[0];
}

/** Accepts the invitation `mail` carries, as its link's page would. */
const acceptFrom = (mail: CaughtMail, password: string, name?: string) =>
  orgService.accept({ client, token: tokenIn(mail), password, termsVersion: '1', name });

const count = async (table: 'organisations' | 'users' | 'invitations') =>
  (await db.admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

/**
 * The account an invitation created for `email`: inactive, with no password, and marked as the
 * organisation's in the database and by the members repository (P6, P7).
 */
async function createdByOrganisation(email: string, orgId: string) {
  const account = await db.users.findByEmail(email);
  expect(account).toMatchObject({ verified: false, passwordHash: null });
  expect(await originOf(account!.id)).toEqual({ origin: 'invitation', created_by_org_id: orgId });
  expect(await memberships.createdBy(orgId, [account!.id])).toEqual(new Set([account!.id]));
  return account!;
}

describe('OrganisationsService: invite and accept', () => {
  it('P6, P7: an invitation to a new address creates an inactive account the organisation created, and e-mails the link', async () => {
    const inviter = await db.createUser();
    const org = await orgService.create(inviter.id, { name: 'Mossgården' });
    const email = newEmail();

    const { role, expiresAt } = await orgService.invite(inviter.id, org.id, {
      email,
      name: 'Astrid Lind',
      role: 'member',
    });
    expect(role).toBe('member');
    // P7: the link, and with it the account, lives INVITATION_TTL_DAYS (7).
    const days = (expiresAt.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    const account = await createdByOrganisation(email, org.id);
    // Membership starts on acceptance, never before.
    expect(await db.organisations.membership(org.id, account.id)).toBeNull();

    const mail = await db.mailbox.next(email);
    expect(mail.to).toEqual([email]);
    expect(mail.subject).toBe('Invitation to Mossgården on Telemoat');
    expect(mail.text).toContain('http://127.0.0.1:8080/accept-invitation#token=');

    expect(await acceptFrom(mail, 'moss and lichen everywhere', 'Astrid Lind-Berg')).toEqual({
      orgId: org.id,
      role: 'member',
      alreadyMember: false,
    });
    const accepted = await db.users.findByEmail(email);
    expect(accepted).toMatchObject({ verified: true, displayName: 'Astrid Lind-Berg' });
    expect(await verifySecret('moss and lichen everywhere', accepted!.passwordHash!)).toBe(true);
    expect((await db.organisations.membership(org.id, accepted!.id))?.role).toBe('member');
    // Still the organisation's account after acceptance: its admins may delete it (P6).
    expect(await memberships.createdBy(org.id, [accepted!.id])).toEqual(new Set([accepted!.id]));

    const history = await db.audit.listForUser(accepted!.id, 10);
    expect(history.map((e) => [e.action, e.actorUserId])).toEqual([
      ['invitation.accepted', accepted!.id],
      ['profile.updated', accepted!.id],
      ['email.verified', accepted!.id],
      ['invitation.created', inviter.id],
      ['account.created', inviter.id],
    ]);
    // The link works once.
    const again = await acceptFrom(mail, 'moss and lichen everywhere').catch((err: unknown) => err);
    expect((again as AppError).code).toBe('TOKEN_INVALID');
  });

  it('P6: inviting an address that already has an account does not make it the organisation’s', async () => {
    const inviter = await db.createUser();
    const org = await orgService.create(inviter.id, { name: 'Lövhyddan' });
    const existing = await db.createUser({ origin: 'signup', password: 'my own password here' });

    await orgService.invite(inviter.id, org.id, {
      email: existing.email,
      name: 'Whatever they call me',
      role: 'viewer',
    });
    const mail = await db.mailbox.next(existing.email);
    expect(await originOf(existing.id)).toEqual({ origin: 'signup', created_by_org_id: null });
    expect(await memberships.createdBy(org.id, [existing.id])).toEqual(new Set());

    // An existing account proves itself with its current password, which is never replaced.
    const wrong = await orgService
      .accept({
        client,
        token: tokenIn(mail),
        password: 'not my password at all',
        termsVersion: '1',
      })
      .catch((err: unknown) => err);
    expect((wrong as AppError).code).toBe('INVALID_CREDENTIALS');
    expect(await db.organisations.membership(org.id, existing.id)).toBeNull();
  });

  it('P6: only owners invite owners, and a member may not invite at all', async () => {
    const owner = await db.createUser();
    const org = await orgService.create(owner.id, { name: 'Barrskogen' });
    const admin = await db.createUser();
    const member = await db.createUser();
    await db.organisations.addMember(org.id, admin.id, 'admin');
    await db.organisations.addMember(org.id, member.id, 'member');
    const before = await count('users');
    for (const [inviter, role] of [
      [admin.id, 'owner'],
      [member.id, 'viewer'],
    ] as const) {
      const error = await orgService
        .invite(inviter, org.id, { email: newEmail(), name: 'Nobody', role })
        .catch((err: unknown) => err);
      expect((error as AppError).code).toBe('FORBIDDEN');
    }
    expect(await count('users')).toBe(before);
  });
});

/** The code a rejected promise failed with. */
const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (err: unknown) => (err as AppError).code,
  );

/** An organisation created by its owner, with an admin. */
async function organisationWithAdmin(name: string) {
  const owner = await db.createUser({ password: 'the owner’s own passphrase' });
  const org = await orgService.create(owner.id, { name });
  const admin = await db.createUser();
  await db.organisations.addMember(org.id, admin.id, 'admin');
  return { orgId: org.id, owner, admin };
}

/** Invites `email`; the invitation's id and the token of its e-mailed link. */
async function invited(inviterId: string, orgId: string, email: string, role: Role) {
  const { id } = await orgService.invite(inviterId, orgId, { email, name: 'Invited', role });
  return { id, token: tokenIn(await db.mailbox.next(email)) };
}

const invitationsOf = async (userId: string) =>
  (
    await db.admin.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM invitations WHERE user_id = $1',
      [userId],
    )
  ).rows[0]!.n;

describe('OrganisationsService: pending invitations, revoked and checked at acceptance (P6)', () => {
  it('P6: lists pending invitations oldest first, paged, with the address and inviter opened; expired ones are not pending', async () => {
    const { orgId, owner, admin } = await organisationWithAdmin('Listhuset');
    await db.users.update(admin.id, { name: 'Alva Admin' });
    const stale = await invited(owner.id, orgId, newEmail(), 'viewer');
    await db.admin.query(
      "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1",
      [stale.id],
    );
    const emails = [newEmail(), newEmail(), newEmail()];
    const ids = [
      (await invited(admin.id, orgId, emails[0]!, 'member')).id,
      (await invited(owner.id, orgId, emails[1]!, 'owner')).id,
      (await invited(admin.id, orgId, emails[2]!, 'viewer')).id,
    ];

    const first = await orgService.invitations(orgId, { limit: 2 });
    expect(first.map((i) => i.id)).toEqual(ids.slice(0, 2));
    const last = first.at(-1)!;
    const rest = await orgService.invitations(orgId, {
      limit: 2,
      after: { createdAt: last.position, id: last.id },
    });
    expect(rest.map((i) => i.id)).toEqual(ids.slice(2));
    expect(first[0]).toMatchObject({
      email: emails[0],
      role: 'member',
      inviter: { userId: admin.id, name: 'Alva Admin' },
    });
    expect(first[0]!.expiresAt.getTime() - first[0]!.createdAt.getTime()).toBe(7 * 86_400_000);
    expect(
      await orgService.invitations((await orgService.create(owner.id, { name: 'Tomt' })).id, {
        limit: 10,
      }),
    ).toEqual([]);
  });

  it("P6: a revoked invitation's link gives TOKEN_INVALID; an admin may not revoke an owner's invitation, and another organisation sees none", async () => {
    const { orgId, owner, admin } = await organisationWithAdmin('Återkallet AB');
    const email = newEmail();
    const asMember = await invited(owner.id, orgId, email, 'member');
    const asOwner = await invited(owner.id, orgId, newEmail(), 'owner');
    const neighbour = await organisationWithAdmin('Grannen AB');

    expect(await codeOf(orgService.revokeInvitation({ userId: admin.id }, orgId, asOwner.id))).toBe(
      'FORBIDDEN',
    );
    expect(
      await codeOf(orgService.revokeInvitation({ userId: neighbour.owner.id }, orgId, asMember.id)),
    ).toBe('NOT_FOUND');
    expect(
      await codeOf(
        orgService.revokeInvitation({ userId: neighbour.owner.id }, neighbour.orgId, asMember.id),
      ),
    ).toBe('NOT_FOUND');
    // Refusals change nothing: both invitations are still pending.
    expect((await orgService.invitations(orgId, { limit: 10 })).map((i) => i.id)).toEqual([
      asMember.id,
      asOwner.id,
    ]);

    await orgService.revokeInvitation({ userId: admin.id }, orgId, asMember.id);
    const invitee = (await db.users.findByEmail(email))!;
    expect(await invitationsOf(invitee.id)).toBe(0);
    expect((await db.audit.listForUser(invitee.id, 1))[0]).toMatchObject({
      action: 'invitation.revoked',
      actorUserId: admin.id,
      details: { orgId, role: 'member' },
    });
    expect(
      await codeOf(
        orgService.accept({
          client,
          token: asMember.token,
          password: 'a long passphrase',
          termsVersion: '1',
        }),
      ),
    ).toBe('TOKEN_INVALID');
    expect(
      await codeOf(orgService.revokeInvitation({ userId: admin.id }, orgId, asMember.id)),
    ).toBe('NOT_FOUND');
  });

  it('P6: the invitation of a since-removed admin, or of one demoted below its role, is refused and spent (committed, not rolled back)', async () => {
    const { orgId, owner, admin } = await organisationWithAdmin('Borttaget AB');
    const second = await db.createUser();
    await db.organisations.addMember(orgId, second.id, 'owner');
    const fromAdmin = newEmail();
    const fromSecond = newEmail();
    const adminLink = await invited(admin.id, orgId, fromAdmin, 'member');
    const secondLink = await invited(second.id, orgId, fromSecond, 'owner');
    await members.remove({ userId: owner.id }, orgId, admin.id);
    await members.changeRole({ userId: owner.id }, orgId, second.id, 'admin');

    for (const [email, { token }] of [
      [fromAdmin, adminLink],
      [fromSecond, secondLink],
    ] as const) {
      const accept = () =>
        orgService.accept({ client, token, password: 'a long passphrase', termsVersion: '1' });
      expect(await codeOf(accept())).toBe('TOKEN_INVALID');
      const invitee = (await db.users.findByEmail(email))!;
      expect(await db.organisations.membership(orgId, invitee.id)).toBeNull();
      expect(invitee).toMatchObject({ verified: false, passwordHash: null });
      expect(await invitationsOf(invitee.id)).toBe(0);
      expect(await codeOf(accept())).toBe('TOKEN_INVALID');
    }
  });

  it('P6: the last owner accepting an old viewer invitation stays owner; the invitation is spent', async () => {
    const { orgId, owner, admin } = await organisationWithAdmin('Sista ägaren AB');
    const person = await db.createUser({ password: 'my very own passphrase' });
    const asViewer = await invited(admin.id, orgId, person.email, 'viewer');
    const asOwner = await invited(owner.id, orgId, person.email, 'owner');
    const accept = (token: string) =>
      orgService.accept({ client, token, password: 'my very own passphrase', termsVersion: '1' });
    expect(await accept(asOwner.token)).toEqual({ orgId, role: 'owner', alreadyMember: false });
    await members.remove({ userId: person.id }, orgId, owner.id);

    expect(await accept(asViewer.token)).toEqual({ orgId, role: 'owner', alreadyMember: true });
    expect((await db.organisations.membership(orgId, person.id))?.role).toBe('owner');
    expect(await invitationsOf(person.id)).toBe(0);
    expect((await db.audit.listForUser(person.id, 1))[0]).toMatchObject({
      action: 'invitation.accepted',
      details: { orgId, role: 'owner', alreadyMember: true },
    });
    // Adding a member never changes the role of one.
    expect(await db.organisations.addMember(orgId, person.id, 'viewer')).toBe(false);
    expect((await db.organisations.membership(orgId, person.id))?.role).toBe('owner');
  });

  it("P6: deleting the inviter's account deletes their pending invitations, which would otherwise pass for an operator's", async () => {
    const { orgId, admin } = await organisationWithAdmin('Raderat AB');
    const email = newEmail();
    await invited(admin.id, orgId, email, 'member');
    const invitee = (await db.users.findByEmail(email))!;
    expect(await invitationsOf(invitee.id)).toBe(1);
    await db.admin.query('DELETE FROM users WHERE id = $1', [admin.id]);
    expect(await invitationsOf(invitee.id)).toBe(0);
  });
});

describe('OrganisationBootstrapService: an operator’s create-org', () => {
  it('P6, P7: creates the organisation and an inactive owner account marked as the organisation’s, e-mailed before commit', async () => {
    const email = newEmail();
    const result = await bootstrap.create({
      name: 'Glasshouse Ltd',
      owner: { email, name: 'Ada Owner' },
    });
    expect(result.ownerAccount).toBe('created');
    expect(result.org.name).toBe('Glasshouse Ltd');
    expect(await db.organisations.find(result.org.id)).toMatchObject({ name: 'Glasshouse Ltd' });

    const account = await createdByOrganisation(email, result.org.id);
    // An operator invited: no member is named as the inviter.
    expect((await db.audit.listForUser(account.id, 10)).map((e) => e.actorUserId)).toEqual([
      null,
      null,
    ]);

    const mail = await db.mailbox.next(email);
    expect(mail.subject).toBe('Invitation to Glasshouse Ltd on Telemoat');
    expect(mail.text).toContain('An administrator invited you to join Glasshouse Ltd');
    expect(await acceptFrom(mail, 'glass and steel and light')).toEqual({
      orgId: result.org.id,
      role: 'owner',
      alreadyMember: false,
    });
    expect((await db.organisations.membership(result.org.id, account.id))?.role).toBe('owner');
  });

  it('P6: the e-mail is sent while the transaction is still open: nothing is visible to others yet', async () => {
    // The real SMTP mailer, watched: when it sends, another connection (the admin pool) must
    // not see the new organisation yet; it commits only after the mail server took the message.
    const before = await count('organisations');
    const seenWhileSending: number[] = [];
    const watched = new OrganisationBootstrapService({
      ...db.identity,
      mailer: {
        async send(message) {
          seenWhileSending.push(await count('organisations'));
          await db.identity.mailer.send(message);
        },
      },
    });
    const email = newEmail();
    await watched.create({ name: 'Watched Ltd', owner: { email, name: 'Watched Owner' } });
    expect(seenWhileSending).toEqual([before]);
    expect(await count('organisations')).toBe(before + 1);
    expect(db.mailbox.to(email)).toHaveLength(1);
  });

  it('P6: an existing account invited as first owner keeps its own origin', async () => {
    const existing = await db.createUser({ origin: 'signup' });
    const result = await bootstrap.create({
      name: 'Second Glasshouse',
      owner: { email: existing.email, name: 'Ignored Name' },
    });
    expect(result.ownerAccount).toBe('existing');
    expect(await originOf(existing.id)).toEqual({ origin: 'signup', created_by_org_id: null });
    expect((await db.mailbox.next(existing.email)).subject).toBe(
      'Invitation to Second Glasshouse on Telemoat',
    );
  });

  it('P6, P7: with the mail server down it fails with MAIL_UNAVAILABLE and leaves no organisation, account or invitation', async () => {
    const down = new OrganisationBootstrapService({
      ...db.identity,
      mailer: await db.unreachableMailer(),
    });
    const before = {
      organisations: await count('organisations'),
      users: await count('users'),
      invitations: await count('invitations'),
    };
    const email = newEmail();
    const error = await down
      .create({ name: 'Never Ltd', owner: { email, name: 'Nobody Owner' } })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DirectoryError);
    expect((error as DirectoryError).code).toBe('MAIL_UNAVAILABLE');

    expect({
      organisations: await count('organisations'),
      users: await count('users'),
      invitations: await count('invitations'),
    }).toEqual(before);
    expect(await db.users.findByEmail(email)).toBeNull();
    expect(db.mailbox.to(email)).toEqual([]);
  });
});
