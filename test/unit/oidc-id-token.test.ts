import { createPublicKey } from 'node:crypto';
import {
  createLocalJWKSet,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  newAuthorizationSecrets,
  OidcError,
  parseOidcProviders,
  verifyIdToken,
} from '../../directory/sessions/oidc.service.js';

const issuer = 'https://id.example.test';
const clientId = 'telemoat';
const nonce = 'n-0S6_WzA2Mj';

describe('P8: ID tokens are verified against the provider, and anything else is refused', () => {
  let rsa: { privateKey: CryptoKey; jwk: JWK; spki: string };
  let ec: { privateKey: CryptoKey; jwk: JWK };
  let ed: { privateKey: CryptoKey; jwk: JWK };
  let keys: ReturnType<typeof createLocalJWKSet>;

  async function keyPair(alg: string, kid: string) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg }, publicKey };
  }

  beforeAll(async () => {
    const r = await keyPair('RS256', 'rsa-1');
    rsa = { ...r, spki: await exportSPKI(r.publicKey) };
    ec = await keyPair('ES256', 'ec-1');
    ed = await keyPair('EdDSA', 'ed-1');
    keys = createLocalJWKSet({ keys: [rsa.jwk, ec.jwk, ed.jwk] });
  });

  const claims = (extra: JWTPayload = {}): JWTPayload => ({
    sub: 'user-123',
    nonce,
    email: 'ada@example.test',
    email_verified: true,
    ...extra,
  });

  function sign(
    payload: JWTPayload,
    options: {
      key?: { privateKey: CryptoKey; jwk: JWK };
      iss?: string;
      aud?: string | string[];
      exp?: number | null;
    } = {},
  ) {
    const key = options.key ?? rsa;
    const jwt = new SignJWT(payload)
      .setProtectedHeader({ alg: key.jwk.alg!, kid: key.jwk.kid! })
      .setIssuer(options.iss ?? issuer)
      .setAudience(options.aud ?? clientId)
      .setIssuedAt();
    if (options.exp !== null) jwt.setExpirationTime(options.exp ?? '5m');
    return jwt.sign(key.privateKey);
  }

  const verify = (token: string) => verifyIdToken(token, { keys, issuer, clientId, nonce });

  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = () => Math.floor(Date.now() / 1000);

  it.each([
    ['RS256', () => rsa],
    ['ES256', () => ec],
    ['EdDSA', () => ed],
  ])('P8: accepts a well-formed %s ID token and reads the verified e-mail', async (_alg, key) => {
    await expect(verify(await sign(claims(), { key: key() }))).resolves.toEqual({
      subject: 'user-123',
      email: 'ada@example.test',
      emailVerified: true,
    });
  });

  it('P8: refuses an ID token from another issuer', async () => {
    const token = await sign(claims(), { iss: 'https://evil.example.test' });
    await expect(verify(token)).rejects.toThrow(/ERR_JWT_CLAIM_VALIDATION_FAILED/);
  });

  it('P8: refuses an ID token for another audience', async () => {
    await expect(verify(await sign(claims(), { aud: 'someone-else' }))).rejects.toThrow(OidcError);
  });

  it('P8: refuses an expired ID token', async () => {
    const token = await sign(claims({ iat: now() - 7200 }), { exp: now() - 3600 });
    await expect(verify(token)).rejects.toThrow(/ERR_JWT_EXPIRED/);
  });

  it('P8: refuses an ID token without exp', async () => {
    await expect(verify(await sign(claims(), { exp: null }))).rejects.toThrow(
      /ERR_JWT_CLAIM_VALIDATION_FAILED/,
    );
  });

  it('P8: refuses an unsigned ID token (alg: none)', async () => {
    const payload = { ...claims(), iss: issuer, aud: clientId, iat: now(), exp: now() + 300 };
    for (const token of [
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`,
      `${b64({ alg: 'none', kid: 'rsa-1' })}.${b64(payload)}.`,
      `${b64({ alg: 'NONE', kid: 'rsa-1' })}.${b64(payload)}.`,
    ]) {
      await expect(verify(token)).rejects.toThrow(OidcError);
    }
  });

  it("P8: refuses an ID token HMAC-signed with the provider's public key as the secret", async () => {
    const payload = claims();
    const secrets = [
      new TextEncoder().encode(rsa.spki),
      createPublicKey(rsa.spki).export({ format: 'der', type: 'spki' }),
      new TextEncoder().encode(JSON.stringify(rsa.jwk)),
    ];
    for (const secret of secrets) {
      for (const alg of ['HS256', 'HS512']) {
        const token = await new SignJWT(payload)
          .setProtectedHeader({ alg, kid: 'rsa-1' })
          .setIssuer(issuer)
          .setAudience(clientId)
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(secret);
        await expect(verify(token)).rejects.toThrow(/ERR_JOSE_ALG_NOT_ALLOWED/);
      }
    }
  });

  it('P8: refuses an ID token signed by a key the provider does not publish', async () => {
    const stranger = await keyPair('RS256', 'rsa-1');
    await expect(verify(await sign(claims(), { key: stranger }))).rejects.toThrow(OidcError);
  });

  it('P8: refuses a wrong or missing nonce (replayed or injected token)', async () => {
    await expect(verify(await sign(claims({ nonce: 'another' })))).rejects.toThrow(/nonce/);
    const withoutNonce = claims();
    delete withoutNonce.nonce;
    await expect(verify(await sign(withoutNonce))).rejects.toThrow(OidcError);
  });

  it('P8: with several audiences, refuses a token whose azp is not this client', async () => {
    const aud = [clientId, 'other-app'];
    await expect(verify(await sign(claims(), { aud }))).rejects.toThrow(/azp/);
    await expect(verify(await sign(claims({ azp: clientId }), { aud }))).resolves.toMatchObject({
      subject: 'user-123',
    });
  });

  it('P8: treats anything but email_verified === true as unverified', async () => {
    for (const value of ['true', 1, null, undefined]) {
      const result = await verify(await sign(claims({ email_verified: value })));
      expect(result.emailVerified).toBe(false);
    }
  });

  it('P8: makes a fresh state, nonce and S256 PKCE challenge for each attempt', () => {
    const a = newAuthorizationSecrets();
    const b = newAuthorizationSecrets();
    for (const value of [a.state, a.nonce, a.codeVerifier]) expect(value).toMatch(/^[\w-]{43}$/);
    expect(new Set([a.state, a.nonce, a.codeVerifier, b.state, b.nonce, b.codeVerifier]).size).toBe(
      6,
    );
    expect(a.codeChallenge).not.toBe(a.codeVerifier);
  });

  it('reads OIDC_PROVIDERS and names what is wrong', () => {
    expect(parseOidcProviders('[]')).toEqual([]);
    const provider = {
      id: 'corp',
      issuer,
      clientId,
      clientSecret: 's3cret',
      redirectUri: 'https://telemoat.example.test/api/v1/auth/oidc/corp/callback',
    };
    expect(parseOidcProviders(JSON.stringify([provider]))).toEqual([provider]);
    expect(() => parseOidcProviders('{')).toThrow(/JSON array/);
    expect(() => parseOidcProviders(JSON.stringify([provider, provider]))).toThrow(/unique/);
    expect(() => parseOidcProviders(JSON.stringify([{ ...provider, issuer: 'x' }]))).toThrow(
      /issuer/,
    );
    try {
      parseOidcProviders(JSON.stringify([{ ...provider, clientId: 7 }]));
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cret');
    }
  });
});
