import { z } from 'zod';
import {
  emailAddress,
  organisationName,
  personName,
  postalAddress,
  region,
} from '../../api/http/identity.schemas.js';
import { ConfigError } from '../../common/config.js';
import { OrganisationBootstrapService } from '../../directory/organisations/organisation-bootstrap.service.js';
import { print, type Command } from './command.js';
import { openDirectory } from './directory-access.js';

const input = z.object({
  name: organisationName,
  address: postalAddress.optional(),
  region: region.optional(),
  owner: z.object({ email: emailAddress, name: personName }),
});

export const createOrgCommand: Command = {
  usage:
    'create-org --name "Greenhouse Co" --owner-email owner@example.com --owner-name "Ada Owner" [--address "..."] [--region eu]\n' +
    '                                   create an organisation; its first owner is invited by e-mail and sets their own password',
  async run(options) {
    const parsed = input.safeParse({
      name: options.required('name'),
      address: options.optional('address'),
      region: options.optional('region'),
      owner: { email: options.required('owner-email'), name: options.required('owner-name') },
    });
    options.rejectUnknown();
    if (!parsed.success) {
      throw new ConfigError(
        'command line',
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
      );
    }
    const directory = openDirectory('create-org');
    try {
      const { org, ownerAccount, invitationExpiresAt } = await new OrganisationBootstrapService(
        directory,
      ).create(parsed.data);
      print(`create-org: created organisation "${org.name}"`);
      print(`  id          ${org.id}`);
      print(`  region      ${org.region}`);
      print(
        `  owner       ${parsed.data.owner.email} (${ownerAccount === 'created' ? 'new account, inactive until the invitation is accepted' : 'existing account'})`,
      );
      print(
        `  invitation  e-mailed; the owner sets their password through its link, valid until ${invitationExpiresAt.toISOString()}`,
      );
    } finally {
      await directory.close();
    }
  },
};
