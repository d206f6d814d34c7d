import { z } from 'zod';
import { AppError } from '../../common/errors.js';
import type { SessionRecord } from '../../directory/sessions/sessions.repository.js';
import type { SignIn } from '../../directory/sessions/sign-ins.repository.js';
import { defineRoute, type Route } from '../http/route.js';

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
const signInMethod = z.enum(['password', 'oidc']);

/** The user's live sessions and ending any one at once (P9); their sign-in history (P11). */
export function sessionsRoutes(deps: SessionsRoutesDeps): Route[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/me/sessions',
        summary: "The user's live sessions; `current` marks the one of this access token",
        tag: 'sessions',
        access: { kind: 'user' },
        response: z.object({
          sessions: z.array(
            z.object({
              id: z.string(),
              method: signInMethod,
              userAgent: z.string().nullable(),
              createdAt: z.iso.datetime(),
              lastUsedAt: z.iso.datetime(),
              expiresAt: z.iso.datetime(),
              current: z.boolean(),
            }),
          ),
        }),
      },
      async ({ req, userId }) => {
        const sessions = await deps.sessions.listActive(userId);
        return {
          sessions: sessions.map((s) => ({
            id: s.id,
            method: s.method,
            userAgent: s.userAgent,
            createdAt: s.createdAt.toISOString(),
            lastUsedAt: s.lastUsedAt.toISOString(),
            expiresAt: s.expiresAt.toISOString(),
            current: s.id === req.sessionId,
          })),
        };
      },
    ),
    defineRoute(
      {
        method: 'delete',
        path: '/me/sessions/:id',
        summary: "End one of the user's sessions at once (P9); someone else's is not found",
        tag: 'sessions',
        access: { kind: 'user' },
        params: sessionParams,
        status: 204,
        errors: ['NOT_FOUND'],
      },
      async ({ userId, params }) => {
        // Someone else's session, or one already over, is simply not found.
        if (!(await deps.sessions.revoke(params.id, userId, 'user'))) {
          throw new AppError('NOT_FOUND');
        }
        return undefined;
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/me/sign-ins',
        summary:
          "The user's own sign-in history, newest first: time, method, browser family, network (P11)",
        tag: 'sessions',
        access: { kind: 'user' },
        query: signInsQuery,
        response: z.object({
          signIns: z.array(
            z.object({
              time: z.iso.datetime(),
              method: signInMethod,
              userAgent: z.string().nullable(),
              network: z.string().nullable(),
            }),
          ),
        }),
      },
      async ({ userId, query }) => {
        const signIns = await deps.signIns.listForUser(userId, query.limit);
        return {
          signIns: signIns.map((s) => ({
            time: s.createdAt.toISOString(),
            method: s.method,
            userAgent: s.userAgent,
            network: s.network,
          })),
        };
      },
    ),
  ];
}
