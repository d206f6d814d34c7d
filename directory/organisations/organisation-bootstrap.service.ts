import { transaction } from '../db/transaction.js';
import { sendAll, type IdentityDeps } from '../identity.context.js';
import { createInvitation } from './invitations.service.js';
import { OrganisationsRepository, type Organisation } from './organisations.repository.js';

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
    return transaction(this.deps.pool, async (client) => {
      const org = await new OrganisationsRepository(client, this.deps.crypto).create(
        request.name,
        request,
      );

      const invitation = await createInvitation(client, this.deps, {
        org,
        email: request.owner.email,
        name: request.owner.name,
        role: 'owner',
        inviterId: null,
      });
      await sendAll(this.deps.mailer, [invitation.mail]);
      return {
        org,
        ownerAccount: invitation.account,
        invitationExpiresAt: invitation.expiresAt,
      };
    });
  }
}
