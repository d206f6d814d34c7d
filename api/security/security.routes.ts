import { z } from 'zod';
import type { PlatformRole } from '../../directory/security/platform-roles.repository.js';
import {
  securityEventTypes,
  type SecurityEvent,
  type SecurityEventType,
} from '../../directory/security/security-events.repository.js';
import { defineRoute, type Route } from '../http/route.js';

export interface SecurityRoutesDeps {
  platformRoles: { has(userId: string, role: PlatformRole): Promise<boolean> };
  securityEvents: {
    list(options: {
      limit: number;
      before?: Date;
      type?: SecurityEventType;
    }): Promise<SecurityEvent[]>;
  };
}

const eventType = z.enum(securityEventTypes);

const eventsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.iso.datetime({ offset: true }).optional(),
  type: eventType.optional(),
});

/**
 * The security log (P10), for holders of the platform's security role; everyone else, signed
 * in or not and a member anywhere or not, gets 403.
 */
export function securityRoutes(deps: SecurityRoutesDeps): Route[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/security/events',
        summary: "The security log, newest first (P10); for the platform's security role only",
        tag: 'security',
        access: { kind: 'platform', role: 'security' },
        query: eventsQuery,
        response: z.object({
          events: z.array(
            z.object({
              id: z.string(),
              type: eventType,
              time: z.iso.datetime(),
              ip: z.string().nullable(),
              /** Keyed hash of the e-mail address as typed; never the address. */
              accountKey: z.string().nullable(),
              userId: z.string().nullable(),
            }),
          ),
        }),
      },
      async ({ query }) => {
        const events = await deps.securityEvents.list({
          limit: query.limit,
          ...(query.before ? { before: new Date(query.before) } : {}),
          ...(query.type ? { type: query.type } : {}),
        });
        return {
          events: events.map((e) => ({
            id: e.id,
            type: e.type,
            time: e.createdAt.toISOString(),
            ip: e.ip,
            accountKey: e.accountKey,
            userId: e.userId,
          })),
        };
      },
    ),
  ];
}
