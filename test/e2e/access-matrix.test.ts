import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../common/secret-hash.js';
import { UsersRepository } from '../../directory/accounts/users.repository.js';
import { hasRole, roles, type Role } from '../../directory/organisations/roles.js';
import { currentTerms } from '../support/accounts.js';
import {
  apiOperations,
  errorShapeProblem,
  exampleRequest,
  send,
  type Answer,
  type ApiOperation,
  type Fixtures,
} from '../support/api-operations.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, type TestMailbox } from '../support/smtp-catcher.js';

interface Caller {
  token: string;
  password: string;
}

/**
 * Every route of the registry, as /api/openapi.json lists it, called by every kind of caller:
 * the access each operation declares (`x-telemoat-access`) is the access it enforces.
 */
describe('access matrix: every route against every kind of caller', () => {
  let platform: TestPlatform;
  let mailbox: TestMailbox;
  let pool: pg.Pool;
  let operations: ApiOperation[];
  let fixtures: Omit<Fixtures, 'caller'>;
  const members = {} as Record<Role, Caller>;
  let outsider: Caller;
  let securityOfficer: Caller;
  let loggedOut: Caller;

  async function caller(orgId: string, role: Role): Promise<Caller & { userId: string }> {
    const member = await platform.createMember(orgId, role);
    return {
      token: await platform.login(member.email, member.password),
      password: member.password,
      userId: member.userId,
    };
  }

  /** Calls the operation with a fresh minimal valid request as the caller. */
  async function call(op: ApiOperation, who?: Caller): Promise<Answer> {
    const parts = await exampleRequest(op, {
      ...fixtures,
      ...(who ? { caller: { password: who.password } } : {}),
    });
    return send(platform, op.method, parts, who?.token);
  }

  /** Runs `check` on every operation and gathers what went wrong, so one run shows it all. */
  async function eachOperation(
    filter: (op: ApiOperation) => boolean,
    check: (op: ApiOperation) => Promise<string | null>,
  ): Promise<string[]> {
    const problems: string[] = [];
    const chosen = operations.filter(filter);
    expect(chosen.length).toBeGreaterThan(0);
    for (const op of chosen) {
      const problem = await check(op).catch((err: unknown) => String(err));
      if (problem) problems.push(`${op.method} ${op.path}: ${problem}`);
    }
    return problems;
  }

  const isOrg = (op: ApiOperation) => op.access.kind === 'org';
  const minRoleOf = (op: ApiOperation): Role =>
    op.access.kind === 'org' ? op.access.minRole : 'viewer';

  function expectCode(answer: Answer, status: number, code: string): string | null {
    const got = (answer.body as { code?: string } | undefined)?.code;
    return answer.status === status && got === code
      ? null
      : `expected ${status} ${code}, got ${answer.status} ${got ?? JSON.stringify(answer.body)}`;
  }

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({
      SMTP_URL: mailbox.url,
      // Hundreds of requests from one address in a few seconds: not what this test is about.
      RATE_LIMIT_PER_IP_PER_MINUTE: '1000000',
      RATE_LIMIT_PER_USER_PER_MINUTE: '1000000',
    });
    pool = new pg.Pool({ connectionString: platform.env.API_DATABASE_URL, max: 2 });
    const org = await platform.createOrg('Matrix Greenhouses');
    const device = await platform.provisionDevice(org.id, 'Greenhouse 1');
    fixtures = {
      platform,
      orgId: org.id,
      deviceId: device.id,
      termsVersion: await currentTerms(platform),
    };
    for (const role of roles) members[role] = await caller(org.id, role);

    outsider = await caller((await platform.createOrg('Another Company')).id, 'owner');

    const officer = await caller((await platform.createOrg('Platform Operations')).id, 'owner');
    await platform.adminPool.query(
      `INSERT INTO platform_roles (user_id, role) VALUES ($1, 'security')`,
      [officer.userId],
    );
    securityOfficer = officer;

    loggedOut = await caller(org.id, 'owner');
    const logout = await platform.send('POST', '/api/v1/auth/logout', undefined, {
      token: loggedOut.token,
    });
    expect(logout.status).toBe(204);

    operations = await apiOperations(platform);
  });

  afterAll(async () => {
    await pool?.end();
    await platform?.close();
    await mailbox?.stop();
  });

  it('walks the whole registry', () => {
    const kinds = new Set(operations.map((op) => op.access.kind));
    expect([...kinds].sort()).toEqual(['org', 'platform', 'public', 'user']);
    expect(operations.length).toBeGreaterThanOrEqual(24);
  });

  it('an unverified account cannot obtain a token, so it reaches nothing', async () => {
    const email = `unverified-${randomBytes(4).toString('hex')}@example.test`;
    const password = 'a-long-passphrase';
    await new UsersRepository(pool, platform.crypto).create({
      email,
      displayName: 'Not Yet Verified',
      passwordHash: await hashSecret(password, { N: 2 ** 14, r: 8, p: 1 }),
      verified: false,
    });
    const login = await platform.send('POST', '/api/v1/auth/login', { email, password });
    expect(login.status).toBe(401);
    expect(login.body).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(login.body).not.toHaveProperty('accessToken');
  });

  it('P21: without a token, or with the token of a session that was logged out, every non-public route answers 401', async () => {
    const problems = await eachOperation(
      (op) => op.access.kind !== 'public',
      async (op) =>
        expectCode(await call(op), 401, 'UNAUTHENTICATED') ??
        expectCode(await call(op, loggedOut), 401, 'UNAUTHENTICATED'),
    );
    expect(problems).toEqual([]);
  });

  it('P2: a member of another organisation gets 404 on every organisation route, as if it did not exist', async () => {
    const problems = await eachOperation(isOrg, async (op) =>
      expectCode(await call(op, outsider), 404, 'NOT_FOUND'),
    );
    expect(problems).toEqual([]);
  });

  it('P21: a role below the minimum gets 403; the minimum role and above get through', async () => {
    const problems = await eachOperation(isOrg, async (op) => {
      for (const role of roles) {
        const answer = await call(op, members[role]);
        const problem = !hasRole(role, minRoleOf(op))
          ? expectCode(answer, 403, 'FORBIDDEN')
          : [401, 403, 404].includes(answer.status) || answer.status >= 500
            ? `${role} got ${answer.status} ${JSON.stringify(answer.body)}`
            : answer.status >= 400
              ? errorShapeProblem(op, answer)
              : null;
        if (problem) return `as ${role}: ${problem}`;
      }
      return null;
    });
    expect(problems).toEqual([]);
  });

  it("P21: routes for the platform's security role answer 403 to every organisation role, and serve its holder", async () => {
    const problems = await eachOperation(
      (op) => op.access.kind === 'platform',
      async (op) => {
        for (const role of roles) {
          const problem = expectCode(await call(op, members[role]), 403, 'FORBIDDEN');
          if (problem) return `as ${role}: ${problem}`;
        }
        const answer = await call(op, securityOfficer);
        return answer.status < 400 ? null : `security role got ${answer.status}`;
      },
    );
    expect(problems).toEqual([]);
  });

  it('every signed-in user reaches the user routes, whatever their role in any organisation', async () => {
    const problems = await eachOperation(
      (op) => op.access.kind === 'user',
      async (op) => {
        const callers: [string, Caller][] = [
          ...roles.map((role): [string, Caller] => [role, members[role]]),
          ['outsider', outsider],
        ];
        for (const [name, who] of callers) {
          const answer = await call(op, who);
          if ([401, 403].includes(answer.status) || answer.status >= 500) {
            return `${name} got ${answer.status} ${JSON.stringify(answer.body)}`;
          }
          const problem = answer.status >= 400 ? errorShapeProblem(op, answer) : null;
          if (problem) return `${name}: ${problem}`;
        }
        return null;
      },
    );
    expect(problems).toEqual([]);
  });

  it('public routes need no token, answer without 403 or 5xx, and only with errors they document', async () => {
    const problems = await eachOperation(
      (op) => op.access.kind === 'public',
      async (op) => {
        const answer = await call(op);
        if (answer.status === 403 || answer.status >= 500) {
          return `got ${answer.status} ${JSON.stringify(answer.body)}`;
        }
        return answer.status >= 400 ? errorShapeProblem(op, answer) : null;
      },
    );
    expect(problems).toEqual([]);
  });
});
