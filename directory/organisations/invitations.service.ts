import type pg from 'pg';
import { AuditLogRepository } from '../accounts/audit-log.repository.js';
import { UsersRepository } from '../accounts/users.repository.js';
import { linksOf, type IdentityDeps } from '../identity.context.js';
import { invitationMail } from '../mail/mail-templates.js';
import type { MailMessage } from '../mail/mailer.js';
import { InvitationsRepository } from './invitations.repository.js';
import type { Organisation } from './organisations.repository.js';
import type { Role } from './roles.js';

export interface NewInvitation {
  org: Pick<Organisation, 'id' | 'name'>;
  email: string;
  /** What the organisation calls the person; they may correct it when they accept. */
  name: string;
  role: Role;
  /** The member who invites, or null for an operator's `create-org`. */
  inviterId: string | null;
}

export interface CreatedInvitation {
  id: string;
  mail: MailMessage;
  expiresAt: Date;
  /** Whether the address had an account already. */
  account: 'created' | 'existing';
}

/**
 * Invites a person into an organisation inside the caller's transaction, and returns the
 * e-mail to send; the caller decides whether it goes out before or after the commit.
 *
 * An address without an account gets an inactive one, marked as created by the organisation
 * (`createdByOrgId`) whether a member or an operator invited it: the account exists only
 * because of that organisation, so its admins may delete it (P6) while nobody else holds it,
 * and the jobs delete it if the link expires unused (P7).
 */
export async function createInvitation(
  client: pg.PoolClient,
  deps: IdentityDeps,
  request: NewInvitation,
): Promise<CreatedInvitation> {
  const { crypto, settings } = deps;
  const users = new UsersRepository(client, crypto);
  const audit = new AuditLogRepository(client);
  const { org, inviterId, role } = request;

  const existing = await users.findByEmail(request.email);
  const userId =
    existing?.id ??
    (await users.create({
      email: request.email,
      displayName: request.name,
      passwordHash: null,
      verified: false,
      origin: 'invitation',
      createdByOrgId: org.id,
    }));
  if (!existing) {
    await audit.record({
      userId,
      actorUserId: inviterId,
      action: 'account.created',
      details: { origin: 'invitation', orgId: org.id },
    });
  }
  const invitation = await new InvitationsRepository(client).create({
    orgId: org.id,
    userId,
    role,
    invitedBy: inviterId,
    ttlSeconds: settings.invitationTtlDays * 86_400,
  });
  await audit.record({
    userId,
    actorUserId: inviterId,
    action: 'invitation.created',
    details: { orgId: org.id, role },
  });

  const profiles = await users.profiles(inviterId ? [userId, inviterId] : [userId]);
  const invitee = profiles.get(userId)!;
  const content = invitationMail(
    { name: invitee.name, omitNames: invitee.settings.omitNamesInEmail },
    {
      orgName: org.name,
      inviterName: inviterId ? (profiles.get(inviterId)?.name ?? null) : null,
      role,
      link: linksOf(deps).acceptInvitation(invitation.token),
      validDays: settings.invitationTtlDays,
    },
  );
  return {
    id: invitation.id,
    mail: { to: invitee.email, ...content },
    expiresAt: invitation.expiresAt,
    account: existing ? 'existing' : 'created',
  };
}
