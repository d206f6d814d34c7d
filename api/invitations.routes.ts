import { Router } from 'express';
import { z } from 'zod';
import type { AcceptInvitationRequest } from '../directory/organisations.service.js';
import type { Role } from '../directory/users.repository.js';
import { parse, route } from './http.js';
import { newPassword, oneTimeToken, personName, termsVersion } from './identity.schemas.js';

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

/** Mounted at /api/v1/invitations, before sign-in is required: the invitee has no session. */
export function invitationsRoutes(deps: InvitationsRoutesDeps): Router {
  const router = Router();
  router.post(
    '/accept',
    route(async (req, res) => {
      const body = parse(acceptBody, req.body);
      const accepted = await deps.organisationsService.accept({
        token: body.token,
        password: body.password,
        termsVersion: body.termsVersion,
        ...(body.name === undefined ? {} : { name: body.name }),
      });
      res.json({ organisation: { id: accepted.orgId, role: accepted.role } });
    }),
  );
  return router;
}
