import { Router } from 'express';
import { z } from 'zod';
import type { Organisation } from '../directory/organisations.repository.js';
import type { InvitationRequest } from '../directory/organisations.service.js';
import type { Role } from '../directory/users.repository.js';
import { parse, route, userOf } from './http.js';
import {
  emailAddress,
  invitableRole,
  organisationName,
  personName,
  postalAddress,
  region,
} from './identity.schemas.js';

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
const orgParams = z.object({ orgId: z.uuid() });
const inviteBody = z.strictObject({
  email: emailAddress,
  name: personName,
  role: invitableRole.default('member'),
});

/** Mounted at /api/v1/orgs behind sign-in: creating organisations and inviting people (P6). */
export function orgsRoutes(deps: OrgsRoutesDeps): Router {
  const router = Router();

  router.post(
    '/',
    route(async (req, res) => {
      const body = parse(createBody, req.body);
      const org = await deps.organisationsService.create(userOf(req), body);
      res.status(201).json({
        id: org.id,
        name: org.name,
        address: org.address,
        region: org.region,
        role: 'owner',
      });
    }),
  );

  router.post(
    '/:orgId/invitations',
    route(async (req, res) => {
      const { orgId } = parse(orgParams, req.params);
      const body = parse(inviteBody, req.body);
      const invitation = await deps.organisationsService.invite(userOf(req), orgId, body);
      // The link goes only to the invitee's mailbox; the caller learns when it expires.
      res.status(201).json({
        invitation: { role: invitation.role, expiresAt: invitation.expiresAt.toISOString() },
      });
    }),
  );

  return router;
}
