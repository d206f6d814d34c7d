import { randomBytes, randomUUID } from 'node:crypto';
import { InvitationsRepository } from '../../directory/organisations/invitations.repository.js';
import type { Role } from '../../directory/organisations/roles.js';
import type { TestPlatform } from './platform.js';

/** Who may call an operation: the `x-telemoat-access` extension of the OpenAPI document. */
export type Access =
  | { kind: 'public' }
  | { kind: 'user' }
  | { kind: 'org'; minRole: Role }
  | { kind: 'platform'; role: string };

interface JsonSchemaObject {
  type?: string;
  properties?: Record<string, unknown>;
  required?: string[];
}

/** One operation of /api/openapi.json, with what the tests need of it. */
export interface ApiOperation {
  method: string;
  /** The OpenAPI path, e.g. `/api/v1/orgs/{orgId}/devices`. */
  path: string;
  operationId: string;
  access: Access;
  pathParams: string[];
  queryParams: { name: string; required: boolean; schema: unknown }[];
  body?: { required: boolean; schema: JsonSchemaObject };
  /** The status codes the document lists, with the error codes each description names. */
  responses: Map<number, string>;
  /** Answers with a stream (CSV, NDJSON, Server-Sent Events) rather than one JSON body. */
  streams: boolean;
}

interface RawOperation {
  operationId: string;
  'x-telemoat-access': Access;
  parameters: { name: string; in: 'path' | 'query'; required: boolean; schema: unknown }[];
  requestBody?: {
    required: boolean;
    content: { 'application/json': { schema: JsonSchemaObject } };
  };
  responses: Record<string, { description: string; content?: Record<string, unknown> }>;
}

/** Every operation the API's own OpenAPI document lists: the route registry, as served. */
export async function apiOperations(platform: TestPlatform): Promise<ApiOperation[]> {
  const { status, body } = await platform.get('/api/openapi.json');
  if (status !== 200) throw new Error(`/api/openapi.json answered ${status}`);
  const paths = (body as { paths: Record<string, Record<string, RawOperation>> }).paths;
  return Object.entries(paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      operationId: op.operationId,
      access: op['x-telemoat-access'],
      pathParams: op.parameters.filter((p) => p.in === 'path').map((p) => p.name),
      queryParams: op.parameters.filter((p) => p.in === 'query'),
      ...(op.requestBody
        ? {
            body: {
              required: op.requestBody.required,
              schema: op.requestBody.content['application/json'].schema,
            },
          }
        : {}),
      responses: new Map(Object.entries(op.responses).map(([s, r]) => [Number(s), r.description])),
      streams: Object.values(op.responses).some((r) =>
        Object.keys(r.content ?? {}).some((type) => type !== 'application/json'),
      ),
    })),
  );
}

/** The fixtures an operation's request is built from. */
export interface Fixtures {
  platform: TestPlatform;
  orgId: string;
  deviceId: string;
  termsVersion: string;
  /** The caller, when signed in: some bodies need their password. */
  caller?: { password: string };
}

export interface RequestParts {
  path: string;
  query: Record<string, string> | URLSearchParams;
  body?: unknown;
}

const uniqueEmail = () => `matrix-${randomBytes(4).toString('hex')}@example.test`;
/** Shaped like a link token, but no link ever had it. */
export const unknownLinkToken = () => randomBytes(32).toString('base64url');

/**
 * A minimal valid request per operation where one needs more than its path: examples keyed by
 * operationId. An operation with a required body or query parameter and no example here fails
 * the tests that use it, with a message that says so.
 */
export const examples: Record<
  string,
  {
    query?: (f: Fixtures) => Record<string, string>;
    body?: (f: Fixtures) => unknown;
  }
> = {
  postAuthLogin: { body: () => ({ email: uniqueEmail(), password: 'not-the-password' }) },
  postAuthSignup: { body: () => ({ email: uniqueEmail() }) },
  postAuthSignupComplete: {
    body: (f) => ({
      token: unknownLinkToken(),
      name: 'Matrix Person',
      password: 'a-long-passphrase',
      termsVersion: f.termsVersion,
    }),
  },
  postAuthPasswordReset: { body: () => ({ email: uniqueEmail() }) },
  postAuthPasswordResetComplete: {
    body: () => ({ token: unknownLinkToken(), password: 'a-long-passphrase' }),
  },
  postAuthVerifyEmail: { body: () => ({ token: unknownLinkToken() }) },
  postInvitationsAccept: {
    body: (f) => ({
      token: unknownLinkToken(),
      password: 'a-long-passphrase',
      termsVersion: f.termsVersion,
    }),
  },
  patchMe: { body: () => ({ name: 'Matrix Person' }) },
  postMeEmail: { body: (f) => ({ email: uniqueEmail(), password: f.caller?.password }) },
  // The password stays what it was, so later requests of the same caller still sign in.
  postMePassword: {
    body: (f) => ({ currentPassword: f.caller?.password, newPassword: f.caller?.password }),
  },
  postOrgs: { body: () => ({ name: 'Matrix Organisation' }) },
  postOrgsOrgIdInvitations: {
    body: () => ({ email: uniqueEmail(), name: 'Invited Person', role: 'member' }),
  },
  postOrgsOrgIdDevices: { body: () => ({ name: 'Matrix device' }) },
  patchOrgsOrgIdDevicesDeviceId: { body: () => ({ name: 'Renamed device' }) },
  getOrgsOrgIdReadings: { query: (f) => ({ devices: f.deviceId, metric: 'temperature' }) },
  patchOrgsOrgIdMembersUserId: { body: () => ({ role: 'viewer' }) },
  putOrgsOrgIdMetricsMetric: { body: () => ({ unit: '°C', label: 'Temperature' }) },
};

/**
 * Path parameters from the fixtures. An operation that changes state gets a fresh device or
 * member of its own, so no request spoils the fixtures of the next one.
 */
async function pathParam(op: ApiOperation, name: string, f: Fixtures): Promise<string> {
  const changes = op.method !== 'GET';
  switch (name) {
    case 'orgId':
      return f.orgId;
    case 'deviceId':
      return changes ? (await f.platform.provisionDevice(f.orgId, 'Fresh device')).id : f.deviceId;
    case 'userId':
      return (await f.platform.createMember(f.orgId, 'member')).userId;
    case 'invitationId': {
      // A pending member invitation (an operator's, so no inviter's rights limit it): one that
      // every admin may revoke.
      const invitee = await f.platform.createMember((await f.platform.createOrg('Invitee Ltd')).id);
      const invitation = await new InvitationsRepository(f.platform.adminPool).create({
        orgId: f.orgId,
        userId: invitee.userId,
        role: 'member',
        invitedBy: null,
        ttlSeconds: 3600,
      });
      return invitation.id;
    }
    case 'metric':
      return 'temperature';
    case 'id':
      return randomUUID();
    case 'provider':
      return 'no-such-provider';
    default:
      throw new Error(`${op.operationId}: no fixture for the path parameter ${name}`);
  }
}

/** A minimal valid request for the operation. */
export async function exampleRequest(op: ApiOperation, f: Fixtures): Promise<RequestParts> {
  let path = op.path;
  for (const name of op.pathParams) {
    path = path.replace(`{${name}}`, encodeURIComponent(await pathParam(op, name, f)));
  }
  const example = examples[op.operationId];
  const query = example?.query?.(f) ?? {};
  const missing = op.queryParams.filter((p) => p.required && !(p.name in query));
  if (missing.length > 0) {
    throw new Error(
      `${op.operationId}: add an example with the query parameters ${missing.map((p) => p.name).join(', ')}`,
    );
  }
  if (op.body?.required && !example?.body && (op.body.schema.required ?? []).length > 0) {
    throw new Error(`${op.operationId}: add an example body`);
  }
  const body = example?.body ? example.body(f) : op.body?.required ? {} : undefined;
  return { path, query, ...(body === undefined ? {} : { body }) };
}

export interface Answer {
  status: number;
  /** The parsed JSON body; undefined for streams and empty answers. */
  body: unknown;
}

/**
 * Sends one request. Streamed answers (CSV, NDJSON, Server-Sent Events) are judged by their
 * status and headers, and closed without reading them to the end.
 */
export async function send(
  platform: TestPlatform,
  method: string,
  parts: RequestParts,
  token?: string,
  /** A body sent as it is instead of `parts.body` as JSON, with its Content-Encoding. */
  raw?: { body: string | Uint8Array; encoding?: string },
): Promise<Answer> {
  const search = new URLSearchParams(parts.query).toString();
  const url = `${platform.apiUrl}${parts.path}${search ? `?${search}` : ''}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  try {
    const body = raw?.body ?? (parts.body === undefined ? undefined : JSON.stringify(parts.body));
    const response = await fetch(url, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(raw?.encoding ? { 'content-encoding': raw.encoding } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body }),
      signal: controller.signal,
      redirect: 'manual',
    });
    const type = response.headers.get('content-type') ?? '';
    if (!type.startsWith('application/json')) {
      await response.body?.cancel();
      return { status: response.status, body: undefined };
    }
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  } finally {
    clearTimeout(timer);
  }
}

/** Whether an error answer has the documented shape, and a code its operation documents. */
export function errorShapeProblem(op: ApiOperation, answer: Answer): string | null {
  const body = answer.body as { code?: unknown; message?: unknown } | undefined;
  if (typeof body?.code !== 'string' || typeof body.message !== 'string') {
    return `answered ${answer.status} without { code, message }: ${JSON.stringify(answer.body)}`;
  }
  const documented = op.responses.get(answer.status) ?? '';
  if (!documented.includes(`\`${body.code}\``)) {
    return `answered ${answer.status} ${body.code}, which its OpenAPI responses do not list`;
  }
  return null;
}
