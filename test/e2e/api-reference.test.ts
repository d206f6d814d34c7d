import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml, renderDocsPage, type OpenApiDocument } from '../../api/http/docs.page.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

interface Operation {
  operationId: string;
  summary: string;
  tags: string[];
  'x-telemoat-access': { kind: string };
  responses: Record<string, unknown>;
}

describe('the API contract: /api/openapi.json and /api/docs', () => {
  let platform: TestPlatform;
  let document: OpenApiDocument & {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
  };
  let operations: { method: string; path: string; op: Operation }[];

  beforeAll(async () => {
    platform = await startTestPlatform();
    const { status, body } = await platform.get('/api/openapi.json');
    expect(status).toBe(200);
    document = body as typeof document;
    operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ method, path, op })),
    );
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const { body } = await platform.get('/api/openapi.json');
    const result = await validator.validate(body as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // The validator does refuse a broken document.
    const broken = { ...(body as Record<string, unknown>), info: { title: 'no version' } };
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('covers the routes, each with a unique operationId, a tag, a summary, its access and errors', () => {
    expect(operations.length).toBeGreaterThanOrEqual(24);
    const ids = operations.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const tags = new Set(document.tags.map((t) => t.name));
    for (const { method, path, op } of operations) {
      const where = `${method} ${path}`;
      expect(op.summary, where).toMatch(/\w/);
      expect(op.tags.length, where).toBe(1);
      expect(tags.has(op.tags[0]!), where).toBe(true);
      expect(['public', 'user', 'org', 'platform'], where).toContain(op['x-telemoat-access'].kind);
      expect(Object.keys(op.responses), where).toContain('500');
      if (op['x-telemoat-access'].kind !== 'public') {
        expect(Object.keys(op.responses), where).toContain('401');
      }
    }
    for (const path of [
      '/api/v1/auth/login',
      '/api/v1/auth/oidc/{provider}/callback',
      '/api/v1/me',
      '/api/v1/me/sessions/{id}',
      '/api/v1/security/events',
      '/api/v1/orgs/{orgId}/invitations',
      '/api/v1/invitations/accept',
    ]) {
      expect(Object.keys(document.paths)).toContain(path);
    }
  });

  it('serves a self-contained HTML reference that lists every operation', async () => {
    const response = await fetch(`${platform.apiUrl}/api/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    // Its one inline stylesheet is allowed by hash; nothing else may load.
    expect(response.headers.get('content-security-policy')).toMatch(
      /^default-src 'none'; style-src 'sha256-[\w+/=]+'/,
    );
    const html = await response.text();
    // Nothing to fetch from elsewhere: no scripts, no external links or resources.
    expect(html).not.toMatch(/<script|<link|<iframe|<img/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
    for (const { method, path, op } of operations) {
      expect(html).toContain(`<section class="operation" id="${op.operationId}">`);
      expect(html).toContain(`href="#${op.operationId}"`);
      expect(html).toContain(
        `<span class="method">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code>`,
      );
      expect(html).toContain(escapeHtml(op.summary));
    }
    expect(html).toContain('<td><code>NOT_FOUND</code></td><td>404</td>');
    expect(html).toContain('href="#error-FORBIDDEN"');
    expect(html).toContain('indistinguishable on purpose');
  });

  it('escapes everything it renders', () => {
    const hostile = '<script>alert("x")</script>';
    const html = renderDocsPage({
      info: { title: hostile, version: '1' },
      tags: [{ name: 'x', description: hostile }],
      paths: {
        [`/api/v1/${hostile}`]: {
          get: {
            summary: hostile,
            operationId: hostile,
            tags: ['x'],
            'x-telemoat-access': { kind: 'public' },
            parameters: [
              { name: hostile, in: 'query', required: false, schema: { enum: [hostile] } },
            ],
            responses: { '200': { description: hostile } },
          },
        },
      },
    });
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
  });
});
