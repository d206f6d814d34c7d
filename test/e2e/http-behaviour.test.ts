import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

/** What any HTTP client or browser can expect of every answer: see api/middleware/. */
describe('HTTP behaviour: security headers, no CORS, compression, caching, health', () => {
  let platform: TestPlatform;
  let token: string;
  const fetchApi = (path: string, init: RequestInit = {}) =>
    fetch(`${platform.apiUrl}${path}`, init);

  beforeAll(async () => {
    platform = await startTestPlatform();
    const org = await platform.createOrg('Headers Farm');
    const member = await platform.createMember(org.id, 'member');
    token = await platform.login(member.email, member.password);
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('sends helmet-style security headers on API answers and dashboard pages', async () => {
    for (const path of ['/api/v1/me', '/', '/api/nothing-here']) {
      const response = await fetchApi(path);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('x-powered-by')).toBeNull();
      // PUBLIC_URL is plain http in tests: no HSTS that would pin browsers to https.
      expect(response.headers.get('strict-transport-security')).toBeNull();
    }
  });

  it('approves no cross-origin request: no Access-Control-Allow-* on answers or preflights', async () => {
    const origin = 'https://evil.example';
    const answers = [
      await fetchApi('/api/v1/me', { headers: { origin, authorization: `Bearer ${token}` } }),
      await fetchApi('/api/v1/me', {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      }),
      await fetchApi('/api/v1/auth/login', {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      }),
    ];
    expect(answers[0]!.status).toBe(200);
    for (const response of answers) {
      const cors = [...response.headers.keys()].filter((name) =>
        name.startsWith('access-control-'),
      );
      expect(cors).toEqual([]);
    }
  });

  it('compresses JSON and HTML answers', async () => {
    const json = await fetchApi('/api/openapi.json', { headers: { 'accept-encoding': 'gzip' } });
    expect(json.headers.get('content-encoding')).toBe('gzip');
    expect(await json.json()).toHaveProperty('openapi');
    const html = await fetchApi('/', { headers: { 'accept-encoding': 'gzip' } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    // Below compression's 1 KiB threshold a body is sent as it is; either way it is readable.
    expect(await html.text()).toContain('<html');
  });

  it('marks API answers no-store and gives GET answers an ETag that If-None-Match turns into 304', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const first = await fetchApi('/api/v1/me', { headers });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/".+"$/);
    // fetch adds `Cache-Control: no-cache` to conditional requests unless one is given, and
    // no-cache forbids a 304; a cache revalidating its copy sends max-age=0.
    const revalidate = { ...headers, 'cache-control': 'max-age=0' };
    const again = await fetchApi('/api/v1/me', {
      headers: { ...revalidate, 'if-none-match': etag! },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const stale = await fetchApi('/api/v1/me', {
      headers: { ...revalidate, 'if-none-match': 'W/"something-else"' },
    });
    expect(stale.status).toBe(200);
    // Errors and sign-in answers are not stored either.
    expect((await fetchApi('/api/v1/me')).headers.get('cache-control')).toBe('no-store');
  });

  it('lets browsers keep the dashboard assets, but revalidate its page and client routes', async () => {
    const page = await fetchApi('/');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    // The built page names its script by content hash (npm run build).
    const src = /<script[^>]+src="([^"]+\.js)"/.exec(await page.text())?.[1];
    expect(src).toMatch(/^\/assets\//);
    const script = await fetchApi(src!);
    expect(script.status).toBe(200);
    expect(script.headers.get('cache-control')).toMatch(/max-age=86400/);
    // Client-side routes answer the same page, so e-mailed links and reloads work.
    const route = await fetchApi('/verify-email', { headers: { accept: 'text/html' } });
    expect(route.status).toBe(200);
    expect(route.headers.get('content-type')).toMatch(/^text\/html/);
    expect(route.headers.get('cache-control')).toBe('no-cache');
    expect((await fetchApi('/api/v1/nothing-here')).status).toBe(404);
  });

  it('answers /healthz always and /readyz when Postgres and InfluxDB answer', async () => {
    expect(await platform.get('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await platform.get('/readyz')).toEqual({
      status: 200,
      body: { status: 'ready', stores: { postgres: 'up', influxdb: 'up' } },
    });
  });

  it('gives every answer a request id, and takes a well-formed one from the client', async () => {
    const own = await fetchApi('/api/v1/me');
    expect(own.headers.get('x-request-id')).toMatch(/^[\w-]{8,64}$/);
    const given = await fetchApi('/api/v1/me', { headers: { 'x-request-id': 'trace-12345678' } });
    expect(given.headers.get('x-request-id')).toBe('trace-12345678');
  });
});

describe('rate limits per client address and per user', () => {
  let platform: TestPlatform;
  let alice: { email: string; password: string };
  let bob: { email: string; password: string };

  beforeAll(async () => {
    platform = await startTestPlatform({
      RATE_LIMIT_PER_IP_PER_MINUTE: '40',
      RATE_LIMIT_PER_USER_PER_MINUTE: '5',
    });
    const org = await platform.createOrg('Busy Farm');
    alice = await platform.createMember(org.id, 'member');
    bob = await platform.createMember(org.id, 'member');
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('limits a signed-in user to their allowance, with Retry-After and RateLimit-* headers', async () => {
    const aliceToken = await platform.login(alice.email, alice.password);
    const me = () =>
      fetch(`${platform.apiUrl}/api/v1/me`, { headers: { authorization: `Bearer ${aliceToken}` } });
    for (let i = 0; i < 5; i++) {
      const response = await me();
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit-limit')).toBeTruthy();
    }
    const limited = await me();
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get('ratelimit-limit')).toBe('5');
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('ratelimit-reset'))).toBeGreaterThan(0);

    // Bob, from the same address, has his own allowance.
    const bobToken = await platform.login(bob.email, bob.password);
    expect((await platform.get('/api/v1/me', bobToken)).status).toBe(200);
    // A forged token spends nobody's allowance: it is refused before any bucket is charged.
    expect((await platform.get('/api/v1/me', 'a.b.c')).status).toBe(401);
  });

  it('limits one client address across all routes, but never the health probes', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 60; i++) {
      last = await fetch(`${platform.apiUrl}/api/v1/auth/privacy-terms`);
      if (last.status === 429) break;
    }
    expect(last?.status).toBe(429);
    expect(await last!.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(last!.headers.get('ratelimit-limit')).toBe('40');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${platform.apiUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${platform.apiUrl}/readyz`)).status).toBe(200);
  });
});
