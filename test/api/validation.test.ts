import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_BODY_LIMIT_BYTES, openApiDocument } from '../../api/app.js';
import type { Organisation } from '../../directory/organisations/organisations.repository.js';
import {
  type Answer,
  type SeededDevice,
  type SeededMember,
  type SeededUser,
  useApiApp,
} from '../support/api-app.js';

interface Refusal {
  method: string;
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** The `details[].path` the answer must name. */
  names: string;
}

/** A 400 VALIDATION_FAILED whose details name `path`, each detail a path and a message. */
function expectRefusal(answer: Answer, path: string, what: string) {
  expect({ what, status: answer.status, code: (answer.body as { code?: string }).code }).toEqual({
    what,
    status: 400,
    code: 'VALIDATION_FAILED',
  });
  const details = (answer.body as { details?: { path: unknown; message: unknown }[] }).details;
  expect(details, what).toBeInstanceOf(Array);
  for (const detail of details!) {
    expect(typeof detail.path === 'string' && typeof detail.message === 'string', what).toBe(true);
  }
  expect(
    details!.map((d) => d.path),
    what,
  ).toContain(path);
}

describe('validation: bad requests are 400 VALIDATION_FAILED with details, never 5xx', () => {
  const app = useApiApp();
  let org: Organisation;
  let owner: SeededMember;
  let device: SeededDevice;
  let officer: SeededUser & { token: string };

  beforeAll(async () => {
    org = await app.org();
    owner = await app.member(org.id, 'owner');
    device = await app.device(org, 'Sensor');
    officer = await app.outsider();
    app.stores.platformRoles.grant(officer.userId, 'security');
  });

  it('names what is wrong in the query, the path and the body of each kind of route', async () => {
    const o = `/orgs/${org.id}`;
    const d = `${o}/devices/${device.id}`;
    const many = { devices: device.id, metric: 'temperature' };
    const refusals: Refusal[] = [
      { method: 'GET', path: `${o}/devices`, query: { limit: '0' }, names: 'limit' },
      { method: 'GET', path: `${o}/devices`, query: { limit: '501' }, names: 'limit' },
      { method: 'GET', path: `${o}/devices`, query: { limit: 'ten' }, names: 'limit' },
      { method: 'GET', path: `${o}/devices`, query: { cursor: 'not base64!' }, names: 'cursor' },
      // Well-formed base64url, but not a position a page of devices ends at.
      { method: 'GET', path: `${o}/devices`, query: { cursor: 'WzEsMiwzXQ' }, names: 'cursor' },
      { method: 'GET', path: `${o}/devices`, query: { offset: '10' }, names: '' },
      { method: 'GET', path: `${o}/devices/a`, names: 'deviceId' },
      { method: 'GET', path: `${d}/readings`, query: { metric: 'Temperature' }, names: 'metric' },
      { method: 'GET', path: `${d}/readings`, query: { from: 'yesterday' }, names: 'from' },
      { method: 'GET', path: `${d}/readings`, query: { to: '2026-06-01T12:00:00' }, names: 'to' },
      { method: 'GET', path: `${d}/readings`, query: { limit: '10001' }, names: 'limit' },
      { method: 'GET', path: `${o}/readings`, query: { metric: 'temperature' }, names: 'devices' },
      { method: 'GET', path: `${o}/readings`, query: { devices: device.id }, names: 'metric' },
      { method: 'GET', path: `${o}/readings`, query: { ...many, devices: '' }, names: 'devices.0' },
      {
        method: 'GET',
        path: `${o}/readings`,
        query: { ...many, devices: 'a,b' },
        names: 'devices.0',
      },
      {
        method: 'GET',
        path: `${o}/readings`,
        query: { ...many, devices: Array.from({ length: 51 }, (_, i) => `dev_${i}xx`).join(',') },
        names: 'devices',
      },
      { method: 'GET', path: `${o}/readings`, query: { ...many, window: '2h' }, names: 'window' },
      { method: 'GET', path: `${o}/export`, query: { format: 'xlsx' }, names: 'format' },
      { method: 'GET', path: `${o}/export`, query: { devices: '$(reboot)' }, names: 'devices.0' },
      { method: 'GET', path: `${o}/live`, query: { devices: 'x' }, names: 'devices.0' },
      { method: 'GET', path: `${o}/members`, query: { cursor: 'WyJ4IiwieSJd' }, names: 'cursor' },
      {
        method: 'PATCH',
        path: `${o}/members/not-a-uuid`,
        body: { role: 'viewer' },
        names: 'userId',
      },
      {
        method: 'PATCH',
        path: `${o}/members/${owner.userId}`,
        body: { role: 'root' },
        names: 'role',
      },
      { method: 'PUT', path: `${o}/metrics/temperature`, body: { unit: 'K' }, names: 'label' },
      { method: 'POST', path: `${o}/invitations`, body: { email: 'x', name: 'X' }, names: 'email' },
      { method: 'POST', path: '/orgs', body: { name: 'Org', region: 'EU-North' }, names: 'region' },
      {
        method: 'POST',
        path: '/auth/login',
        body: { email: 'no-at-sign', password: 'x' },
        names: 'email',
      },
      {
        method: 'POST',
        path: '/auth/login',
        body: { email: owner.email, password: 'x', refreshTokenIn: 'url' },
        names: 'refreshTokenIn',
      },
      {
        method: 'POST',
        path: '/auth/refresh',
        body: { refreshToken: 'x'.repeat(129) },
        names: 'refreshToken',
      },
      { method: 'POST', path: '/auth/verify-email', body: { token: 'short' }, names: 'token' },
      { method: 'PATCH', path: '/me', body: {}, names: '' },
      { method: 'PATCH', path: '/me', body: { phone: 'call me' }, names: 'phone' },
      { method: 'PATCH', path: '/me', body: { email: 'new@example.test' }, names: '' },
      { method: 'GET', path: '/me/audit', query: { limit: '501' }, names: 'limit' },
      { method: 'DELETE', path: '/me/sessions/not-a-uuid', names: 'id' },
      { method: 'GET', path: '/security/events', query: { type: 'everything' }, names: 'type' },
      { method: 'GET', path: '/security/events', query: { before: 'now' }, names: 'before' },
    ];
    for (const refusal of refusals) {
      const token = refusal.path.startsWith('/security') ? officer.token : owner.token;
      const answer = await app.request(refusal.method, refusal.path, {
        token,
        ...(refusal.query ? { query: refusal.query } : {}),
        ...(refusal.body === undefined ? {} : { body: refusal.body }),
      });
      expectRefusal(
        answer,
        refusal.names,
        `${refusal.method} ${refusal.path} ${JSON.stringify(refusal.query ?? refusal.body ?? '')}`,
      );
    }
  });

  it('refuses a path segment that is not valid percent-encoding with 400, before authentication, and logs no error', async () => {
    for (const segment of ['%', '%zz', '%E0%A4%A', '%ff']) {
      for (const token of [undefined, owner.token]) {
        const answer = await app.request('GET', `/orgs/${segment}/devices`, token ? { token } : {});
        expectRefusal(answer, 'path', `GET /orgs/${segment}/devices`);
      }
    }
    expect(app.logs.filter((line) => (line.level as number) >= 50)).toEqual([]);
  });

  it('refuses a body over the limit with 413 PAYLOAD_TOO_LARGE, also when it only grows that large when inflated', async () => {
    const path = `/orgs/${org.id}/devices`;
    const before = await app.stores.devices.listForOrg(org.id);
    const tooLarge = { name: 'x'.repeat(API_BODY_LIMIT_BYTES) };
    const plain = await app.request('POST', path, {
      token: owner.token,
      rawBody: JSON.stringify(tooLarge),
    });
    const inflated = await app.request('POST', path, {
      token: owner.token,
      rawBody: gzipSync(JSON.stringify(tooLarge)),
      headers: { 'content-encoding': 'gzip' },
    });
    for (const answer of [plain, inflated]) {
      expect(answer).toMatchObject({
        status: 413,
        body: { code: 'PAYLOAD_TOO_LARGE', details: { limitBytes: API_BODY_LIMIT_BYTES } },
      });
    }
    expect(await app.stores.devices.listForOrg(org.id)).toEqual(before);
  });

  it('refuses bodies express cannot take: an unknown charset or a broken encoding, with details', async () => {
    const path = `/orgs/${org.id}/devices`;

    const charset = await app.request('POST', path, {
      token: owner.token,
      rawBody: '{"name":"x"}',
      headers: { 'content-type': 'application/json; charset=klingon' },
    });
    expectRefusal(charset, '', 'an unknown charset');

    const unsupported = await app.request('POST', path, {
      token: owner.token,
      rawBody: '{"name":"x"}',
      headers: { 'content-encoding': 'compress' },
    });
    expectRefusal(unsupported, '', 'an unsupported content encoding');

    // A gzipped body is fine.
    const zipped = await app.request('POST', path, {
      token: owner.token,
      rawBody: gzipSync('{"name":"Zipped"}'),
      headers: { 'content-encoding': 'gzip' },
    });
    expect(zipped.status).toBe(201);
  });

  // body-parser's inflate errors carry status 400 and expose=true but no `type`; they were a
  // logged 500 until the error handler stopped asking for one.
  it('refuses a body whose Content-Encoding does not match it with 400, not 500', async () => {
    for (const encoding of ['gzip', 'deflate', 'br']) {
      const answer = await app.request('POST', `/orgs/${org.id}/devices`, {
        token: owner.token,
        rawBody: 'not compressed at all',
        headers: { 'content-encoding': encoding },
      });
      expectRefusal(answer, '', `a body that is not ${encoding}`);
    }
  });

  it('refuses a body with a __proto__ key at any depth with 400 and changes nothing', async () => {
    const before = await app.stores.devices.listForOrg(org.id);
    for (const rawBody of [
      '{"name":"Protons","__proto__":{"role":"owner"}}',
      '{"name":"Protons","\\u005f_proto__":1}',
    ]) {
      const answer = await app.request('POST', `/orgs/${org.id}/devices`, {
        token: owner.token,
        rawBody,
      });
      expectRefusal(answer, '', rawBody);
    }
    expect(await app.stores.devices.listForOrg(org.id)).toEqual(before);
  });

  it('refuses JSON it cannot parse with 400, though without details', async () => {
    for (const rawBody of ['{"name": ', "{'name': 'x'}", 'null', '"just a string"', '42']) {
      const answer = await app.request('POST', `/orgs/${org.id}/devices`, {
        token: owner.token,
        rawBody,
      });
      expect({ rawBody, status: answer.status, body: answer.body }).toEqual({
        rawBody,
        status: 400,
        body: { code: 'VALIDATION_FAILED', message: 'The request is not valid.' },
      });
    }
    // A body that is not JSON at all leaves the route without one: the schema names what is missing.
    const text = await app.request('POST', `/orgs/${org.id}/devices`, {
      token: owner.token,
      rawBody: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectRefusal(text, '', 'a form body');
  });

  describe('every operation, fed garbage', () => {
    const operations = Object.entries(openApiDocument().paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        name: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path: path.replace(/^\/api\/v1/, ''),
        access: op['x-telemoat-access'],
        hasQuery: op.parameters.some((p) => p.in === 'query'),
        hasBody: op.requestBody !== undefined,
        endless: Object.values(op.responses).some((r) =>
          Object.keys((r as { content?: object }).content ?? {}).includes('text/event-stream'),
        ),
      })),
    );
    type Op = (typeof operations)[number];

    /** A caller who may use the operation, fresh so that no garbage spoils another test. */
    async function callerOf(op: Op): Promise<string | undefined> {
      switch (op.access.kind) {
        case 'public':
          return undefined;
        case 'user':
          return (await app.outsider()).token;
        case 'platform':
          return officer.token;
        case 'org':
          return (await app.member(org.id, 'owner')).token;
      }
    }

    const pathOf = (op: Op, values: Record<string, string> = {}) =>
      op.path.replace(/\{(\w+)\}/g, (_m, name: string) =>
        encodeURIComponent(
          values[name] ??
            (
              {
                orgId: org.id,
                deviceId: device.id,
                metric: 'temperature',
                userId: owner.userId,
                id: owner.userId,
                provider: 'x',
              } as Record<string, string>
            )[name]!,
        ),
      );

    function expectSane(op: Op, answer: Answer, input: Record<string, unknown>) {
      const what = `${op.name} with ${JSON.stringify(input)}`.slice(0, 300);
      expect(answer.status, `${what}: ${answer.text}`).toBeLessThan(500);
      const body = answer.body as { code?: string; details?: unknown } | undefined;
      // express.json (strict) refuses a top-level primitive as unparseable: no details then.
      const parseable = input.body === undefined || typeof input.body === 'object';
      if (body?.code === 'VALIDATION_FAILED' && parseable && input.body !== null) {
        expect(body.details === undefined ? 'no details' : 'details', what).toBe('details');
      }
    }

    it.each(operations)('$name', async (op) => {
      const token = await callerOf(op);
      const send = (
        path: string,
        extra: { query?: Record<string, string>; body?: unknown; rawBody?: string },
      ) => app.request(op.method, path, { ...(token ? { token } : {}), ...extra });

      // The provider's redirect back may carry parameters of its own: that query is loose.
      if (op.hasQuery && op.name !== 'GET /api/v1/auth/oidc/{provider}/callback') {
        // Every other query is strict: an unknown parameter is refused before anything runs.
        const answer = await send(pathOf(op), { query: { unexpected: '1' } });
        expectRefusal(answer, '', op.name);
      }
      for (const value of ['..%2F..', '%00\u202e', 'x'.repeat(300), '-1']) {
        const params: Record<string, string> = {};
        for (const name of ['deviceId', 'userId', 'metric', 'id', 'provider']) params[name] = value;
        const answer = await send(
          pathOf(op, params),
          op.endless ? { query: { unexpected: '1' } } : {},
        );
        expectSane(op, answer, { params });
      }
      if (op.hasBody) {
        const bodies = [
          [],
          {},
          { unexpected: true },
          JSON.parse(
            '{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}}',
          ) as unknown,
          { name: { nested: [1, 2, { deeper: null }] }, email: ['a@b.c'], role: 7 },
          {
            name: 'x'.repeat(5000),
            email: `${'x'.repeat(300)}@example.test`,
            password: 'x'.repeat(2000),
          },
        ];
        for (const body of bodies) expectSane(op, await send(pathOf(op), { body }), { body });
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }
      if (op.endless) return;
      // And random JSON, random queries: a fixed seed, so a failure can be replayed.
      await fc.assert(
        fc.asyncProperty(
          fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }), { maxKeys: 3 }),
          fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
          async (query, body) => {
            const answer = await send(pathOf(op), {
              query,
              ...(op.hasBody && body !== undefined ? { body } : {}),
            });
            expectSane(op, answer, { query, body });
          },
        ),
        { numRuns: 4, seed: 20260601 },
      );
    });
  });
});
