import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../api/app.js';
import { TokenService } from '../../api/auth/token.service.js';
import type { Access } from '../../api/http/route.js';
import { fakePasswordHash } from '../../directory/accounts/accounts.fake.js';
import type { Organisation } from '../../directory/organisations/organisations.repository.js';
import { roles, type Role } from '../../directory/organisations/roles.js';
import {
  TERMS_VERSION,
  type Answer,
  type SeededDevice,
  type SeededMember,
  type SeededUser,
  useApiApp,
} from '../support/api-app.js';

/** One operation of the OpenAPI document, with what these tests need of it. */
interface Operation {
  name: string;
  operationId: string;
  method: string;
  /** Below /api/v1, with `{param}` placeholders. */
  path: string;
  access: Access;
  pathParams: string[];
  queryParams: string[];
  /** The success answer is a stream that does not end by itself (Server-Sent Events). */
  endless: boolean;
  /** Status → the description, which names each error code the status stands for. */
  responses: Map<number, string>;
}

const operations: Operation[] = Object.entries(openApiDocument().paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, op]) => ({
    name: `${method.toUpperCase()} ${path}`,
    operationId: op.operationId,
    method: method.toUpperCase(),
    path: path.replace(/^\/api\/v1/, ''),
    access: op['x-telemoat-access'],
    pathParams: op.parameters.filter((p) => p.in === 'path').map((p) => p.name),
    queryParams: op.parameters.filter((p) => p.in === 'query').map((p) => p.name),
    endless: Object.values(op.responses).some((r) =>
      Object.keys((r as { content?: object }).content ?? {}).includes('text/event-stream'),
    ),
    responses: new Map(Object.entries(op.responses).map(([s, r]) => [Number(s), r.description])),
  })),
);

const ofKind = (kind: Access['kind']) => operations.filter((op) => op.access.kind === kind);
const minRoleOf = (op: Operation): Role =>
  op.access.kind === 'org' ? op.access.minRole : 'viewer';
const unique = () => `access-${randomBytes(4).toString('hex')}@example.test`;

/**
 * A minimal valid request per operation that needs more than its path, by operationId. An
 * operation added to the API without one here fails the first test below, by name.
 */
const examples: Record<string, { query?: Record<string, string>; body?: () => unknown }> = {
  postAuthLogin: { body: () => ({ email: unique(), password: 'not-the-password' }) },
  postAuthRefresh: {},
  postAuthLogout: {},
  postAuthLogoutAll: {},
  postAuthSignup: { body: () => ({ email: unique() }) },
  postAuthSignupComplete: {
    body: () => ({
      token: randomBytes(32).toString('base64url'),
      name: 'Access Person',
      password: 'a-long-passphrase',
      termsVersion: TERMS_VERSION,
    }),
  },
  postAuthPasswordReset: { body: () => ({ email: unique() }) },
  postAuthPasswordResetComplete: {
    body: () => ({ token: randomBytes(32).toString('base64url'), password: 'a-long-passphrase' }),
  },
  postAuthVerifyEmail: { body: () => ({ token: randomBytes(32).toString('base64url') }) },
  postInvitationsAccept: {
    body: () => ({
      token: randomBytes(32).toString('base64url'),
      password: 'a-long-passphrase',
      termsVersion: TERMS_VERSION,
    }),
  },
  patchMe: { body: () => ({ name: 'Renamed Person' }) },
  postMeEmail: { body: () => ({ email: unique(), password: 'correct horse battery staple' }) },
  // The password stays what it was, so later requests of the same caller still sign in.
  postMePassword: {
    body: () => ({
      currentPassword: 'correct horse battery staple',
      newPassword: 'correct horse battery staple',
    }),
  },
  postOrgs: { body: () => ({ name: 'Access Organisation' }) },
  postOrgsOrgIdInvitations: {
    body: () => ({ email: unique(), name: 'Invited Person', role: 'member' }),
  },
  postOrgsOrgIdDevices: { body: () => ({ name: 'Access device' }) },
  patchOrgsOrgIdDevicesDeviceId: { body: () => ({ name: 'Renamed device' }) },
  getOrgsOrgIdReadings: { query: { metric: 'temperature' } },
  patchOrgsOrgIdMembersUserId: { body: () => ({ role: 'viewer' }) },
  putOrgsOrgIdMetricsMetric: { body: () => ({ unit: '°C', label: 'Temperature' }) },
};

/** Answers the document does not list, each a known gap rather than a surprise. */
const undocumented = new Set([
  // The route answers 204 to a signed-out page load, but its spec only declares the 200 answer.
  'POST /api/v1/auth/refresh 204',
]);

describe('access: every operation of the OpenAPI document against every kind of caller', () => {
  const app = useApiApp();
  let org: Organisation;
  let device: SeededDevice;
  let foreignDevice: SeededDevice;
  const members = {} as Record<Role, SeededMember>;
  let outsider: SeededUser & { token: string };
  let officer: SeededUser & { token: string };

  /** Signs well-formed access tokens with a key that is not the API's. */
  let forger: TokenService;

  beforeAll(async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    forger = new TokenService({
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      issuer: 'telemoat',
      audience: 'telemoat-api',
      ttlSeconds: 900,
      sessions: { isActive: () => Promise.resolve(true) },
      logoutGraceSeconds: 2_592_000,
      now: app.clock.now,
    });
    org = await app.org('Access Greenhouses');
    device = await app.device(org, 'Greenhouse 1');
    app.readings(device, [{ metric: 'temperature', value: 20, time: app.clock.now() - 1000 }]);
    for (const role of roles) members[role] = await app.member(org.id, role);
    const neighbour = await app.org('Neighbour AB');
    await app.member(neighbour.id, 'owner');
    foreignDevice = await app.device(neighbour, 'Their sensor');
    // An owner elsewhere is nobody here.
    outsider = await app.outsider();
    await app.stores.organisations.addMember(neighbour.id, outsider.userId, 'owner');
    officer = await app.outsider();
    app.stores.platformRoles.grant(officer.userId, 'security');
  });

  /** A member the organisation's invitation created: one its admins may also delete. */
  async function invitedMember(role: Role): Promise<string> {
    const userId = await app.stores.users.create({
      email: unique(),
      displayName: 'Invited Member',
      passwordHash: fakePasswordHash('a-long-passphrase'),
      verified: true,
      origin: 'invitation',
      createdByOrgId: org.id,
    });
    await app.stores.organisations.addMember(org.id, userId, role);
    return userId;
  }

  interface Overrides {
    orgId?: string;
    deviceId?: string;
    devices?: string;
  }

  /** The operation's minimal request, with fresh things to change where it changes any. */
  async function requestOf(op: Operation, caller: SeededUser | undefined, overrides: Overrides) {
    const changes = op.method !== 'GET';
    let path = op.path;
    for (const name of op.pathParams) {
      const value = await (async () => {
        switch (name) {
          case 'orgId':
            return overrides.orgId ?? org.id;
          case 'deviceId':
            return (
              overrides.deviceId ?? (changes ? (await app.device(org, 'Fresh')).id : device.id)
            );
          case 'userId':
            return invitedMember('member');
          case 'invitationId':
            // A member invitation from the owner: one that every admin may revoke.
            return (
              await app.services.organisationsService.invite(members.owner.userId, org.id, {
                email: unique(),
                name: 'Invited Person',
                role: 'member',
              })
            ).id;
          case 'metric':
            return 'temperature';
          case 'id':
            // Another session of the caller: ending it leaves the caller's token working.
            return caller ? (await app.signInAs(caller.userId)).sessionId : randomUUID();
          case 'provider':
            return 'no-such-provider';
          default:
            throw new Error(`${op.name}: no fixture for the path parameter ${name}`);
        }
      })();
      path = path.replace(`{${name}}`, encodeURIComponent(value));
    }
    const example = examples[op.operationId];
    const query: Record<string, string> = { ...example?.query };
    if (
      op.queryParams.includes('devices') &&
      (overrides.devices || op.operationId === 'getOrgsOrgIdReadings')
    ) {
      query.devices = overrides.devices ?? device.id;
    }
    return { path, query, body: example?.body?.() };
  }

  async function call(
    op: Operation,
    caller?: SeededUser & { token?: string },
    overrides: Overrides & { token?: string } = {},
  ): Promise<Answer> {
    const { path, query, body } = await requestOf(op, caller, overrides);
    const token = overrides.token ?? caller?.token;
    const request = { query, body, ...(token ? { token } : {}) };
    if (!op.endless) return app.request(op.method, path, request);
    // A stream that is served never ends: judged by its status and type, then closed.
    const stream = await app.stream(path, request);
    const text = stream.status === 200 ? '' : await stream.rest();
    await stream.close();
    const json = (stream.headers.get('content-type') ?? '').startsWith('application/json');
    return {
      status: stream.status,
      headers: stream.headers,
      body: json && text ? (JSON.parse(text) as unknown) : undefined,
      text,
      cookies: [],
    };
  }

  /** Null when the answer is one the operation documents, with the documented error shape. */
  function documented(op: Operation, answer: Answer): string | null {
    if (undocumented.has(`${op.method} /api/v1${op.path} ${answer.status}`)) return null;
    const description = op.responses.get(answer.status);
    if (description === undefined) return `answered ${answer.status}, which it does not document`;
    if (answer.status < 400 || op.endless) return null;
    const code = (answer.body as { code?: unknown } | undefined)?.code;
    if (
      typeof code !== 'string' ||
      typeof (answer.body as { message?: unknown }).message !== 'string'
    ) {
      return `answered ${answer.status} without { code, message }: ${answer.text}`;
    }
    return description.includes(`\`${code}\``)
      ? null
      : `answered ${answer.status} ${code}, undocumented`;
  }

  function expectRefusal(op: Operation, answer: Answer, status: number, code: string) {
    expect({ operation: op.name, status: answer.status }).toEqual({ operation: op.name, status });
    expect(answer.body).toMatchObject({ code });
    expect(documented(op, answer)).toBeNull();
  }

  /** The handler ran and succeeded: 2xx, documented; a stream is of the type it declares. */
  function expectServed(op: Operation, answer: Answer, who: string) {
    const problem =
      answer.status >= 200 && answer.status < 300
        ? documented(op, answer)
        : `${answer.status} ${answer.text}`;
    expect(`${op.name} as ${who}: ${problem ?? 'served'}`).toBe(`${op.name} as ${who}: served`);
    if (op.endless) expect(answer.headers.get('content-type')).toMatch(/^text\/event-stream/);
  }

  it('walks every operation, each kind of access, and has an example request for each that needs one', () => {
    expect(new Set(operations.map((op) => op.access.kind))).toEqual(
      new Set(['public', 'user', 'org', 'platform']),
    );
    expect(ofKind('org').length).toBeGreaterThanOrEqual(20);
    const ids = new Set(operations.map((op) => op.operationId));
    expect(Object.keys(examples).filter((id) => !ids.has(id))).toEqual([]);
    const document = openApiDocument();
    const needing = Object.values(document.paths)
      .flatMap((methods) => Object.values(methods))
      .filter(
        (op) =>
          op.requestBody?.required === true ||
          op.parameters.some((p) => p.in === 'query' && p.required),
      )
      .map((op) => op.operationId);
    expect(needing.filter((id) => !(id in examples))).toEqual([]);
  });

  describe.each(operations.filter((op) => op.access.kind !== 'public'))('$name', (op) => {
    it('401 without a token, with a malformed or foreign one, and with one of an ended session', async () => {
      const owner = members.owner;
      const ended = await app.signInAs(owner.userId);
      await app.stores.sessions.revoke(ended.sessionId, owner.userId, 'logout');
      const session = await app.signInAs(owner.userId);
      const tokens = [
        undefined,
        'not-a-jwt',
        `${owner.token}x`,
        await forger.issue({ userId: owner.userId, sessionId: session.sessionId }),
        ended.accessToken,
      ];
      for (const token of tokens) {
        const answer = await call(op, undefined, token === undefined ? {} : { token });
        expectRefusal(op, answer, 401, 'UNAUTHENTICATED');
      }
      const basic = await app.request(op.method, op.path.replace(/\{\w+\}/g, 'x'), {
        headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      });
      expect(basic.status).toBe(401);
    });
  });

  describe.each(ofKind('org'))('$name', (op) => {
    const minRole = minRoleOf(op);

    it('P2: 404 for a member of another organisation and for an id that is no organisation', async () => {
      expectRefusal(op, await call(op, outsider), 404, 'NOT_FOUND');
      const owner = members.owner;
      expectRefusal(op, await call(op, owner, { orgId: randomUUID() }), 404, 'NOT_FOUND');
      expectRefusal(op, await call(op, owner, { orgId: 'not-a-uuid' }), 404, 'NOT_FOUND');
    });

    const below = roles.slice(0, roles.indexOf(minRole));
    const title = below.length
      ? `P21: 403 for ${below.join(', ')}; ${minRole} and above get through`
      : 'P21: every role gets through';
    it(title, async () => {
      for (const role of below) {
        expectRefusal(op, await call(op, members[role]), 403, 'FORBIDDEN');
      }
      for (const role of roles.slice(roles.indexOf(minRole))) {
        const answer = await call(op, members[role]);
        expectServed(op, answer, role);
      }
    });

    if (op.pathParams.includes('deviceId')) {
      it("P2: 404 for another organisation's device, even for an owner", async () => {
        expectRefusal(
          op,
          await call(op, members.owner, { deviceId: foreignDevice.id }),
          404,
          'NOT_FOUND',
        );
        expect(
          await app.stores.devices.findInOrg(foreignDevice.orgId, foreignDevice.id),
        ).toMatchObject({
          displayName: 'Their sensor',
          status: 'active',
        });
      });
    }

    if (op.queryParams.includes('devices')) {
      it("P2: 404 when the devices it names include another organisation's", async () => {
        const answer = await call(op, members.owner, {
          devices: `${device.id},${foreignDevice.id}`,
        });
        expectRefusal(op, answer, 404, 'NOT_FOUND');
      });
    }
  });

  describe.each(ofKind('platform'))('$name', (op) => {
    it("P10, P21: 403 for every organisation role and an owner elsewhere; the security role's holder is served", async () => {
      for (const caller of [...roles.map((role) => members[role]), outsider]) {
        expectRefusal(op, await call(op, caller), 403, 'FORBIDDEN');
      }
      const served = await call(op, officer);
      expect(served.status).toBe(200);
      expect(documented(op, served)).toBeNull();
    });
  });

  describe.each(ofKind('user'))('$name', (op) => {
    it('serves any signed-in user, member of an organisation or not', async () => {
      for (const caller of [members.viewer, await app.outsider()]) {
        const answer = await call(op, caller);
        // This app has no OpenID Connect provider: the route runs and knows none by that id.
        if (op.pathParams.includes('provider')) {
          expect({ status: answer.status, problem: documented(op, answer) }).toEqual({
            status: 404,
            problem: null,
          });
        } else {
          expectServed(op, answer, caller.email);
        }
      }
    });
  });

  describe.each(ofKind('public'))('$name', (op) => {
    it('answers without a token, with an answer it documents', async () => {
      const answer = await call(op);
      expect(answer.status, answer.text).toBeLessThan(500);
      expect(documented(op, answer)).toBeNull();
    });
  });
});
