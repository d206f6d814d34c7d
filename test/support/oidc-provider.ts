import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { closeServer, listen } from '../../common/listen.js';
import { freePort } from '../../servers/free-port.js';
import { startTestPlatform, type TestPlatform } from './platform.js';

/** The person the test identity provider signs in, whoever asks; tests change it at will. */
export interface TestAccount {
  sub: string;
  email: string;
  emailVerified: boolean;
}

export interface TestOpenIdProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  account: TestAccount;
  close(): Promise<void>;
}

/**
 * A real OpenID Provider (the `oidc-provider` package) on 127.0.0.1 for the tests. It knows one
 * confidential client, requires PKCE, signs ID tokens with an ES256 key of its own, and its
 * login interaction signs in `account` at once, without a page: the tests drive the redirects
 * with fetch. Consent is implied for the client (`loadExistingGrant`), as for a first-party app.
 */
export async function startTestOpenIdProvider(options: {
  port: number;
  redirectUri: string;
  account: TestAccount;
}): Promise<TestOpenIdProvider> {
  const issuer = `http://127.0.0.1:${options.port}`;
  const clientId = 'telemoat-test';
  const clientSecret = 'test-client-secret-0123456789abcdef';
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: 'test-es256',
    alg: 'ES256',
    use: 'sig',
  };
  const account = { ...options.account };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // Put the e-mail claims into the ID token itself, as common providers do.
    conformIdTokenClaims: false,
    pkce: { required: () => true, methods: ['S256'] },
    ttl: { Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, IdToken: 600 },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx: KoaContextWithOIDC, sub: string) => ({
      accountId: sub,
      claims: () => ({ sub, email: account.email, email_verified: account.emailVerified }),
    }),
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const accountId = ctx.oidc.session?.accountId;
      const clientId = ctx.oidc.client?.clientId;
      if (!accountId || !clientId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ accountId, clientId });
      grant.addOIDCScope('openid email');
      await grant.save();
      return grant;
    },
  });
  // Quiet: a refused request in a test is expected, not news.
  provider.on('server_error', () => {});

  const callback = provider.callback();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/interaction/')) {
      provider
        .interactionFinished(
          req,
          res,
          { login: { accountId: account.sub } },
          { mergeWithLastSubmission: false },
        )
        .catch((err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        });
      return;
    }
    void callback(req, res);
  });
  await listen(server, options.port, '127.0.0.1');

  return {
    issuer,
    clientId,
    clientSecret,
    account,
    async close() {
      const closed = closeServer(server);
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * The platform with one provider, `providerId`, configured against a test provider. The
 * provider must know the API's callback before either starts, so both ports are chosen first.
 */
export async function startPlatformWithProvider(
  providerId: string,
  account: TestAccount,
): Promise<{ platform: TestPlatform; idp: TestOpenIdProvider; callbackUrl: string }> {
  const [apiPort, idpPort] = [await freePort(), await freePort()];
  const callbackUrl = `http://127.0.0.1:${apiPort}/api/v1/auth/oidc/${providerId}/callback`;
  const idp = await startTestOpenIdProvider({ port: idpPort, redirectUri: callbackUrl, account });
  const platform = await startTestPlatform({
    API_PORT: String(apiPort),
    OIDC_PROVIDERS: JSON.stringify([
      {
        id: providerId,
        name: 'Test Identity',
        issuer: idp.issuer,
        clientId: idp.clientId,
        clientSecret: idp.clientSecret,
        redirectUri: callbackUrl,
      },
    ]),
  }).catch(async (err: unknown) => {
    await idp.close();
    throw err;
  });
  return { platform, idp, callbackUrl };
}
