import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../common/errors.js';
import type { SessionRecord } from '../directory/sessions.repository.js';
import type { SignIn } from '../directory/sign-ins.repository.js';
import { parse, route, userOf } from './http.js';

export interface SessionsRoutesDeps {
  sessions: {
    listActive(userId: string): Promise<SessionRecord[]>;
    revoke(sessionId: string, userId: string, reason: 'user'): Promise<boolean>;
  };
  signIns: { listForUser(userId: string, limit: number): Promise<SignIn[]> };
}

const sessionParams = z.object({ id: z.uuid() });
const signInsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** `/me/sessions`: the user's live sessions, and ending any one of them at once (P9). */
export function mySessionsRoutes(deps: SessionsRoutesDeps): Router {
  const router = Router();

  router.get(
    '/',
    route(async (req, res) => {
      const sessions = await deps.sessions.listActive(userOf(req));
      res.json({
        sessions: sessions.map((s) => ({
          id: s.id,
          method: s.method,
          userAgent: s.userAgent,
          createdAt: s.createdAt.toISOString(),
          lastUsedAt: s.lastUsedAt.toISOString(),
          expiresAt: s.expiresAt.toISOString(),
          current: s.id === req.sessionId,
        })),
      });
    }),
  );

  router.delete(
    '/:id',
    route(async (req, res) => {
      const { id } = parse(sessionParams, req.params);
      // Someone else's session, or one already over, is simply not found.
      if (!(await deps.sessions.revoke(id, userOf(req), 'user'))) throw new AppError('NOT_FOUND');
      res.status(204).end();
    }),
  );

  return router;
}

/** `/me/sign-ins`: the user's own sign-in history, newest first (P11). */
export function mySignInsRoutes(deps: SessionsRoutesDeps): Router {
  const router = Router();
  router.get(
    '/',
    route(async (req, res) => {
      const { limit } = parse(signInsQuery, req.query);
      const signIns = await deps.signIns.listForUser(userOf(req), limit);
      res.json({
        signIns: signIns.map((s) => ({
          time: s.createdAt.toISOString(),
          method: s.method,
          userAgent: s.userAgent,
          network: s.network,
        })),
      });
    }),
  );
  return router;
}
