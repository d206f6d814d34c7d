import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { hashSecret, verifySecret, type ScryptCost } from '../../common/secret-hash.js';
import { UsersRepository } from '../../directory/accounts/users.repository.js';
import { DataKeysRepository } from '../../directory/crypto/data-keys.repository.js';
import { UserDataKeys } from '../../directory/crypto/user-data-keys.repository.js';
import { SecurityEventsRepository } from '../../directory/security/security-events.repository.js';
import { OidcIdentitiesRepository } from '../../directory/sessions/oidc-identities.repository.js';
import { OidcLoginsRepository } from '../../directory/sessions/oidc-logins.repository.js';
import {
  SessionService,
  type AccessTokenIssuer,
  type IssuedTokens,
} from '../../directory/sessions/session.service.js';
import { SessionsRepository } from '../../directory/sessions/sessions.repository.js';
import {
  accountKeyOf,
  SignInThrottle,
  type ThrottlePolicy,
} from '../../directory/sessions/sign-in-throttle.service.js';
import { KnownBrowsers } from '../../directory/sessions/known-browser.js';
import { PasswordGuard } from '../../directory/sessions/password-guard.js';
import { SignInService, type SignInClient } from '../../directory/sessions/sign-in.service.js';
import { SignInsRepository } from '../../directory/sessions/sign-ins.repository.js';
import { useDirectoryDb } from '../support/directory-db.js';

/**
 * Signing in with a password and ending sessions, against the real directory schema as the
 * API's role: the real SessionService, SessionsRepository, SignInsRepository,
 * SecurityEventsRepository and SignInThrottle, and a fake access-token issuer in place of the
 * API's JWT service. The security log's clock moves one millisecond at each reading, so events
 * are strictly ordered, and the policy's delays are far longer than any test: nothing here
 * sleeps or depends on the machine's speed.
 */
const PASSWORD = 'correct horse battery staple';
const ACCOUNT_HASH_KEY = randomBytes(32).toString('base64url');
/** Three free failures per account; then two minutes, longer than the test's own timeout. */
const POLICY: ThrottlePolicy = {
  windowMs: 3_600_000,
  freeAttemptsPerAccount: 3,
  freeAttemptsPerNetwork: 1000,
  accountCeiling: 8,
  baseDelayMs: 120_000,
  maxDelayMs: 600_000,
};

let clockMs = Date.now();
const now = () => (clockMs += 1);

const db = useDirectoryDb();
let knownBrowsers: KnownBrowsers;
let sessions: SessionsRepository;
let signIns: SignInsRepository;
let securityEvents: SecurityEventsRepository;
let sessionService: SessionService;
let decoyHash: string;
/** The claims the fake issuer signed, in order. */
const issued: { userId: string; sessionId: string }[] = [];
const tokens: AccessTokenIssuer = {
  ttlSeconds: 300,
  issue(claims) {
    issued.push(claims);
    return Promise.resolve(`access-token-for-${claims.sessionId}`);
  },
};

function signInService(
  policy: ThrottlePolicy = POLICY,
  passwordCost: ScryptCost = db.identity.settings.passwordCost,
): SignInService {
  return new SignInService({
    users: new UsersRepository(db.pool, db.crypto),
    verifyPassword: verifySecret,
    decoyHash,
    passwordCost,
    sessions: sessionService,
    passwords: new PasswordGuard({
      throttle: new SignInThrottle(securityEvents, policy),
      securityEvents,
      accountHashKey: ACCOUNT_HASH_KEY,
    }),
    knownBrowsers,
    securityEvents,
    accountHashKey: ACCOUNT_HASH_KEY,
    oidc: {
      providers: new Map(),
      logins: new OidcLoginsRepository(db.pool),
      identities: new OidcIdentitiesRepository(db.pool, randomBytes(32)),
    },
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
}

beforeAll(async () => {
  const userKeys = new UserDataKeys(db.pool, new DataKeysRepository(db.pool, db.crypto.keyring));
  sessions = new SessionsRepository(db.pool, userKeys);
  signIns = new SignInsRepository(db.pool, userKeys);
  securityEvents = new SecurityEventsRepository(db.pool, now);
  knownBrowsers = new KnownBrowsers(ACCOUNT_HASH_KEY, now);
  sessionService = new SessionService({
    sessions,
    tokens,
    signIns,
    securityEvents,
    policy: { refreshTokenTtlSeconds: 3600, sessionMaxAgeSeconds: 86_400 },
  });
  decoyHash = await hashSecret(randomBytes(16).toString('hex'));
});

/** A client from its own address, so that no test's failures count against another's. */
let lastOctet = 10;
const newClient = (): SignInClient => ({
  ip: `192.0.2.${lastOctet++}`,
  userAgent: 'Firefox on Linux',
});

const keyOf = (email: string) => accountKeyOf(email, ACCOUNT_HASH_KEY).toString('hex');

/** The security log's events that name this address (by its keyed hash), oldest first. */
async function eventsFor(email: string) {
  const events = await securityEvents.list({ limit: 1000 });
  return events
    .filter((e) => e.accountKey === keyOf(email))
    .reverse()
    .map((e) => ({ type: e.type, ip: e.ip, userId: e.userId }));
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
  if (!(error instanceof AppError)) throw error;
  return error;
}

describe('SignInService.withPassword', () => {
  it('P9, P10, P11: the right password starts a live session, a sign-in record and a signin_succeeded event', async () => {
    const user = await db.createUser({ password: PASSWORD });
    const client = newClient();
    const result = await signInService().withPassword(user.email, PASSWORD, client);

    expect(result).toMatchObject({
      accessToken: `access-token-for-${result.sessionId}`,
      expiresIn: 300,
      refreshExpiresIn: 3600,
    });
    expect(result.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(issued.at(-1)).toEqual({ userId: user.id, sessionId: result.sessionId });
    expect(await sessions.isActive(result.sessionId, user.id)).toBe(true);
    expect(await sessions.listActive(user.id)).toMatchObject([
      { id: result.sessionId, method: 'password', userAgent: 'Firefox on Linux' },
    ]);
    // P11: the user's history keeps the network, not the address.
    expect(await signIns.listForUser(user.id, 10)).toMatchObject([
      { method: 'password', userAgent: 'Firefox on Linux', network: '192.0.2.0/24' },
    ]);
    expect(await eventsFor(user.email)).toEqual([
      { type: 'signin_succeeded', ip: client.ip, userId: null },
    ]);
  });

  it('P10: wrong password, unknown e-mail and unverified account answer INVALID_CREDENTIALS alike, logged under a keyed hash', async () => {
    const known = await db.createUser({ password: PASSWORD });
    const unverified = await db.createUser({ password: PASSWORD, verified: false });
    const unknown = `nobody-${randomBytes(4).toString('hex')}@example.test`;
    const service = signInService();
    const client = newClient();

    const answers = [
      await rejection(service.withPassword(known.email, 'not the password', client)),
      await rejection(service.withPassword(unknown, PASSWORD, client)),
      // The right password does not help an account whose e-mail is not verified (P5).
      await rejection(service.withPassword(unverified.email, PASSWORD, client)),
    ];
    for (const answer of answers) {
      expect(answer.toBody()).toEqual({
        code: 'INVALID_CREDENTIALS',
        message: 'E-mail or password is wrong.',
      });
    }
    for (const email of [known.email, unknown, unverified.email]) {
      expect(await eventsFor(email)).toEqual([
        { type: 'signin_failed', ip: client.ip, userId: null },
      ]);
    }
    expect(await sessions.listActive(known.id)).toEqual([]);
    expect(await sessions.listActive(unverified.id)).toEqual([]);
    expect(await signIns.listForUser(known.id, 10)).toEqual([]);

    // Nothing in the security log spells an address: not whole, not its local part.
    const { rows } = await db.admin.query<{ row: string }>(
      'SELECT row_to_json(e)::text AS row FROM security_events e',
    );
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const email of [known.email, unknown, unverified.email]) {
      const localPart = email.split('@')[0]!;
      expect(rows.filter((r) => r.row.includes(localPart))).toEqual([]);
    }
  });

  it('P10: after the free failures an account is throttled from that network with TOO_MANY_ATTEMPTS and retryAfterSeconds, even with the right password; the owner elsewhere is not', async () => {
    const user = await db.createUser({ password: PASSWORD });
    const service = signInService();
    const attacker = newClient();
    for (let i = 0; i < POLICY.freeAttemptsPerAccount; i += 1) {
      expect((await rejection(service.withPassword(user.email, `guess ${i}`, attacker))).code).toBe(
        'INVALID_CREDENTIALS',
      );
    }
    const throttled = await rejection(service.withPassword(user.email, PASSWORD, attacker));
    expect(throttled.code).toBe('TOO_MANY_ATTEMPTS');
    // The base delay (120 s) less the few milliseconds the log's clock moved.
    expect(throttled.details).toEqual({ retryAfterSeconds: 120 });

    // The attacker's failures do not lock the owner out of their own network.
    const owner = newClient();
    const session = await service.withPassword(user.email, PASSWORD, owner);
    expect(await sessions.isActive(session.sessionId, user.id)).toBe(true);

    expect((await eventsFor(user.email)).map((e) => [e.type, e.ip])).toEqual([
      ...Array.from({ length: 3 }, () => ['signin_failed', attacker.ip]),
      ['signin_throttled', attacker.ip],
      ['signin_succeeded', owner.ip],
    ]);
  });

  it('P10: failures spread over many networks slow the account for new browsers, never for a browser that signed in before', async () => {
    const user = await db.createUser({ password: PASSWORD });
    const service = signInService();
    const { knownBrowser } = await service.withPassword(user.email, PASSWORD, newClient());
    // Two failures each from four networks: none of them is slowed on its own...
    for (let n = 0; n < 4; n += 1) {
      const bot = newClient();
      for (let i = 0; i < 2; i += 1) await rejection(service.withPassword(user.email, 'x', bot));
    }
    // ...but the account has reached its ceiling of eight.
    const fresh = await rejection(service.withPassword(user.email, PASSWORD, newClient()));
    expect(fresh.code).toBe('TOO_MANY_ATTEMPTS');
    const known = await service.withPassword(user.email, PASSWORD, newClient(), knownBrowser);
    expect(await sessions.isActive(known.sessionId, user.id)).toBe(true);
    // A proof for another account does not count.
    const other = await db.createUser({ password: PASSWORD });
    const { knownBrowser: othersProof } = await service.withPassword(
      other.email,
      PASSWORD,
      newClient(),
    );
    expect(
      (await rejection(service.withPassword(user.email, PASSWORD, newClient(), othersProof))).code,
    ).toBe('TOO_MANY_ATTEMPTS');
  });

  it('P10: an unknown e-mail is throttled exactly like an existing account', async () => {
    const unknown = `nobody-${randomBytes(4).toString('hex')}@example.test`;
    const service = signInService();
    const client = newClient();
    for (let i = 0; i < POLICY.freeAttemptsPerAccount; i += 1) {
      await rejection(service.withPassword(unknown, `guess ${i}`, client));
    }
    const throttled = await rejection(service.withPassword(unknown, PASSWORD, client));
    expect(throttled.code).toBe('TOO_MANY_ATTEMPTS');
    expect(throttled.details).toEqual({ retryAfterSeconds: 120 });
  });

  it('P10: a successful sign-in resets the account’s failure count', async () => {
    const user = await db.createUser({ password: PASSWORD });
    const service = signInService();
    const client = newClient();
    for (let i = 0; i < POLICY.freeAttemptsPerAccount - 1; i += 1) {
      await rejection(service.withPassword(user.email, `guess ${i}`, client));
    }
    await service.withPassword(user.email, PASSWORD, client);
    for (let i = 0; i < POLICY.freeAttemptsPerAccount - 1; i += 1) {
      await rejection(service.withPassword(user.email, `guess ${i}`, client));
    }
    // Four failures in all, but at most two since the success: not throttled.
    const session = await service.withPassword(user.email, PASSWORD, client);
    expect(await sessions.isActive(session.sessionId, user.id)).toBe(true);
  });

  it('P10: one network failing on many accounts is throttled for every account', async () => {
    const service = signInService({ ...POLICY, freeAttemptsPerNetwork: 2 });
    const attacker = newClient();
    for (let i = 0; i < 2; i += 1) {
      const victim = await db.createUser({ password: PASSWORD });
      await rejection(service.withPassword(victim.email, 'guess', attacker));
    }
    const next = await db.createUser({ password: PASSWORD });
    expect((await rejection(service.withPassword(next.email, PASSWORD, attacker))).code).toBe(
      'TOO_MANY_ATTEMPTS',
    );
    // The same account from another network is not held back.
    const session = await service.withPassword(next.email, PASSWORD, newClient());
    expect(await sessions.isActive(session.sessionId, next.id)).toBe(true);
  });
});

describe('SignInService: password hash cost', () => {
  it('P12: a sign-in replaces a hash cheaper than the configured cost, and the password still works', async () => {
    const user = await db.createUser({ password: PASSWORD });
    const storedHash = async () =>
      (
        await db.admin.query<{ password_hash: string }>(
          'SELECT password_hash FROM users WHERE id = $1',
          [user.id],
        )
      ).rows[0]!.password_hash;
    const cheap = await storedHash();
    expect(cheap.split('$').slice(0, 4)).toEqual(['scrypt', String(2 ** 14), '8', '1']);

    const dearer = { N: 2 ** 15, r: 8, p: 1 };
    await signInService(POLICY, dearer).withPassword(user.email, PASSWORD, newClient());
    const replaced = await storedHash();
    expect(replaced.split('$').slice(0, 4)).toEqual(['scrypt', String(2 ** 15), '8', '1']);
    // Signed in again at the same cost: the hash is left as it is.
    await signInService(POLICY, dearer).withPassword(user.email, PASSWORD, newClient());
    expect(await storedHash()).toBe(replaced);
    expect(await verifySecret(PASSWORD, replaced)).toBe(true);

    // A rehash only replaces the hash it read: one a reset has set meanwhile stays.
    const users = new UsersRepository(db.pool, db.crypto);
    const reset = await hashSecret('a password chosen by reset', dearer);
    await users.setPassword(user.id, reset);
    await users.replacePasswordHash(user.id, replaced, await hashSecret(PASSWORD, dearer));
    expect(await storedHash()).toBe(reset);
  });
});

describe('SessionService.end', () => {
  async function signedIn(times: number) {
    const user = await db.createUser({ password: PASSWORD });
    const service = signInService();
    const started: IssuedTokens[] = [];
    for (let i = 0; i < times; i += 1) {
      started.push(await service.withPassword(user.email, PASSWORD, newClient()));
    }
    return { userId: user.id, started };
  }

  const reasonOf = async (sessionId: string) =>
    (
      await db.pool.query<{ revoked_reason: string | null }>(
        'SELECT revoked_reason FROM sessions WHERE id = $1',
        [sessionId],
      )
    ).rows[0]?.revoked_reason;

  it('P9: logout ends that session at once, its refresh token included, and no other', async () => {
    const { userId, started } = await signedIn(2);
    const [first, second] = started as [IssuedTokens, IssuedTokens];

    expect(
      await sessionService.end([{ session: { sessionId: first.sessionId, userId } }], 'logout'),
    ).toBe(true);
    expect(await sessions.isActive(first.sessionId, userId)).toBe(false);
    expect(await reasonOf(first.sessionId)).toBe('logout');
    expect(await sessionService.refresh(first.refreshToken, undefined)).toBeNull();

    expect(await sessions.isActive(second.sessionId, userId)).toBe(true);
    const refreshed = await sessionService.refresh(second.refreshToken, undefined);
    expect(refreshed?.sessionId).toBe(second.sessionId);
  });

  it('P9: logout by refresh token ends its session; an unknown or ended one ends nothing', async () => {
    const { userId, started } = await signedIn(1);
    const [only] = started as [IssuedTokens];
    expect(await sessionService.end([{ refreshToken: only.refreshToken }], 'logout')).toBe(true);
    expect(await sessions.isActive(only.sessionId, userId)).toBe(false);
    expect(await sessionService.end([{ refreshToken: only.refreshToken }], 'logout')).toBe(false);
    expect(await sessionService.end([{ refreshToken: 'not-a-token' }], 'logout')).toBe(false);
    const unknown = randomBytes(32).toString('base64url');
    expect(await sessionService.end([{ refreshToken: unknown }], 'logout-all')).toBe(false);
  });

  it('P9: logout-all ends every session of the user, and only that user’s', async () => {
    const { userId, started } = await signedIn(3);
    const bystander = await signedIn(1);
    const [, second] = started as [IssuedTokens, IssuedTokens, IssuedTokens];

    expect(await sessionService.end([{ refreshToken: second.refreshToken }], 'logout-all')).toBe(
      true,
    );
    for (const { sessionId, refreshToken } of started) {
      expect(await sessions.isActive(sessionId, userId)).toBe(false);
      expect(await reasonOf(sessionId)).toBe('logout-all');
      expect(await sessionService.refresh(refreshToken, undefined)).toBeNull();
    }
    expect(await sessions.listActive(userId)).toEqual([]);
    expect(await sessions.isActive(bystander.started[0]!.sessionId, bystander.userId)).toBe(true);
  });

  it('P9: claims naming another user’s session end nothing', async () => {
    const victim = await signedIn(1);
    const other = await signedIn(1);
    const sessionId = victim.started[0]!.sessionId;
    expect(
      await sessionService.end([{ session: { sessionId, userId: other.userId } }], 'logout'),
    ).toBe(false);
    expect(await sessions.isActive(sessionId, victim.userId)).toBe(true);
    expect(await reasonOf(sessionId)).toBeNull();
  });
});
