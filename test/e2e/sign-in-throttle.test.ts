import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountKeyOf } from '../../directory/sessions/sign-in-throttle.service.js';
import { testClock } from '../support/clock.js';
import {
  call,
  CookieJar,
  setCookieAttributes,
  type JsonResponse,
} from '../support/http-session.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const WINDOW_MS = 900_000;
const FREE_PER_ACCOUNT = 5;
const FREE_PER_IP = 10;
const ACCOUNT_CEILING = 20;

/**
 * The platform's clock stands still unless a test moves it, so every count, delay and window
 * here is exact however slow the machine is. Each client network is a loopback address of its
 * own (127.0.0.0/8 all reaches the API), so "an attacker elsewhere" is a real other address.
 */
describe('P10: many failed sign-ins are detected, recorded and slowed down, and nobody elsewhere can lock the owner out', () => {
  const clock = testClock(Date.now());
  let platform: TestPlatform;
  let orgId: string;
  const url = (path: string) => `${platform.apiUrl}/api/v1${path}`;
  const login = (email: string, password: string, from: string, jar?: CookieJar) =>
    call(url('/auth/login'), { body: { email, password }, from, ...(jar ? { jar } : {}) });
  const statuses = (results: JsonResponse[]) => results.map((r) => r.status);

  async function eventsFor(accountKey: Buffer) {
    const { rows } = await platform.adminPool.query<{ type: string; ip: string; n: number }>(
      `SELECT type, host(ip) AS ip, count(*)::int AS n FROM security_events
       WHERE account_key = $1 GROUP BY type, ip ORDER BY type, ip`,
      [accountKey],
    );
    return rows;
  }

  beforeAll(async () => {
    platform = await startTestPlatform(
      {
        SIGNIN_THROTTLE_WINDOW_MS: String(WINDOW_MS),
        SIGNIN_THROTTLE_FREE_ATTEMPTS: String(FREE_PER_ACCOUNT),
        SIGNIN_THROTTLE_FREE_ATTEMPTS_PER_IP: String(FREE_PER_IP),
        SIGNIN_THROTTLE_ACCOUNT_CEILING: String(ACCOUNT_CEILING),
        SIGNIN_THROTTLE_BASE_DELAY_MS: '1000',
        SIGNIN_THROTTLE_MAX_DELAY_MS: '30000',
      },
      { now: clock.now },
    );
    orgId = (await platform.createOrg('Throttle AB')).id;
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('P10: 50 failed sign-ins from one network are slowed with 429 and Retry-After and recorded, while the owner signs in from their own network', async () => {
    const victim = await platform.createMember(orgId);
    const attacker = '127.0.0.2';
    const results: JsonResponse[] = [];
    for (let i = 0; i < 50; i += 1) results.push(await login(victim.email, `guess-${i}`, attacker));

    expect(statuses(results)).toEqual([
      ...Array<number>(FREE_PER_ACCOUNT).fill(401),
      ...Array<number>(50 - FREE_PER_ACCOUNT).fill(429),
    ]);
    const throttled = results.at(-1)!;
    expect(throttled.body).toMatchObject({ code: 'TOO_MANY_ATTEMPTS' });
    expect(throttled.response.headers.get('retry-after')).toBe('1');
    // Even the right password is slowed from there...
    expect((await login(victim.email, victim.password, attacker)).status).toBe(429);
    // ...but not from the owner's own network.
    expect((await login(victim.email, victim.password, '127.0.0.1')).status).toBe(200);

    const key = accountKeyOf(victim.email, platform.env.SECURITY_LOG_KEY!);
    expect(await eventsFor(key)).toEqual([
      { type: 'signin_failed', ip: attacker, n: FREE_PER_ACCOUNT },
      { type: 'signin_succeeded', ip: '127.0.0.1', n: 1 },
      { type: 'signin_throttled', ip: attacker, n: 50 - FREE_PER_ACCOUNT + 1 },
    ]);

    // Once the delay has passed, one more guess; then the delay doubles.
    clock.advance(1000);
    expect((await login(victim.email, 'guess', attacker)).status).toBe(401);
    const next = await login(victim.email, 'guess', attacker);
    expect(next.response.headers.get('retry-after')).toBe('2');
    // No permanent lockout: once the window has passed, the right password works there too.
    clock.advance(WINDOW_MS);
    expect((await login(victim.email, victim.password, attacker)).status).toBe(200);
  });

  it('P10: failures spread over many networks slow the account for new browsers only; a browser that signed in before still signs in', async () => {
    const victim = await platform.createMember(orgId);
    const browser = new CookieJar();
    const first = await login(victim.email, victim.password, '127.0.0.1', browser);
    expect(first.status).toBe(200);
    expect(setCookieAttributes(first.response, 'telemoat_known_browser')).toEqual(
      expect.arrayContaining(['httponly', 'samesite=strict', 'path=/api/v1/auth']),
    );
    // Four failures from each of five networks: none is slowed on its own.
    for (let n = 1; n <= ACCOUNT_CEILING / 4; n += 1) {
      for (let i = 0; i < 4; i += 1) {
        expect((await login(victim.email, `guess-${i}`, `127.0.1.${n}`)).status).toBe(401);
      }
    }
    // The account has reached its ceiling: a browser it does not know waits...
    const unknownBrowser = await login(victim.email, victim.password, '127.0.0.1');
    expect(unknownBrowser.status).toBe(429);
    // ...the owner's own browser does not, from any network.
    expect((await login(victim.email, victim.password, '127.0.0.1', browser)).status).toBe(200);
    expect((await login(victim.email, victim.password, '127.0.2.1', browser)).status).toBe(200);

    clock.advance(WINDOW_MS);
    expect((await login(victim.email, victim.password, '127.0.0.1')).status).toBe(200);
  });

  it('P10: 100 sign-ins to different accounts from one network are slowed, for every account from that network only', async () => {
    const sprayer = '127.0.0.3';
    const results: JsonResponse[] = [];
    for (let i = 0; i < 100; i += 1) {
      const target = `target-${i}-${randomBytes(3).toString('hex')}@example.test`;
      results.push(await login(target, 'x', sprayer));
    }
    expect(statuses(results)).toEqual([
      ...Array<number>(FREE_PER_IP).fill(401),
      ...Array<number>(100 - FREE_PER_IP).fill(429),
    ]);
    const { rows } = await platform.adminPool.query<{ type: string; n: number }>(
      `SELECT type, count(*)::int AS n FROM security_events WHERE host(ip) = $1
       GROUP BY type ORDER BY type`,
      [sprayer],
    );
    expect(rows).toEqual([
      { type: 'signin_failed', n: FREE_PER_IP },
      { type: 'signin_throttled', n: 100 - FREE_PER_IP },
    ]);

    // An account nobody attacked is slowed while its sign-in comes from that network...
    const bystander = await platform.createMember(orgId);
    expect((await login(bystander.email, bystander.password, sprayer)).status).toBe(429);
    // ...not from anywhere else, and not there once the window has passed.
    expect((await login(bystander.email, bystander.password, '127.0.0.1')).status).toBe(200);
    clock.advance(WINDOW_MS);
    expect((await login(bystander.email, bystander.password, sprayer)).status).toBe(200);
  });

  it("P10: a successful sign-in resets the count of the account's failures from that network", async () => {
    const user = await platform.createMember(orgId);
    const from = '127.0.0.4';
    const tries = async (n: number) => {
      for (let i = 0; i < n; i += 1) {
        clock.advance(1);
        expect((await login(user.email, 'wrong', from)).status).toBe(401);
      }
    };
    await tries(FREE_PER_ACCOUNT - 1);
    clock.advance(1);
    expect((await login(user.email, user.password, from)).status).toBe(200);
    await tries(FREE_PER_ACCOUNT - 1);
    clock.advance(1);
    expect((await login(user.email, user.password, from)).status).toBe(200);
  });

  it('P10: the answers do not reveal whether an e-mail address has an account', async () => {
    const user = await platform.createMember(orgId);
    const nobody = `nobody-${randomBytes(4).toString('hex')}@example.test`;
    const known: JsonResponse[] = [];
    const unknown: JsonResponse[] = [];
    for (let i = 0; i < FREE_PER_ACCOUNT + 1; i += 1) {
      known.push(await login(user.email, 'wrong', '127.0.0.5'));
      unknown.push(await login(nobody, 'wrong', '127.0.0.6'));
    }
    const shape = (r: JsonResponse) => [
      r.status,
      JSON.stringify(r.body),
      r.response.headers.get('retry-after'),
    ];
    expect(known.map(shape)).toEqual(unknown.map(shape));
    expect(known.at(-1)?.status).toBe(429);
  });
});
