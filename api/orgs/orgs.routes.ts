import { z } from 'zod';
import type { InvitationPosition } from '../../directory/organisations/invitations.repository.js';
import { printedTimePattern } from '../../directory/organisations/members.repository.js';
import type { Actor } from '../../directory/organisations/members.service.js';
import { roleSchema } from '../../directory/organisations/roles.js';
import type { Organisation } from '../../directory/organisations/organisations.repository.js';
import type {
  InvitationRequest,
  PendingInvitation,
} from '../../directory/organisations/organisations.service.js';
import type { Role } from '../../directory/organisations/roles.js';
import {
  emailAddress,
  organisationName,
  personName,
  postalAddress,
  region,
} from '../http/identity.schemas.js';
import { decodeCursor, pageOf } from '../http/page-cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { orgParams, pageQuery } from '../http/params.js';

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
    ): Promise<{ id: string; expiresAt: Date; role: Role }>;
    invitations(
      orgId: string,
      page: { limit: number; after?: InvitationPosition },
    ): Promise<PendingInvitation[]>;
    revokeInvitation(actor: Actor, orgId: string, invitationId: string): Promise<void>;
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
const invitationParams = orgParams.extend({ invitationId: z.uuid() });
const invitationPosition = z.tuple([z.string().regex(printedTimePattern), z.uuid()]);
const pendingInvitation = z.object({
  id: z.string(),
  /** The address the organisation typed; not the invitee's name, which is theirs until they join. */
  email: z.string().nullable(),
  role: roleSchema,
  inviter: z.object({ userId: z.string(), name: z.string().nullable() }).nullable(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});

/** Creating organisations, inviting people into them and revoking invitations (P6). */
export function orgsRoutes(deps: OrgsRoutesDeps): Route[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/orgs',
        summary:
          'Create an organisation (name, optional address and region); the caller owns it. 409 once they own ORGS_PER_USER organisations',
        tag: 'organisations',
        access: { kind: 'user' },
        body: createBody,
        status: 201,
        errors: ['CONFLICT'],
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
          invitation: z.object({ id: z.string(), role: roleSchema, expiresAt: z.iso.datetime() }),
        }),
        errors: ['CONFLICT'],
      },
      async ({ userId, org, body }) => {
        // The service checks the inviter's role again, with the invited role in view.
        const invitation = await deps.organisationsService.invite(userId, org.orgId, body);
        // The link goes only to the invitee's mailbox; the caller learns its id and expiry.
        return {
          invitation: {
            id: invitation.id,
            role: invitation.role,
            expiresAt: invitation.expiresAt.toISOString(),
          },
        };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/invitations',
        summary:
          "The organisation's pending invitations, oldest first: address, role, inviter, when sent and when they expire",
        tag: 'organisations',
        // Those who may invite (mayInvite): owners and admins.
        access: { kind: 'org', minRole: 'admin' },
        params: orgParams,
        query: pageQuery,
        response: z.object({
          invitations: z.array(pendingInvitation),
          nextCursor: z.string().nullable(),
        }),
      },
      async ({ org, query }) => {
        const after = query.cursor ? decodeCursor(invitationPosition, query.cursor) : undefined;
        const rows = await deps.organisationsService.invitations(org.orgId, {
          limit: query.limit + 1,
          ...(after ? { after: { createdAt: after[0], id: after[1] } } : {}),
        });
        const page = pageOf(rows, query.limit, (i) => [i.position, i.id]);
        return {
          invitations: page.items.map((i) => ({
            id: i.id,
            email: i.email,
            role: i.role,
            inviter: i.inviter,
            createdAt: i.createdAt.toISOString(),
            expiresAt: i.expiresAt.toISOString(),
          })),
          nextCursor: page.nextCursor,
        };
      },
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/orgs/:orgId/invitations/:invitationId',
        summary:
          'Revoke a pending invitation: its link stops working at once (only owners revoke invitations of owners)',
        tag: 'organisations',
        access: { kind: 'org', minRole: 'admin' },
        params: invitationParams,
        status: 204,
      },
      async ({ userId, org, params }) => {
        await deps.organisationsService.revokeInvitation(
          { userId },
          org.orgId,
          params.invitationId,
        );
        return undefined;
      },
    ),
  ];
}
