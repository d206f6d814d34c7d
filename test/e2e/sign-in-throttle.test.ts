import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountKeyOf } from '../../directory/sessions/sign-in-throttle.service.js';
import { call, type JsonResponse } from '../support/http-session.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

/** A short window so the test can wait for it to pass; the rest as in production. */
// Wide enough that a busy machine cannot stretch the 50 attempts past it.
const WINDOW_MS = 6000;
const FREE_PER_ACCOUNT = 5;
const FREE_PER_IP = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('P10: many failed sign-ins are detected, recorded and slowed down', () => {
  let platform: TestPlatform;
  let orgId: string;
  const url = (path: string) => `${platform.apiUrl}/api/v1${path}`;
  const login = (email: string, password: string) =>
    call(url('/auth/login'), { body: { email, password } });

  /** Waits until the last failure has left the window, so earlier tests do not interfere. */
  const windowPasses = () => sleep(WINDOW_MS + 200);

  function tally(results: JsonResponse[]) {
    return {
      refused: results.filter((r) => r.status === 401).length,
      slowed: results.filter((r) => r.status === 429).length,
    };
  }

  async function eventsFor(accountKey: Buffer) {
    const { rows } = await platform.adminPool.query<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n FROM security_events WHERE account_key = $1 GROUP BY type`,
      [accountKey],
    );
    return Object.fromEntries(rows.map((r) => [r.type, r.n]));
  }

  beforeAll(async () => {
    platform = await startTestPlatform({
      SIGNIN_THROTTLE_WINDOW_MS: String(WINDOW_MS),
      SIGNIN_THROTTLE_FREE_ATTEMPTS: String(FREE_PER_ACCOUNT),
      SIGNIN_THROTTLE_FREE_ATTEMPTS_PER_IP: String(FREE_PER_IP),
      SIGNIN_THROTTLE_BASE_DELAY_MS: '200',
      SIGNIN_THROTTLE_MAX_DELAY_MS: '10000',
    });
    orgId = (await platform.createOrg('Throttle AB')).id;
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('P10: 50 failed sign-ins against one account are slowed with 429 and Retry-After, recorded, and the right password works once the window passes', async () => {
    const victim = await platform.createMember(orgId);
    const results: JsonResponse[] = [];
    for (let i = 0; i < 50; i += 1) results.push(await login(victim.email, `guess-${i}`));

    const { refused, slowed } = tally(results);
    expect(refused + slowed).toBe(50);
    // The free attempts are answered normally, then nearly all of the rest are slowed.
    expect(results.slice(0, FREE_PER_ACCOUNT).every((r) => r.status === 401)).toBe(true);
    expect(slowed).toBeGreaterThanOrEqual(40);
    const throttled = results.find((r) => r.status === 429)!;
    expect(throttled.body).toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
    expect(Number(throttled.response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // Even the right password is slowed while the account is.
    expect((await login(victim.email, victim.password)).status).toBe(429);

    const key = accountKeyOf(victim.email, platform.env.SECURITY_LOG_KEY!);
    const events = await eventsFor(key);
    expect(events.signin_failed).toBe(refused);
    expect((events.signin_throttled ?? 0) + (events.signin_failed ?? 0)).toBe(51);
    const ips = await platform.adminPool.query<{ ip: string }>(
      'SELECT DISTINCT host(ip) AS ip FROM security_events WHERE account_key = $1',
      [key],
    );
    expect(ips.rows).toEqual([{ ip: '127.0.0.1' }]);

    // No permanent lockout: once the window has passed, the owner signs in.
    await windowPasses();
    const owner = await login(victim.email, victim.password);
    expect(owner.status).toBe(200);
    expect((await eventsFor(key)).signin_succeeded).toBe(1);
  });

  it('P10: 100 sign-ins to different accounts from one IP are slowed, for every account from that IP', async () => {
    await windowPasses();
    const started = (await platform.adminPool.query<{ now: Date }>('SELECT now()')).rows[0]!.now;
    const results: JsonResponse[] = [];
    for (let i = 0; i < 100; i += 1) {
      results.push(await login(`target-${i}-${randomBytes(3).toString('hex')}@example.test`, 'x'));
    }
    const { refused, slowed } = tally(results);
    expect(results.slice(0, FREE_PER_IP).every((r) => r.status === 401)).toBe(true);
    expect(refused + slowed).toBe(100);
    expect(slowed).toBeGreaterThanOrEqual(80);

    const recorded = await platform.adminPool.query<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n FROM security_events
       WHERE host(ip) = '127.0.0.1' AND created_at >= $1
         AND type IN ('signin_failed', 'signin_throttled')
       GROUP BY type`,
      [started],
    );
    const byType = Object.fromEntries(recorded.rows.map((r) => [r.type, r.n]));
    expect(byType.signin_failed).toBe(refused);
    expect(byType.signin_throttled).toBe(slowed);

    // An account nobody attacked is slowed too while its sign-in comes from that address...
    const bystander = await platform.createMember(orgId);
    expect((await login(bystander.email, bystander.password)).status).toBe(429);
    // ...and signs in once the window has passed.
    await windowPasses();
    expect((await login(bystander.email, bystander.password)).status).toBe(200);
  });

  it("P10: a successful sign-in resets the account's count", async () => {
    await windowPasses();
    const user = await platform.createMember(orgId);
    for (let i = 0; i < FREE_PER_ACCOUNT - 1; i += 1) {
      expect((await login(user.email, 'wrong')).status).toBe(401);
    }
    expect((await login(user.email, user.password)).status).toBe(200);
    for (let i = 0; i < FREE_PER_ACCOUNT - 1; i += 1) {
      expect((await login(user.email, 'wrong')).status).toBe(401);
    }
  });

  it('P10: the answers do not reveal whether an e-mail address has an account', async () => {
    await windowPasses();
    const user = await platform.createMember(orgId);
    const nobody = `nobody-${randomBytes(4).toString('hex')}@example.test`;
    const known: JsonResponse[] = [];
    const unknown: JsonResponse[] = [];
    for (let i = 0; i < FREE_PER_ACCOUNT + 1; i += 1) {
      known.push(await login(user.email, 'wrong'));
      unknown.push(await login(nobody, 'wrong'));
    }
    const shape = (r: JsonResponse) => [r.status, JSON.stringify(r.body)];
    expect(known.map(shape)).toEqual(unknown.map(shape));
    expect(known.at(-1)?.status).toBe(429);
  });
});
