import express, { type Express } from 'express';
import { AppError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Role } from '../directory/users.repository.js';
import { authRoutes, type AuthRoutesDeps } from './auth.routes.js';
import { devicesRoutes, type DevicesRoutesDeps } from './devices.routes.js';
import { errorHandler, requestContext, requireUser } from './http.js';
import { invitationsRoutes, type InvitationsRoutesDeps } from './invitations.routes.js';
import { meRoutes, type MeRoutesDeps } from './me.routes.js';
import { buildOpenApi } from './openapi.js';
import { mountRoutes } from './route.js';
import { orgsRoutes, type OrgsRoutesDeps } from './orgs.routes.js';
import { securityRoutes, type SecurityRoutesDeps } from './security.routes.js';
import { mySessionsRoutes, mySignInsRoutes, type SessionsRoutesDeps } from './sessions.routes.js';
import { signupRoutes, type SignupRoutesDeps } from './signup.routes.js';

export type ApiDeps = AuthRoutesDeps &
  MembershipDeps &
  DevicesRoutesDeps &
  MeRoutesDeps &
  SignupRoutesDeps &
  InvitationsRoutesDeps &
  OrgsRoutesDeps &
  SessionsRoutesDeps &
  SecurityRoutesDeps & {
    logger: Logger;
    /** Folder with the built dashboard; served at `/` when given. */
    dashboardDir?: string;
  };

interface MembershipDeps {
  organisations: {
    membership(orgId: string, userId: string): Promise<{ role: Role; tenantKey: string } | null>;
  };
}

/** Builds the HTTP app from its dependencies; `bin/api.ts` alone creates them and listens. */
export function buildApi(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestContext(deps.logger.child({ module: 'api' })));
  app.use(express.json({ limit: '64kb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  const v1 = express.Router();
  const routes = [...devicesRoutes(deps)];
  mountRoutes(v1, routes, {
    requireUser: requireUser(deps.tokens),
    membership: (orgId, userId) => deps.organisations.membership(orgId, userId),
    hasPlatformRole: (userId, role) => deps.platformRoles.has(userId, role),
  });
  v1.use('/auth', authRoutes(deps));
  v1.use('/auth', signupRoutes(deps));
  v1.use('/invitations', invitationsRoutes(deps));
  v1.use(requireUser(deps.tokens));
  v1.use('/me/sessions', mySessionsRoutes(deps));
  v1.use('/me/sign-ins', mySignInsRoutes(deps));
  v1.use('/security', securityRoutes(deps));
  v1.use('/me', meRoutes(deps));
  v1.use('/orgs', orgsRoutes(deps));
  app.use('/api/v1', v1);
  const openApi = buildOpenApi(routes, { title: 'Telemoat API', version: '1' });
  app.get('/api/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  app.use('/api', (_req, _res, next) => next(new AppError('NOT_FOUND')));

  if (deps.dashboardDir) app.use(express.static(deps.dashboardDir, { index: 'index.html' }));
  app.use(errorHandler());
  return app;
}
