import { z } from 'zod';
import { roleSchema } from '../../directory/organisations/roles.js';
import type {
  AcceptedInvitation,
  AcceptInvitationRequest,
} from '../../directory/organisations/organisations.service.js';
import { newPassword, oneTimeToken, personName, termsVersion } from '../http/identity.schemas.js';
import { clientIp } from '../http/client-info.js';
import { defineRoute, type Route } from '../http/route.js';

export interface InvitationsRoutesDeps {
  organisationsService: {
    accept(request: AcceptInvitationRequest): Promise<AcceptedInvitation>;
  };
}

const acceptBody = z.strictObject({
  token: oneTimeToken,
  password: newPassword,
  termsVersion,
  name: personName.optional(),
});

/** Accepting an invitation needs no sign-in: the invitee has no session yet (P6). */
export function invitationsRoutes(deps: InvitationsRoutesDeps): Route[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/invitations/accept',
        summary:
          'Accept an invitation with the token from its e-mail, a password and the privacy terms: a verified member from then on; a member already keeps their role (`alreadyMember`)',
        tag: 'organisations',
        access: { kind: 'public' },
        body: acceptBody,
        response: z.object({
          /** The role held now: the invitation's, or for a member already the one they had. */
          organisation: z.object({ id: z.string(), role: roleSchema }),
          alreadyMember: z.boolean(),
        }),
        errors: [
          'TOKEN_INVALID',
          'WEAK_PASSWORD',
          'TERMS_NOT_ACCEPTED',
          'INVALID_CREDENTIALS',
          'TOO_MANY_ATTEMPTS',
        ],
      },
      async ({ req, body }) => {
        const accepted = await deps.organisationsService.accept({
          token: body.token,
          password: body.password,
          termsVersion: body.termsVersion,
          ...(body.name === undefined ? {} : { name: body.name }),
          client: { ip: clientIp(req) },
        });
        return {
          organisation: { id: accepted.orgId, role: accepted.role },
          alreadyMember: accepted.alreadyMember,
        };
      },
    ),
  ];
}
