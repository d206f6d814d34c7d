import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../common/errors.js';
import type { SecurityEvent, SecurityEventType } from '../directory/security-events.repository.js';
import type { PlatformRole } from '../directory/platform-roles.repository.js';
import { parse, route, userOf } from './http.js';

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

const eventsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.iso.datetime({ offset: true }).optional(),
  type: z
    .enum([
      'signin_failed',
      'signin_throttled',
      'signin_succeeded',
      'refresh_token_reused',
      'oidc_failed',
    ])
    .optional(),
});

/** `/security/events`: the security log (P10), for holders of the platform's security role. */
export function securityRoutes(deps: SecurityRoutesDeps): Router {
  const router = Router();

  // Everyone else, signed in or not as a member anywhere, gets 403.
  router.use((req, _res, next) => {
    Promise.resolve()
      .then(() => deps.platformRoles.has(userOf(req), 'security'))
      .then((allowed) => next(allowed ? undefined : new AppError('FORBIDDEN')), next);
  });

  router.get(
    '/events',
    route(async (req, res) => {
      const query = parse(eventsQuery, req.query);
      const events = await deps.securityEvents.list({
        limit: query.limit,
        ...(query.before ? { before: new Date(query.before) } : {}),
        ...(query.type ? { type: query.type } : {}),
      });
      res.json({
        events: events.map((e) => ({
          id: e.id,
          type: e.type,
          time: e.createdAt.toISOString(),
          ip: e.ip,
          accountKey: e.accountKey,
          userId: e.userId,
        })),
      });
    }),
  );

  return router;
}
