import express, { type Express } from 'express';
import { AppError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { Role } from '../directory/organisations/roles.js';
import { authRoutes, type AuthRoutesDeps } from './auth/auth.routes.js';
import { devicesRoutes, type DevicesRoutesDeps } from './devices/devices.routes.js';
import { readingsRoutes, type ReadingsRoutesDeps } from './readings/readings.routes.js';
import { exportRoutes, type ExportRoutesDeps } from './export/export.routes.js';
import { errorHandler, requestContext, requireUser } from './http/http.js';
import { invitationsRoutes, type InvitationsRoutesDeps } from './orgs/invitations.routes.js';
import { liveRoutes, type LiveRoutesDeps } from './live/live.routes.js';
import { StreamGuard, type StreamLimits } from './live/stream-guard.js';
import { meRoutes, type MeRoutesDeps } from './account/me.routes.js';
import { membersRoutes, type MembersRoutesDeps } from './orgs/members.routes.js';
import { metricsRoutes, type MetricsRoutesDeps } from './readings/metrics.routes.js';
import { compression, noStore, staticCaching } from './http/middleware/caching.middleware.js';
import { healthRoutes, type ReadinessChecks } from './http/middleware/health.middleware.js';
import {
  rateLimitPerIp,
  rateLimitPerUser,
  TokenBuckets,
} from './http/middleware/rate-limit.middleware.js';
import { securityHeaders } from './http/middleware/security-headers.middleware.js';
import { docsContentSecurityPolicy, errorMeanings, renderDocsPage } from './http/docs.page.js';
import { buildOpenApi } from './http/openapi.js';
import { mountRoutes, type Route } from './http/route.js';
import { orgsRoutes, type OrgsRoutesDeps } from './orgs/orgs.routes.js';
import { securityRoutes, type SecurityRoutesDeps } from './security/security.routes.js';
import { sessionsRoutes, type SessionsRoutesDeps } from './account/sessions.routes.js';
import { signupRoutes, type SignupRoutesDeps } from './auth/signup.routes.js';
import { passwordResetRoutes, type PasswordResetRoutesDeps } from './auth/password-reset.routes.js';
import { refuseForbiddenKey } from '../common/json.js';

/** The largest JSON body, after decompression: every request body the API takes is small. */
export const API_BODY_LIMIT_BYTES = 64 * 1024;

/** What the route factories need; the stream guard among them is built by buildApi. */
type RoutesDeps = AuthRoutesDeps &
  MembershipDeps &
  DevicesRoutesDeps &
  ReadingsRoutesDeps &
  MetricsRoutesDeps &
  MembersRoutesDeps &
  ExportRoutesDeps &
  LiveRoutesDeps &
  MeRoutesDeps &
  SignupRoutesDeps &
  PasswordResetRoutesDeps &
  InvitationsRoutesDeps &
  OrgsRoutesDeps &
  SessionsRoutesDeps &
  SecurityRoutesDeps;

export type ApiDeps = Omit<RoutesDeps, 'streams'> &
  HttpBehaviourDeps & {
    logger: Logger;
    /** Folder with the built dashboard; served at `/` when given. */
    dashboardDir?: string;
  };

/** What the app-level middleware needs: see api/middleware/. */
interface HttpBehaviourDeps {
  /** `/readyz` answers 200 only when each of these resolves in time. */
  readiness: ReadinessChecks;
  rateLimits: { perIpPerMinute: number; perUserPerMinute: number };
  /** Whether the platform is reached over https (PUBLIC_URL): turns HSTS on. */
  https: boolean;
  /** Re-checks and caps of open streams; each unset one keeps its default. */
  streamLimits?: Partial<StreamLimits>;
}

interface MembershipDeps {
  organisations: {
    membership(orgId: string, userId: string): Promise<{ role: Role; tenantKey: string } | null>;
  };
}

const API_INFO = { title: 'Telemoat API', version: '1' };

/**
 * Every operation of the API. Route factories only capture their dependencies and read them
 * while handling a request, so the routes can be listed without any store behind them.
 */
export function apiRoutes(deps: RoutesDeps): Route[] {
  return [
    ...authRoutes(deps),
    ...signupRoutes(deps),
    ...passwordResetRoutes(deps),
    ...invitationsRoutes(deps),
    ...meRoutes(deps),
    ...sessionsRoutes(deps),
    ...securityRoutes(deps),
    ...orgsRoutes(deps),
    ...devicesRoutes(deps),
    ...readingsRoutes(deps),
    ...metricsRoutes(deps),
    ...membersRoutes(deps),
    ...exportRoutes(deps),
    ...liveRoutes(deps),
  ];
}

/**
 * The OpenAPI document, built from the route specs alone: the dependencies given to the
 * factories refuse every use, which proves that listing the routes touches none of them.
 */
export function openApiDocument(): ReturnType<typeof buildOpenApi> {
  const refuse = new Proxy({} as RoutesDeps, {
    get(_target, key) {
      throw new Error(`the route list read dependency ${String(key)} while being built`);
    },
  });
  return buildOpenApi(apiRoutes(refuse), API_INFO);
}

/** Builds the HTTP app from its dependencies; `bin/api.ts` alone creates them and listens. */
export function buildApi(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // Deliberate: weak ETags on GET answers (valid through compression); If-None-Match gives 304.
  app.set('etag', 'weak');
  app.use(requestContext(deps.logger.child({ module: 'api' })));
  app.use(securityHeaders({ https: deps.https }));
  // Orchestrators' probes are neither limited nor compressed.
  app.use(healthRoutes(deps.readiness));
  app.use(rateLimitPerIp(new TokenBuckets({ perMinute: deps.rateLimits.perIpPerMinute })));
  app.use(compression());
  app.use('/api', noStore());
  app.use(express.json({ limit: API_BODY_LIMIT_BYTES, reviver: refuseForbiddenKey }));

  // Verifies the access token, then charges the user's own rate-limit bucket.
  const authenticate = rateLimitPerUser(
    requireUser(deps.tokens),
    new TokenBuckets({ perMinute: deps.rateLimits.perUserPerMinute }),
  );
  // One guard for every long-lived answer: it re-checks open streams and caps live ones.
  const streams = new StreamGuard({
    tokens: deps.tokens,
    organisations: deps.organisations,
    logger: deps.logger,
    ...(deps.streamLimits ? { limits: deps.streamLimits } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const v1 = express.Router();
  const routes = apiRoutes({ ...deps, streams });
  mountRoutes(v1, routes, {
    requireUser: authenticate,
    membership: (orgId, userId) => deps.organisations.membership(orgId, userId),
    hasPlatformRole: (userId, role) => deps.platformRoles.has(userId, role),
  });
  app.use('/api/v1', v1);
  const openApi = buildOpenApi(routes, API_INFO);
  app.get('/api/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  const docsPage = renderDocsPage(openApi, errorMeanings());
  app.get('/api/docs', (_req, res) => {
    res.setHeader('content-security-policy', docsContentSecurityPolicy);
    res.type('html').send(docsPage);
  });
  app.use('/api', (_req, _res, next) => next(new AppError('NOT_FOUND')));

  if (deps.dashboardDir) {
    const dashboardDir = deps.dashboardDir;
    app.use(express.static(dashboardDir, { index: 'index.html', ...staticCaching }));
    // The dashboard routes on the client: a page path (no file extension) that is not a file
    // answers index.html, so links such as /verify-email#token=… and reloads work.
    app.get(/^\/(?!api\/)[^.]*$/, (req, res, next) => {
      if (!req.accepts('html')) return next();
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile('index.html', { root: dashboardDir }, (err) => {
        // Not built (`npm run build`): a plain 404 rather than a server error.
        if (err) next((err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : err);
      });
    });
  }
  app.use(errorHandler());
  return app;
}
