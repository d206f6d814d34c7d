import { z } from 'zod';
import { roleSchema } from '../../directory/organisations/roles.js';
import type { Organisation } from '../../directory/organisations/organisations.repository.js';
import type { InvitationRequest } from '../../directory/organisations/organisations.service.js';
import type { Role } from '../../directory/organisations/roles.js';
import {
  emailAddress,
  organisationName,
  personName,
  postalAddress,
  region,
} from '../http/identity.schemas.js';
import { defineRoute, type Route } from '../http/route.js';
import { orgParams } from '../http/params.js';

export interface OrgsRoutesDeps {
  organisationsService: {
    create(
      userId: string,
      input: { name: string; address?: string | null; region?: string },
    ): Promise<Organisation>;
    invite(
      inviterId: string,
      orgId: string,
      request: InvitationRequest,
    ): Promise<{ expiresAt: Date; role: Role }>;
  };
}

const createBody = z.strictObject({
  name: organisationName,
  address: postalAddress.optional(),
  region: region.optional(),
});
const inviteBody = z.strictObject({
  email: emailAddress,
  name: personName,
  role: roleSchema.default('member'),
});

/** Creating organisations and inviting people into them (P6). */
export function orgsRoutes(deps: OrgsRoutesDeps): Route[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/orgs',
        summary: 'Create an organisation (name, optional address and region); the caller owns it',
        tag: 'organisations',
        access: { kind: 'user' },
        body: createBody,
        status: 201,
        response: z.object({
          id: z.string(),
          name: z.string(),
          address: z.string().nullable(),
          region: z.string(),
          role: z.literal('owner'),
        }),
      },
      async ({ userId, body }) => {
        const org = await deps.organisationsService.create(userId, body);
        return {
          id: org.id,
          name: org.name,
          address: org.address,
          region: org.region,
          role: 'owner' as const,
        };
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/orgs/:orgId/invitations',
        summary:
          'Invite someone by e-mail with a role (only owners invite owners); creates an inactive account if there is none (P6)',
        tag: 'organisations',
        access: { kind: 'org', minRole: 'admin' },
        params: orgParams,
        body: inviteBody,
        status: 201,
        response: z.object({
          invitation: z.object({ role: roleSchema, expiresAt: z.iso.datetime() }),
        }),
        errors: ['CONFLICT'],
      },
      async ({ userId, org, body }) => {
        // The service checks the inviter's role again, with the invited role in view.
        const invitation = await deps.organisationsService.invite(userId, org.orgId, body);
        // The link goes only to the invitee's mailbox; the caller learns when it expires.
        return {
          invitation: { role: invitation.role, expiresAt: invitation.expiresAt.toISOString() },
        };
      },
    ),
  ];
}
