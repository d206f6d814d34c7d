import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roleUrl } from '../../directory/db/provision.js';
import { runDirectoryJobs } from '../../directory/jobs/directory-jobs.js';
import { purgeSecurityRecords } from '../../directory/jobs/purge-security-records.job.js';
import { call } from '../support/http-session.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

describe('P10: security events are deleted after their retention, by a job that sees no more than it must', () => {
  let platform: TestPlatform;
  let jobs: pg.Pool;
  let api: pg.Pool;
  let user: { email: string; password: string; userId: string };
  const url = (path: string) => `${platform.apiUrl}/api/v1${path}`;

  /** Moves rows back in time, as only the admin role may. */
  const age = (sql: string, params: unknown[] = []) => platform.adminPool.query(sql, params);

  beforeAll(async () => {
    platform = await startTestPlatform();
    const database = decodeURIComponent(new URL(platform.env.DATABASE_URL!).pathname.slice(1));
    jobs = new pg.Pool({
      connectionString: roleUrl(
        platform.env.DATABASE_URL!,
        database,
        'telemoat_jobs',
        platform.env.JOBS_DATABASE_PASSWORD!,
      ),
      max: 1,
    });
    api = new pg.Pool({ connectionString: platform.env.API_DATABASE_URL, max: 1 });
    const org = await platform.createOrg('Retention AB');
    user = await platform.createMember(org.id);
  });

  afterAll(async () => {
    await jobs?.end();
    await api?.end();
    await platform?.close();
  });

  it('P10: the retention job deletes events older than SECURITY_EVENTS_RETENTION_DAYS and keeps newer ones', async () => {
    for (let i = 0; i < 3; i += 1) {
      await call(url('/auth/login'), { body: { email: user.email, password: `wrong-${i}` } });
    }
    const signIn = await call(url('/auth/login'), {
      body: { email: user.email, password: user.password, refreshTokenIn: 'body' },
    });
    expect(signIn.status).toBe(200);
    const { rows: events } = await platform.adminPool.query<{ id: string }>(
      'SELECT id FROM security_events ORDER BY created_at',
    );
    expect(events.length).toBe(4);
    const [old1, old2, recent, newest] = events.map((e) => e.id);
    await age(
      `UPDATE security_events SET created_at = now() - interval '31 days' WHERE id = ANY($1)`,
      [[old1, old2]],
    );
    await age(`UPDATE security_events SET created_at = now() - interval '29 days' WHERE id = $1`, [
      recent,
    ]);

    const purged = await purgeSecurityRecords(jobs, { securityEventsDays: 30 });
    expect(purged.securityEvents).toBe(2);
    const left = await platform.adminPool.query<{ id: string }>('SELECT id FROM security_events');
    expect(left.rows.map((r) => r.id).sort()).toEqual([recent, newest].sort());

    // A shorter retention is honoured too.
    expect((await purgeSecurityRecords(jobs, { securityEventsDays: 7 })).securityEvents).toBe(1);
  });

  it('P11: old sign-in history, long-ended sessions and spent refresh tokens go as well', async () => {
    const login = await call(url('/auth/login'), {
      body: { email: user.email, password: user.password, refreshTokenIn: 'body' },
    });
    const { refreshToken } = login.body as { refreshToken: string };
    await call(url('/auth/refresh'), { body: { refreshToken } });
    await age(
      `UPDATE sign_ins SET created_at = now() - interval '400 days'
       WHERE id = (SELECT id FROM sign_ins ORDER BY created_at LIMIT 1)`,
    );
    await age(`UPDATE sessions SET revoked_at = now() - interval '8 days', revoked_reason = 'logout'
               WHERE id = (SELECT id FROM sessions ORDER BY created_at LIMIT 1)`);
    await age(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second'
               WHERE used_at IS NOT NULL`);
    const before = await platform.adminPool.query<{ sessions: number; signins: number }>(
      'SELECT (SELECT count(*)::int FROM sessions) AS sessions, (SELECT count(*)::int FROM sign_ins) AS signins',
    );

    const purged = await purgeSecurityRecords(jobs);
    expect(purged).toMatchObject({ signIns: 1, sessions: 1 });
    expect(purged.refreshTokens).toBeGreaterThanOrEqual(1);
    const after = await platform.adminPool.query<{ sessions: number; signins: number }>(
      'SELECT (SELECT count(*)::int FROM sessions) AS sessions, (SELECT count(*)::int FROM sign_ins) AS signins',
    );
    expect(after.rows[0]).toEqual({
      sessions: before.rows[0]!.sessions - 1,
      signins: before.rows[0]!.signins - 1,
    });
  });

  it('P10: the jobs component runs the purge with SECURITY_EVENTS_RETENTION_DAYS', async () => {
    await call(url('/auth/login'), { body: { email: user.email, password: 'wrong-again' } });
    await age(`UPDATE security_events SET created_at = now() - interval '3 days'`);
    expect((await runDirectoryJobs(jobs, { securityEventsDays: 4 })).security.securityEvents).toBe(
      0,
    );
    const result = await runDirectoryJobs(jobs, { securityEventsDays: 2 });
    expect(result.security.securityEvents).toBeGreaterThanOrEqual(1);
    const left = await platform.adminPool.query('SELECT 1 FROM security_events');
    expect(left.rowCount).toBe(0);
  });

  it.each([
    'SELECT ip FROM security_events',
    'SELECT account_key FROM security_events',
    'SELECT * FROM security_events',
    'SELECT network_ciphertext FROM sign_ins',
    'SELECT user_id FROM sessions',
    'SELECT token_hash FROM refresh_tokens',
    "INSERT INTO security_events (type) VALUES ('signin_failed')",
    'SELECT * FROM platform_roles',
  ])('P21: the jobs role cannot read or add what it only deletes: %s', async (sql) => {
    await expect(jobs.query(sql)).rejects.toThrow(/permission denied/);
  });

  it.each([
    'DELETE FROM security_events',
    "UPDATE security_events SET ip = '10.0.0.1'",
    'DELETE FROM sign_ins',
    'DELETE FROM sessions',
    "INSERT INTO platform_roles (user_id, role) SELECT id, 'security' FROM users LIMIT 1",
  ])('P10: the API role cannot erase the security log or grant itself a role: %s', async (sql) => {
    await expect(api.query(sql)).rejects.toThrow(/permission denied/);
  });
});
