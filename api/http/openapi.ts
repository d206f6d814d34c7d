import { z } from 'zod';
import { errorCatalogue, type ErrorCode } from '../../common/errors.js';
import type { Access, Route } from './route.js';

type JsonSchema = Record<string, unknown>;

/** Errors every route of an access kind can answer with, on top of those it names itself. */
const errorsByAccess: Record<Access['kind'], ErrorCode[]> = {
  public: [],
  user: ['UNAUTHENTICATED'],
  org: ['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND'],
  platform: ['UNAUTHENTICATED', 'FORBIDDEN'],
};

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  // OpenAPI 3.1 embeds JSON Schema 2020-12 as is, without the `$schema` marker.
  const document: JsonSchema = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  delete document.$schema;
  return document;
}

/** Path and query parameters from an object schema, one OpenAPI parameter per key. */
function parameters(schema: z.ZodType | undefined, location: 'path' | 'query') {
  if (!schema) return [];
  const object = jsonSchema(schema, 'input') as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (object.required ?? []).includes(name),
    schema: property,
  }));
}

function errorResponses(codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = errorCatalogue[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      String(status),
      {
        description: list.map((code) => `\`${code}\`: ${errorCatalogue[code].message}`).join(' '),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    ]),
  );
}

/** `getOrgsOrgIdDevices` for `get /orgs/:orgId/devices`. */
export function operationIdOf(spec: Route['spec']): string {
  return `${spec.method}${spec.path.replace(/[/:{}-]+(\w)?/g, (_m, c: string = '') => c.toUpperCase())}`;
}

/** Descriptions of the tags the routes use; a tag without one is listed by name alone. */
const tagDescriptions: Record<string, string> = {
  auth: 'Signing in and out, refreshing tokens, OpenID Connect (P8, P9, P10).',
  signup: 'Sign-up with e-mail verification (P5).',
  me: "The signed-in user's own account (P11, P14, P15, P16).",
  sessions: "The user's live sessions and sign-in history (P9, P11).",
  security: "The security log, for the platform's security role (P10).",
  organisations: 'Organisations and invitations (P6).',
  devices: "An organisation's devices (P2).",
  readings: "Devices' readings, joined with their names for members only (P2).",
  metrics: "The organisation's metric catalogue: names its devices report, its units and labels.",
  members: "The organisation's members and their roles (P6).",
};

function operation(route: Route) {
  const { spec } = route;
  const status = String(spec.status ?? 200);
  // The body parser stands before every route whose method carries a body, declared or not.
  const parsesBody = spec.method !== 'get';
  const inputs = spec.params ?? spec.query ?? spec.body ?? parsesBody;
  const codes: ErrorCode[] = [
    ...errorsByAccess[spec.access.kind],
    ...(inputs ? (['VALIDATION_FAILED'] as const) : []),
    ...(parsesBody ? (['PAYLOAD_TOO_LARGE'] as const) : []),
    ...(spec.errors ?? []),
    // The per-address and per-user rate limits stand before every route.
    'RATE_LIMITED',
    'INTERNAL',
    'SERVICE_UNAVAILABLE',
  ];
  const success = spec.response
    ? { content: { 'application/json': { schema: jsonSchema(spec.response, 'output') } } }
    : spec.produces
      ? { content: Object.fromEntries(spec.produces.map((type) => [type, {}])) }
      : {};
  return {
    summary: spec.summary,
    tags: [spec.tag],
    operationId: operationIdOf(spec),
    /** Who may call it: the access check the route runs before its handler. */
    'x-telemoat-access': spec.access,
    ...(spec.access.kind === 'public' ? { security: [] } : {}),
    parameters: [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query')],
    ...(spec.body
      ? {
          requestBody: {
            required: !spec.body.safeParse(undefined).success,
            content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } },
          },
        }
      : {}),
    responses: {
      [status]: {
        description: spec.summary,
        ...(spec.status !== undefined && spec.status >= 300 && spec.status < 400
          ? {
              headers: {
                Location: { description: 'Where to go next.', schema: { type: 'string' } },
              },
            }
          : {}),
        ...success,
      },
      ...errorResponses([...new Set(codes)]),
    },
  };
}

/** The OpenAPI 3.1 document of the API, generated from the routes' own schemas. */
export function buildOpenApi(routes: readonly Route[], info: { title: string; version: string }) {
  const paths: Record<string, Record<string, ReturnType<typeof operation>>> = {};
  const operationIds = new Set<string>();
  for (const route of routes) {
    const id = operationIdOf(route.spec);
    if (operationIds.has(id)) throw new Error(`two routes are ${id}`);
    operationIds.add(id);
    const path = `/api/v1${route.spec.path.replace(/:(\w+)/g, '{$1}')}`;
    paths[path] = { ...paths[path], [route.spec.method]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    tags: [...new Set(routes.map((r) => r.spec.tag))].map((name) => ({
      name,
      ...(tagDescriptions[name] ? { description: tagDescriptions[name] } : {}),
    })),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', enum: Object.keys(errorCatalogue) },
            message: { type: 'string' },
            details: {},
          },
        },
      },
    },
  };
}
