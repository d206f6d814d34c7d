import type { Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import { AppError, type ErrorCode } from '../../common/errors.js';
import { hasRole, type Role } from '../../directory/organisations/roles.js';
import type { PlatformRole } from '../../directory/security/platform-roles.repository.js';
import { parse } from './http.js';

/** Who may call a route. Organisation routes resolve the caller's membership from Postgres. */
export type Access =
  | { kind: 'public' }
  | { kind: 'user' }
  | { kind: 'org'; minRole: Role }
  | { kind: 'platform'; role: PlatformRole };

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * One operation of the API. Its zod schemas are the single source of truth: the same objects
 * validate requests, shape responses and generate the OpenAPI document.
 */
export interface RouteSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
> {
  method: Method;
  /** Express-style path below `/api/v1`, e.g. `/orgs/:orgId/devices`. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: P;
  query?: Q;
  body?: B;
  /** The JSON body of the success answer; absent for 204 and for streamed answers. */
  response?: R;
  /** Success status; 200 unless said otherwise. */
  status?: number;
  /** Content type of a streamed success answer (CSV, NDJSON, SSE, a redirect's HTML). */
  produces?: string[];
  /** Error codes this route answers with, beyond those every route of its access kind has. */
  errors?: ErrorCode[];
}

export interface OrgContext {
  orgId: string;
  role: Role;
  tenantKey: string;
}

export interface RouteContext<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  req: Request;
  res: Response;
  params: z.output<P>;
  query: z.output<Q>;
  body: z.output<B>;
  /** Set for every access kind but `public`. */
  userId: string;
  /** Set for `org` access: the caller's role and the organisation's tenant pseudonym. */
  org: OrgContext;
}

type Handler<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, R extends z.ZodType> = (
  context: RouteContext<P, Q, B>,
) => Promise<z.input<R> | undefined>;

export interface Route {
  spec: RouteSpec;
  handler: Handler<z.ZodType, z.ZodType, z.ZodType, z.ZodType>;
}

export function defineRoute<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
>(spec: RouteSpec<P, Q, B, R>, handler: Handler<P, Q, B, R>): Route {
  return { spec, handler: handler };
}

export interface MountDeps {
  requireUser: RequestHandler;
  membership(orgId: string, userId: string): Promise<{ role: Role; tenantKey: string } | null>;
  hasPlatformRole(userId: string, role: PlatformRole): Promise<boolean>;
}

const orgIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Resolves the caller's right to an organisation route. A non-member, and an id that is not an
 * organisation at all, both get 404: ids of other organisations reveal nothing.
 */
async function orgContext(deps: MountDeps, req: Request, minRole: Role, userId: string) {
  const orgId = req.params.orgId;
  if (typeof orgId !== 'string' || !orgIdPattern.test(orgId)) throw new AppError('NOT_FOUND');
  const membership = await deps.membership(orgId, userId);
  if (!membership) throw new AppError('NOT_FOUND');
  if (!hasRole(membership.role, minRole)) throw new AppError('FORBIDDEN');
  return { orgId, ...membership };
}

function run(route: Route, deps: MountDeps): RequestHandler {
  const { spec } = route;
  return (req, res, next) => {
    const work = async () => {
      const userId = req.userId ?? '';
      if (
        spec.access.kind === 'platform' &&
        !(await deps.hasPlatformRole(userId, spec.access.role))
      ) {
        throw new AppError('FORBIDDEN');
      }
      const org =
        spec.access.kind === 'org'
          ? await orgContext(deps, req, spec.access.minRole, userId)
          : (undefined as unknown as OrgContext);
      const result = await route.handler({
        req,
        res,
        params: spec.params ? parse(spec.params, req.params) : {},
        query: spec.query ? parse(spec.query, req.query) : {},
        body: spec.body ? parse(spec.body, req.body) : undefined,
        userId,
        org,
      });
      if (res.headersSent) return;
      const status = spec.status ?? 200;
      if (spec.response) {
        // Parsing the answer strips anything the contract does not name.
        res.status(status).json(spec.response.parse(result));
      } else {
        res.status(status).end();
      }
    };
    work().catch(next);
  };
}

/** Registers every route on `router`, each behind the access check its spec names. */
export function mountRoutes(router: Router, routes: readonly Route[], deps: MountDeps): void {
  for (const route of routes) {
    const guards = route.spec.access.kind === 'public' ? [] : [deps.requireUser];
    router[route.spec.method](route.spec.path, ...guards, run(route, deps));
  }
}
