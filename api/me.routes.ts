import { Router } from 'express';
import type { Membership } from '../directory/users.repository.js';
import { route, userOf } from './http.js';

export interface MeRoutesDeps {
  users: { memberships(userId: string): Promise<Membership[]> };
}

export function meRoutes(deps: MeRoutesDeps): Router {
  const router = Router();
  router.get(
    '/',
    route(async (req, res) => {
      const memberships = await deps.users.memberships(userOf(req));
      res.json({
        id: userOf(req),
        organisations: memberships.map((m) => ({ id: m.orgId, name: m.orgName, role: m.role })),
      });
    }),
  );
  return router;
}
