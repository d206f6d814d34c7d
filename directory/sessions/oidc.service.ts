import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';

/**
 * Sign-in through the user's own identity provider (P8): OpenID Connect's authorization code
 * flow with PKCE (S256), state and nonce, and ID tokens verified against the provider's keys.
 */

/** Asymmetric algorithms only: never `none`, never HMAC (whose "secret" could be a public key). */
export const ID_TOKEN_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;

/** Leeway for clocks that disagree a little, in seconds. */
const CLOCK_TOLERANCE_S = 30;
const FETCH_TIMEOUT_MS = 10_000;

export const oidcProviderSchema = z.strictObject({
  /** Names the provider in the routes: /api/v1/auth/oidc/{id}/start. */
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'must match ^[a-z0-9][a-z0-9-]{0,31}$'),
  issuer: z
    .url()
    .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be http(s)'),
  /** Shown on the sign-in page: "Sign in with {name}". */
  name: z.string().min(1).max(64).optional(),
  clientId: z.string().min(1).max(255),
  /** Absent for a public client, which then relies on PKCE alone. */
  clientSecret: z.string().min(1).max(1024).optional(),
  /** This API's callback, registered with the provider: …/api/v1/auth/oidc/{id}/callback. */
  redirectUri: z.url(),
});

export type OidcProviderConfig = z.output<typeof oidcProviderSchema>;

export const oidcProvidersSchema = z
  .array(oidcProviderSchema)
  .refine((list) => new Set(list.map((p) => p.id)).size === list.length, 'ids must be unique');

/** Parses the `OIDC_PROVIDERS` setting: a JSON array of providers. */
export function parseOidcProviders(json: string): OidcProviderConfig[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('must be a JSON array');
  }
  const result = oidcProvidersSchema.safeParse(value);
  if (!result.success) {
    throw new Error(
      result.error.issues.map((i) => `${i.path.join('.') || '(list)'}: ${i.message}`).join('; '),
    );
  }
  return result.data;
}

/** Why an OpenID Connect sign-in failed; logged, never shown beyond its generic code. */
export class OidcError extends Error {
  override name = 'OidcError';
}

const discoverySchema = z.looseObject({
  issuer: z.string(),
  authorization_endpoint: z.url(),
  token_endpoint: z.url(),
  jwks_uri: z.url(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  code_challenge_methods_supported: z.array(z.string()).optional(),
});
type Discovery = z.output<typeof discoverySchema>;

const tokenResponseSchema = z.looseObject({
  id_token: z.string().min(1),
  token_type: z.string().optional(),
});

export interface IdTokenClaims {
  subject: string;
  email: string | null;
  /** True only when the provider says exactly `email_verified: true`. */
  emailVerified: boolean;
}

export interface VerifyIdTokenOptions {
  keys: JWTVerifyGetKey;
  issuer: string;
  clientId: string;
  nonce: string;
  /** For tests: the time to verify at. */
  currentDate?: Date;
}

/**
 * Verifies an ID token: signature by one of the provider's keys with an allowed algorithm,
 * `iss`, `aud` (and `azp` when there are several audiences), `exp`, `iat`, `sub` and `nonce`.
 */
export async function verifyIdToken(
  idToken: string,
  options: VerifyIdTokenOptions,
): Promise<IdTokenClaims> {
  let payload;
  try {
    ({ payload } = await jwtVerify(idToken, options.keys, {
      algorithms: [...ID_TOKEN_ALGORITHMS],
      issuer: options.issuer,
      audience: options.clientId,
      requiredClaims: ['exp', 'iat', 'sub', 'nonce'],
      clockTolerance: CLOCK_TOLERANCE_S,
      ...(options.currentDate ? { currentDate: options.currentDate } : {}),
    }));
  } catch (err) {
    const reason = err instanceof errors.JOSEError ? err.code : 'unreadable';
    throw new OidcError(`ID token refused: ${reason}`, { cause: err });
  }
  if (payload.nonce !== options.nonce) throw new OidcError('ID token refused: nonce mismatch');
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== options.clientId) {
    throw new OidcError('ID token refused: azp is not this client');
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') {
    throw new OidcError('ID token refused: no subject');
  }
  const email = typeof payload.email === 'string' ? payload.email : null;
  return { subject: payload.sub, email, emailVerified: payload.email_verified === true };
}

/** The three values one authorization request needs, and the PKCE challenge of the verifier. */
export function newAuthorizationSecrets() {
  const codeVerifier = randomBytes(32).toString('base64url');
  return {
    state: randomBytes(32).toString('base64url'),
    nonce: randomBytes(32).toString('base64url'),
    codeVerifier,
    codeChallenge: createHash('sha256').update(codeVerifier).digest('base64url'),
  };
}

/** One configured provider: discovery (cached), the authorization URL, the code exchange. */
export class OidcClient {
  private discovery: Promise<{ metadata: Discovery; keys: JWTVerifyGetKey }> | undefined;

  constructor(readonly config: OidcProviderConfig) {}

  /** The provider's metadata, fetched once; a failed fetch is tried again next time. */
  private async metadata() {
    this.discovery ??= this.discover().catch((err: unknown) => {
      this.discovery = undefined;
      throw err;
    });
    return this.discovery;
  }

  private async discover() {
    const url = `${this.config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!response.ok) throw new OidcError(`discovery answered ${response.status}`);
    const metadata = discoverySchema.parse(await response.json());
    if (metadata.issuer !== this.config.issuer) {
      throw new OidcError(`discovery names issuer ${metadata.issuer}, not ${this.config.issuer}`);
    }
    const secure = new URL(this.config.issuer).protocol === 'https:';
    for (const endpoint of [
      metadata.authorization_endpoint,
      metadata.token_endpoint,
      metadata.jwks_uri,
    ]) {
      if (secure && new URL(endpoint).protocol !== 'https:') {
        throw new OidcError(`an https issuer published a plain http endpoint: ${endpoint}`);
      }
    }
    if (
      metadata.code_challenge_methods_supported &&
      !metadata.code_challenge_methods_supported.includes('S256')
    ) {
      throw new OidcError('the provider does not support PKCE with S256');
    }
    return { metadata, keys: createRemoteJWKSet(new URL(metadata.jwks_uri)) };
  }

  async authorizationUrl(input: { state: string; nonce: string; codeChallenge: string }) {
    const { metadata } = await this.metadata();
    const url = new URL(metadata.authorization_endpoint);
    const params = {
      response_type: 'code',
      client_id: this.config.clientId,
      redirect_uri: this.config.redirectUri,
      scope: 'openid email',
      state: input.state,
      nonce: input.nonce,
      code_challenge: input.codeChallenge,
      code_challenge_method: 'S256',
    };
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url;
  }

  /** Exchanges the authorization code for tokens and returns the verified ID token's claims. */
  async exchangeCode(code: string, codeVerifier: string, nonce: string): Promise<IdTokenClaims> {
    const { metadata, keys } = await this.metadata();
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.config.redirectUri,
      code_verifier: codeVerifier,
    });
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    const { clientId, clientSecret } = this.config;
    const methods = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    if (clientSecret !== undefined && methods.includes('client_secret_basic')) {
      // RFC 6749 §2.3.1: each part is form-encoded before the Basic encoding.
      const pair = `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    } else {
      body.set('client_id', clientId);
      if (clientSecret !== undefined) body.set('client_secret', clientSecret);
    }
    const response = await fetch(metadata.token_endpoint, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (!response.ok) throw new OidcError(`token endpoint answered ${response.status}`);
    const tokens = tokenResponseSchema.safeParse(await response.json());
    if (!tokens.success) throw new OidcError('token response without an ID token');
    return verifyIdToken(tokens.data.id_token, {
      keys,
      issuer: metadata.issuer,
      clientId,
      nonce,
    });
  }
}
