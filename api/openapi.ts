import { z } from 'zod';
import { errorCatalogue, type ErrorCode } from '../common/errors.js';
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

function operation(route: Route) {
  const { spec } = route;
  const status = String(spec.status ?? 200);
  const inputs = spec.params ?? spec.query ?? spec.body;
  const codes: ErrorCode[] = [
    ...errorsByAccess[spec.access.kind],
    ...(inputs ? (['VALIDATION_FAILED'] as const) : []),
    ...(spec.errors ?? []),
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
    operationId: `${spec.method}${spec.path.replace(/[/:{}-]+(\w)?/g, (_m, c: string = '') => c.toUpperCase())}`,
    ...(spec.access.kind === 'public' ? { security: [] } : {}),
    parameters: [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query')],
    ...(spec.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } },
          },
        }
      : {}),
    responses: {
      [status]: { description: spec.summary, ...success },
      ...errorResponses([...new Set(codes)]),
    },
  };
}

/** The OpenAPI 3.1 document of the API, generated from the routes' own schemas. */
export function buildOpenApi(routes: readonly Route[], info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = `/api/v1${route.spec.path.replace(/:(\w+)/g, '{$1}')}`;
    paths[path] = { ...paths[path], [route.spec.method]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
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
