import { AuditLogRepository } from '../accounts/audit-log.repository.js';
import { linksOf, sendAll, type IdentityDeps } from '../identity.context.js';
import { InvitationsRepository } from './invitations.repository.js';
import { invitationMail } from '../mail/mail-templates.js';
import { OrganisationsRepository, type Organisation } from './organisations.repository.js';
import { transaction } from '../db/transaction.js';
import { UsersRepository } from '../accounts/users.repository.js';

export interface OrganisationBootstrap {
  name: string;
  address?: string | null;
  region?: string;
  owner: { email: string; name: string };
}

/**
 * An organisation created by an operator (`telemoat create-org`), with its first owner invited
 * by e-mail rather than given a password: the owner sets their own through the link and accepts
 * the privacy terms (P6); an account nobody activates is deleted when the link expires (P7).
 * All or nothing: the e-mail is sent before the transaction commits, so a mail server that is
 * down leaves no organisation without an owner behind.
 */
export class OrganisationBootstrapService {
  constructor(private readonly deps: IdentityDeps) {}

  async create(request: OrganisationBootstrap): Promise<{
    org: Organisation;
    ownerAccount: 'created' | 'existing';
    invitationExpiresAt: Date;
  }> {
    const { crypto, settings, mailer } = this.deps;
    return transaction(this.deps.pool, async (client) => {
      const organisations = new OrganisationsRepository(client, crypto);
      const users = new UsersRepository(client, crypto);
      const audit = new AuditLogRepository(client);
      const org = await organisations.create(request.name, request);

      const existing = await users.findByEmail(request.owner.email);
      const userId =
        existing?.id ??
        (await users.create({
          email: request.owner.email,
          displayName: request.owner.name,
          passwordHash: null,
          verified: false,
          origin: 'invitation',
        }));
      if (!existing) {
        await audit.record({
          userId,
          actorUserId: null,
          action: 'account.created',
          details: { origin: 'invitation', orgId: org.id },
        });
      }
      const invitation = await new InvitationsRepository(client).create({
        orgId: org.id,
        userId,
        role: 'owner',
        invitedBy: null,
        ttlSeconds: settings.invitationTtlDays * 86_400,
      });
      await audit.record({
        userId,
        actorUserId: null,
        action: 'invitation.created',
        details: { orgId: org.id, role: 'owner' },
      });

      const invitee = (await users.profiles([userId])).get(userId)!;
      const content = invitationMail(
        { name: invitee.name, omitNames: invitee.settings.omitNamesInEmail },
        {
          orgName: org.name,
          inviterName: null,
          role: 'owner',
          link: linksOf(this.deps).acceptInvitation(invitation.token),
          validDays: settings.invitationTtlDays,
        },
      );
      await sendAll(mailer, [{ to: invitee.email, ...content }]);
      return {
        org,
        ownerAccount: existing ? 'existing' : 'created',
        invitationExpiresAt: invitation.expiresAt,
      };
    });
  }
}
