import { z } from 'zod';
import { roleSchema } from '../../directory/organisations/roles.js';
import type { AcceptInvitationRequest } from '../../directory/organisations/organisations.service.js';
import type { Role } from '../../directory/organisations/roles.js';
import { newPassword, oneTimeToken, personName, termsVersion } from '../http/identity.schemas.js';
import { defineRoute, type Route } from '../http/route.js';

export interface InvitationsRoutesDeps {
  organisationsService: {
    accept(request: AcceptInvitationRequest): Promise<{ orgId: string; role: Role }>;
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
          'Accept an invitation with the token from its e-mail, a password and the privacy terms: a verified member from then on',
        tag: 'organisations',
        access: { kind: 'public' },
        body: acceptBody,
        response: z.object({ organisation: z.object({ id: z.string(), role: roleSchema }) }),
        errors: ['TOKEN_INVALID', 'WEAK_PASSWORD', 'TERMS_NOT_ACCEPTED', 'INVALID_CREDENTIALS'],
      },
      async ({ body }) => {
        const accepted = await deps.organisationsService.accept({
          token: body.token,
          password: body.password,
          termsVersion: body.termsVersion,
          ...(body.name === undefined ? {} : { name: body.name }),
        });
        return { organisation: { id: accepted.orgId, role: accepted.role } };
      },
    ),
  ];
}
