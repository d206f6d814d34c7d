import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { FakeUsers } from '../../directory/accounts/accounts.fake.js';
import type { NewSecurityEvent } from '../../directory/security/security-events.repository.js';
import { FakeOidcIdentities } from '../../directory/sessions/oidc-identities.fake.js';
import { OidcClient, type IdTokenClaims } from '../../directory/sessions/oidc.service.js';
import type { IssuedTokens } from '../../directory/sessions/session.service.js';
import { FakeOidcLogins } from '../../directory/sessions/sessions.fake.js';
import { accountKeyOf } from '../../directory/sessions/sign-in-throttle.service.js';
import { SignInService } from '../../directory/sessions/sign-in.service.js';
import { PASSWORD_COST } from '../../common/secret-hash.js';

/**
 * What the OpenID Connect callback decides once the provider's ID token is verified (P8), with
 * the provider replaced by one that vouches for whatever `claims` says: the identity
 * (issuer, subject) picks the account, never the e-mail. The protocol itself (state, PKCE,
 * nonce, signatures) is tested against a real provider in test/e2e/oidc.test.ts.
 */
const ISSUER = 'https://idp.example.test';
const ACCOUNT_HASH_KEY = randomBytes(32).toString('base64url');
const CLIENT = { ip: '192.0.2.7', userAgent: 'Firefox on Linux' };

class VouchingProvider extends OidcClient {
  claims: IdTokenClaims = { subject: 'sub-1', email: null, emailVerified: false };

  override authorizationUrl(): Promise<URL> {
    return Promise.resolve(new URL(`${ISSUER}/authorize`));
  }

  override exchangeCode(): Promise<IdTokenClaims> {
    return Promise.resolve(this.claims);
  }
}

function setUp() {
  const users = new FakeUsers();
  const events: NewSecurityEvent[] = [];
  const started: string[] = [];
  const logLines: { msg: string; reason?: string }[] = [];
  const provider = new VouchingProvider({
    id: 'idp',
    issuer: ISSUER,
    clientId: 'telemoat',
    redirectUri: 'https://telemoat.example.test/api/v1/auth/oidc/idp/callback',
  });
  const service = new SignInService({
    users,
    verifyPassword: () => Promise.resolve(false),
    decoyHash: 'unused',
    passwordCost: PASSWORD_COST,
    sessions: {
      start: (input): Promise<IssuedTokens> => {
        started.push(input.userId);
        return Promise.resolve({
          accessToken: 'access',
          expiresIn: 900,
          refreshToken: 'refresh',
          refreshExpiresIn: 3600,
          sessionId: `session-${started.length}`,
        });
      },
    },
    // Its accounts have no password, so linking checks none.
    passwords: {
      attempt: () => Promise.reject(new Error('no passwords here')),
      check: () => Promise.reject(new Error('no passwords here')),
    },
    knownBrowsers: { issue: () => 'known', recognises: () => false },
    securityEvents: {
      record: (event) => {
        events.push(event);
        return Promise.resolve();
      },
    },
    accountHashKey: ACCOUNT_HASH_KEY,
    oidc: {
      providers: new Map([['idp', provider]]),
      logins: new FakeOidcLogins(),
      identities: new FakeOidcIdentities(),
    },
    logger: createLogger({
      name: 'test',
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(JSON.parse(chunk.toString()) as { msg: string; reason?: string });
          done();
        },
      }),
    }),
  });
  const newUser = (email: string) =>
    users.create({ email, displayName: 'Someone', passwordHash: null, verified: true });
  /** A whole attempt: start (a sign-in, or a link for `linkFor`), then the callback. */
  async function attempt(linkFor?: string) {
    const { state } = linkFor
      ? await service.startOidcLink('idp', linkFor, undefined, CLIENT)
      : await service.startOidc('idp');
    return service.finishOidc('idp', { state, cookieState: state, code: 'code' }, CLIENT);
  }
  return { service, provider, events, started, logLines, newUser, attempt };
}

const codeOf = (err: unknown) => (err instanceof AppError ? err.code : String(err));

describe('P8: the OpenID Connect callback signs in by linked identity, not by e-mail', () => {
  it("P8: an unlinked identity vouching for an account's verified e-mail is refused, logged and recorded", async () => {
    const { provider, events, started, logLines, newUser, attempt } = setUp();
    await newUser('victim@example.test');
    provider.claims = { subject: 'stranger', email: 'victim@example.test', emailVerified: true };

    expect(codeOf(await attempt().catch((e: unknown) => e))).toBe('OIDC_FAILED');
    expect(started).toEqual([]);
    expect(events).toEqual([
      {
        type: 'oidc_failed',
        accountKey: accountKeyOf('victim@example.test', ACCOUNT_HASH_KEY),
        ip: CLIENT.ip,
      },
    ]);
    expect(logLines.find((l) => l.msg === 'OIDC callback refused')?.reason).toMatch(
      /linked to no account.*password.*Settings/,
    );
  });

  it('P8: a link attempt links the identity to the user who started it, which then signs that user in', async () => {
    const { service, provider, started, newUser, attempt } = setUp();
    const userId = await newUser('owner@example.test');
    provider.claims = { subject: 'owner-at-idp', email: null, emailVerified: false };

    expect(await attempt(userId)).toEqual({ kind: 'linked' });
    expect(started).toEqual([]);
    expect((await service.linkedProviders(userId))[0]?.linkedAt).toBeInstanceOf(Date);

    provider.claims = { subject: 'owner-at-idp', email: 'other@example.test', emailVerified: true };
    expect(await attempt()).toMatchObject({
      kind: 'signed-in',
      tokens: { sessionId: 'session-1' },
    });
    expect(started).toEqual([userId]);
  });

  it('P8: linking an identity that is linked to another account answers CONFLICT and changes nothing', async () => {
    const { provider, events, started, newUser, attempt } = setUp();
    const [first, second] = [await newUser('a@example.test'), await newUser('b@example.test')];
    provider.claims = { subject: 'shared-at-idp', email: null, emailVerified: false };
    await attempt(first);

    expect(codeOf(await attempt(second).catch((e: unknown) => e))).toBe('CONFLICT');
    expect(events).toMatchObject([{ type: 'oidc_failed' }]);
    await attempt();
    expect(started).toEqual([first]);
  });

  it('P8: after unlinking, the identity signs nobody in', async () => {
    const { service, provider, newUser, attempt } = setUp();
    const userId = await newUser('leaver@example.test');
    provider.claims = { subject: 'leaver-at-idp', email: null, emailVerified: false };
    await attempt(userId);
    await service.unlinkOidc('idp', userId);

    expect(codeOf(await attempt().catch((e: unknown) => e))).toBe('OIDC_FAILED');
    expect(codeOf(await service.unlinkOidc('idp', userId).catch((e: unknown) => e))).toBe(
      'NOT_FOUND',
    );
  });
});
