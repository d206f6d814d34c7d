import { z } from 'zod';
import {
  printedTimePattern,
  type MemberPosition,
} from '../../directory/organisations/members.repository.js';
import type { Actor, Member } from '../../directory/organisations/members.service.js';
import { hasRole, roleSchema, type Role } from '../../directory/organisations/roles.js';
import { decodeCursor, pageOf } from '../http/page-cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { orgParams, pageQuery } from '../http/params.js';

export interface MembersRoutesDeps {
  membersService: {
    page(orgId: string, page: { limit: number; after?: MemberPosition }): Promise<Member[]>;
    changeRole(actor: Actor, orgId: string, userId: string, role: Role): Promise<Role>;
    remove(actor: Actor, orgId: string, userId: string): Promise<void>;
    deleteAccount(actor: Actor, orgId: string, userId: string): Promise<void>;
  };
}

const memberParams = orgParams.extend({ userId: z.uuid() });
const memberPosition = z.tuple([z.string().regex(printedTimePattern), z.uuid()]);
const member = z.object({
  userId: z.string(),
  name: z.string().nullable(),
  role: roleSchema,
  joinedAt: z.iso.datetime(),
  /** Only for owners and admins: the others see names and roles, not addresses. */
  email: z.string().nullable().optional(),
  /** Only for owners and admins: whether they may delete the account (P6). */
  accountCreatedByOrganisation: z.boolean().optional(),
});

/**
 * The organisation's members (P6). Every member sees who else is in the organisation by name
 * and role; e-mail addresses only its owners and admins, who manage membership.
 */
export function membersRoutes(deps: MembersRoutesDeps): Route[] {
  /** Ends a membership; with `account`, deletes the member's whole account too (P6). */
  const leaveRoute = (what: 'membership' | 'account') =>
    defineRoute(
      {
        method: 'delete',
        path: `/orgs/:orgId/members/:userId${what === 'account' ? '/account' : ''}`,
        summary:
          what === 'account'
            ? "Delete a member's whole account: only one the organisation's invitation created and that belongs to no other organisation (P6)"
            : 'Remove a member from the organisation; the account stays',
        tag: 'members',
        access: { kind: 'org', minRole: 'admin' },
        params: memberParams,
        status: 204,
        errors: ['CONFLICT'],
      },
      async ({ org, params, userId }) => {
        const end = what === 'account' ? 'deleteAccount' : 'remove';
        await deps.membersService[end]({ userId }, org.orgId, params.userId);
        return undefined;
      },
    );

  return [
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/members',
        summary: "The organisation's members; e-mail addresses for owners and admins only",
        tag: 'members',
        access: { kind: 'org', minRole: 'viewer' },
        params: orgParams,
        query: pageQuery,
        response: z.object({ members: z.array(member), nextCursor: z.string().nullable() }),
      },
      async ({ org, query }) => {
        const after = query.cursor ? decodeCursor(memberPosition, query.cursor) : undefined;
        const rows = await deps.membersService.page(org.orgId, {
          limit: query.limit + 1,
          ...(after ? { after: { joinedAt: after[0], userId: after[1] } } : {}),
        });
        const page = pageOf(rows, query.limit, (m) => [m.position, m.userId]);
        const manages = hasRole(org.role, 'admin');
        return {
          members: page.items.map((m) => ({
            userId: m.userId,
            name: m.name,
            role: m.role,
            joinedAt: m.joinedAt.toISOString(),
            ...(manages
              ? { email: m.email, accountCreatedByOrganisation: m.accountCreatedByOrganisation }
              : {}),
          })),
          nextCursor: page.nextCursor,
        };
      },
    ),
    defineRoute(
      {
        method: 'patch',
        path: '/orgs/:orgId/members/:userId',
        summary:
          "Change a member's role; only owners make or change owners, and the last owner stays",
        tag: 'members',
        access: { kind: 'org', minRole: 'admin' },
        params: memberParams,
        body: z.strictObject({ role: roleSchema }),
        response: z.object({ userId: z.string(), role: roleSchema }),
        errors: ['CONFLICT'],
      },
      async ({ org, params, body, userId }) => ({
        userId: params.userId,
        role: await deps.membersService.changeRole({ userId }, org.orgId, params.userId, body.role),
      }),
    ),
    leaveRoute('membership'),
    leaveRoute('account'),
  ];
}
